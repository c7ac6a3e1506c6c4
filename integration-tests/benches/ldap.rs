//! The LDAP address book beside slapd (issue #19): substring search latency
//! on a GAL of ENTRIES users (default 200,000) under CLIENTS concurrent
//! clients (default 20), each on its own connection sending Thunderbird's
//! autocomplete filter `(|(cn=*T*)(mail=*T*)(sn=*T*)(givenName=*T*))` for a
//! rotation of terms, one search after another.
//!
//! * ours: a release ds-requestor whose store holds the users (seed users
//!   of its first start), serving `[ldap]`;
//! * slapd (Debian's package): the same users in an mdb database loaded by
//!   slapadd from a generated slapd.conf, with the eq,sub indexes an address
//!   book's administrator would give cn, sn, givenName and mail; both have
//!   a size limit of 500. Without /usr/sbin/slapd it is skipped with a note.
//!
//! The servers take turns, ROUNDS times (default 5), in alternating order;
//! prints p50/p99/max per server and the ratio of the p99s (target: ours no
//! worse than slapd's).
//!
//! `cargo bench -p integration-tests --bench ldap -- 200000 20 5`

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use integration_tests::dirsync::start_requestor_with;
use integration_tests::test_dir;
use ldap3_proto::LdapCodec;
use ldap3_proto::proto::{LdapDerefAliases, LdapMsg, LdapOp, LdapSearchRequest, LdapSearchScope};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

const FIRST: [&str; 16] = [
    "John", "Joanna", "Mary", "Ann", "Peter", "Maria", "Lee", "Ahmed", "Sofia", "Jorge", "Chen",
    "Olga", "Marek", "Ines", "Tomas", "Yuki",
];
const LAST: [&str; 16] = [
    "Smith",
    "Jones",
    "Martin",
    "Lopez",
    "Nguyen",
    "Kowalski",
    "Brown",
    "Jovanovic",
    "Garcia",
    "Lee",
    "Andersen",
    "Rossi",
    "Dubois",
    "Mueller",
    "Tanaka",
    "Silva",
];
/// What users type: common two-letter starts, longer name parts, a
/// mailbox number, and terms that match nothing.
const TERMS: [&str; 8] = ["jo", "smi", "ann", "u01234", "ez", "kowal", "u19999", "qqq"];
const PER_CLIENT_PER_ROUND: usize = 10;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .filter_map(|a| a.parse().ok())
        .collect();
    let entries = args.first().copied().unwrap_or(200_000);
    let clients = args.get(1).copied().unwrap_or(20);
    let rounds = args.get(2).copied().unwrap_or(5);
    let dir = test_dir("bench-ldap");
    let users: Vec<(String, String)> = (0..entries)
        .map(|i| {
            let display = format!(
                "{} {}",
                FIRST[i % FIRST.len()],
                LAST[(i / FIRST.len()) % LAST.len()]
            );
            (format!("U{i:06}"), display)
        })
        .collect();

    let mut extra = String::from("\n[ldap]\nlisten = \"127.0.0.1:0\"\nconnections = 256\n");
    for (mailbox, display) in &users {
        extra.push_str(&format!(
            "\n[[seed_users]]\nmailbox = \"{mailbox}\"\ndisplay_name = \"{display}\"\n"
        ));
    }
    let started = Instant::now();
    // The server is never reached: the book serves the store as it is.
    let nowhere: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let ours = start_requestor_with(dir.path(), "POA", &[("H", nowhere)], 3_600_000, &extra);
    let ours_addr = ours.process.endpoint("ldap");
    println!(
        "LDAP substring search, {entries} entries, {clients} clients, {rounds} rounds of {} searches each",
        clients * PER_CLIENT_PER_ROUND
    );
    println!(
        "  ds-requestor ready with the GAL in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let slapd = start_slapd(dir.path(), &users);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (mut ours_lat, mut slapd_lat) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let turn = |addr: SocketAddr, into: &mut Vec<Duration>| {
            into.extend(runtime.block_on(load(addr, clients)));
        };
        if round % 2 == 0 {
            turn(ours_addr, &mut ours_lat);
            if let Some((_, addr)) = &slapd {
                turn(*addr, &mut slapd_lat);
            }
        } else {
            if let Some((_, addr)) = &slapd {
                turn(*addr, &mut slapd_lat);
            }
            turn(ours_addr, &mut ours_lat);
        }
    }
    let ours_p99 = report("ds-requestor", &mut ours_lat);
    match slapd {
        Some((mut child, _)) => {
            let slapd_p99 = report("slapd", &mut slapd_lat);
            println!(
                "  p99 ratio ds-requestor / slapd: {:.2} (target <= 1)",
                ours_p99.as_secs_f64() / slapd_p99.as_secs_f64().max(1e-9)
            );
            let _ = child.kill();
            let _ = child.wait();
        }
        None => println!("  slapd: not installed (apt-get install slapd): no comparison"),
    }
}

fn report(name: &str, lat: &mut [Duration]) -> Duration {
    lat.sort();
    let at = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  {name:<13} {} searches: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lat.len(),
        ms(at(0.5)),
        ms(at(0.99)),
        ms(at(1.0))
    );
    at(0.99)
}

/// `clients` connections, each sending its searches one after another.
async fn load(addr: SocketAddr, clients: usize) -> Vec<Duration> {
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            tokio::spawn(async move {
                let tcp = TcpStream::connect(addr).await.expect("connect");
                let mut conn = Framed::new(tcp, LdapCodec::new(Some(64 * 1024 * 1024)));
                let mut lat = Vec::new();
                for q in 0..PER_CLIENT_PER_ROUND {
                    let term = TERMS[(c + q) % TERMS.len()];
                    let filter =
                        format!("(|(cn=*{term}*)(mail=*{term}*)(sn=*{term}*)(givenName=*{term}*))");
                    let msgid = q as i32 + 1;
                    let request = LdapMsg {
                        msgid,
                        op: LdapOp::SearchRequest(LdapSearchRequest {
                            base: "o=ACME".into(),
                            scope: LdapSearchScope::Subtree,
                            aliases: LdapDerefAliases::Never,
                            sizelimit: 0,
                            timelimit: 0,
                            typesonly: false,
                            filter: ldap3_proto::parse_ldap_filter_str(&filter).expect("filter"),
                            attrs: vec!["cn".into(), "mail".into()],
                        }),
                        ctrl: vec![],
                    };
                    let start = Instant::now();
                    conn.send(request).await.expect("send");
                    loop {
                        let reply = tokio::time::timeout(Duration::from_secs(120), conn.next())
                            .await
                            .expect("an answer within 2 minutes")
                            .expect("connection open")
                            .expect("a message");
                        if matches!(reply.op, LdapOp::SearchResultDone(_)) {
                            break;
                        }
                    }
                    lat.push(start.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client task"));
    }
    all
}

/// slapd with the same users, or None when it is not installed.
fn start_slapd(dir: &Path, users: &[(String, String)]) -> Option<(Child, SocketAddr)> {
    if !Path::new("/usr/sbin/slapd").exists() || !Path::new("/usr/sbin/slapadd").exists() {
        return None;
    }
    let root = dir.join("slapd");
    let db = root.join("db");
    std::fs::create_dir_all(&db).unwrap();
    let conf = root.join("slapd.conf");
    std::fs::write(
        &conf,
        format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             pidfile {root}/slapd.pid\n\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             sizelimit 500\n\
             threads 16\n\
             database mdb\n\
             maxsize 4294967296\n\
             suffix \"o=ACME\"\n\
             rootdn \"cn=admin,o=ACME\"\n\
             directory {db}\n\
             index objectClass eq\n\
             index cn,sn,givenName,mail eq,sub\n",
            root = root.display(),
            db = db.display()
        ),
    )
    .unwrap();
    let mut ldif = String::from(
        "dn: o=ACME\nobjectClass: organization\no: ACME\n\n\
         dn: ou=POA,o=ACME\nobjectClass: organizationalUnit\nou: POA\n\n",
    );
    for (mailbox, display) in users {
        let (given, sn) = display.rsplit_once(' ').unwrap_or(("", display));
        ldif.push_str(&format!(
            "dn: uid={mailbox},ou=POA,o=ACME\nobjectClass: inetOrgPerson\ncn: {display}\n\
             displayName: {display}\nsn: {sn}\ngivenName: {given}\nuid: {mailbox}\n\
             mail: {}@poa.acme\n\n",
            mailbox.to_ascii_lowercase()
        ));
    }
    let data = root.join("data.ldif");
    std::fs::write(&data, ldif).unwrap();
    let loaded = Instant::now();
    let status = Command::new("/usr/sbin/slapadd")
        .args(["-q", "-f"])
        .arg(&conf)
        .arg("-l")
        .arg(&data)
        .status()
        .expect("run slapadd");
    assert!(status.success(), "slapadd failed");
    println!(
        "  slapd loaded by slapadd in {:.1} s",
        loaded.elapsed().as_secs_f64()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Command::new("/usr/sbin/slapd")
        .arg("-f")
        .arg(&conf)
        .args(["-h", &format!("ldap://127.0.0.1:{port}/"), "-d", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start slapd");
    let up =
        integration_tests::wait_until(Duration::from_secs(30), Duration::from_millis(50), || {
            std::net::TcpStream::connect(addr).is_ok()
        });
    assert!(up, "slapd did not listen on {addr}");
    Some((child, addr))
}
