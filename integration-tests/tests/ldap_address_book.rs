//! The post offices' LDAP address books (issue #19, docs/LDAP.md) against
//! a real network started by `netctl up` (POA on H, POD on H2), read with
//! clients nobody here wrote: OpenLDAP's `ldapsearch`/`ldapadd`/
//! `ldapmodify`/`ldapwhoami` (Debian's ldap-utils) and Python's ldap3
//! (Debian's python3-ldap3, run with the system /usr/bin/python3).
//!
//! One network serves every check, in order: the root DSE (RFC 4512 5.1),
//! Thunderbird's autocomplete filter (RFC 4511 4.5.1.7), scopes (RFC 4511
//! 4.5.1.2), the size limit (4.5.1.4), paged results (RFC 2696), refused
//! updates (4.6-4.9), StartTLS (RFC 4511 4.14, RFC 4513 3) and LDAPS, a
//! malformed PDU (4.1.1), ldap3, and a user added at POD showing in POA's
//! answers once POA's GAL has it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use integration_tests::netctl_run::{netctl, succeeded, up_network};
use integration_tests::wait_until;
use serde_json::Value;

const TOPOLOGY: &str = r#"
network = "ACME"
[old_hub]
name = "H"
[new_hub]
name = "H2"
[bridge]
name = "H3"
[[post_offices]]
name = "POA"
hub = "H"
users = [
  { mailbox = "JSMITH", display_name = "John Smith" },
  { mailbox = "JOANNA", display_name = "Joanna Jones" },
  { mailbox = "BBROWN", display_name = "Bob Brown" },
]
[[post_offices]]
name = "POD"
hub = "H2"
users = [{ mailbox = "AJONES", display_name = "Alice Jones" }]
"#;

const AUTOCOMPLETE: &str = "(|(cn=*jo*)(mail=*jo*)(sn=*jo*)(givenName=*jo*))";

/// A process's endpoint from `netctl status --json`.
fn endpoint(data: &Path, id: &str, service: &str) -> String {
    let out = netctl(data, &["status", "--json"]);
    let json: Value = serde_json::from_str(&succeeded("netctl status", &out)).unwrap();
    let process = json["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("{id} in {json:#}"));
    process["endpoints"][service]
        .as_str()
        .unwrap_or_else(|| panic!("{id} has no {service} endpoint: {process:#}"))
        .to_owned()
}

fn tool(name: &str, args: &[&str], ca: &Path, stdin: Option<&str>) -> Output {
    let mut command = Command::new(name);
    command
        .args(args)
        .env("LDAPTLS_CACERT", ca)
        .env("LDAPTLS_REQCERT", "demand")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: {e} (apt-get install ldap-utils)"));
    if let Some(text) = stdin
        && let Some(mut input) = child.stdin.take()
    {
        input.write_all(text.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

struct Book {
    url: String,
    ca: std::path::PathBuf,
}

impl Book {
    /// `ldapsearch -x -LLL -H URL ARGS...`: (exit code, stdout).
    fn search(&self, args: &[&str]) -> (i32, String) {
        let mut all = vec!["-x", "-LLL", "-o", "ldif-wrap=no", "-H", &self.url];
        all.extend(args);
        let out = tool("ldapsearch", &all, &self.ca, None);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }

    fn dns(&self, args: &[&str]) -> Vec<String> {
        let (code, text) = self.search(args);
        assert_eq!(code, 0, "ldapsearch {args:?}: {text}");
        dns(&text)
    }
}

fn dns(ldif: &str) -> Vec<String> {
    ldif.lines()
        .filter_map(|l| l.strip_prefix("dn: "))
        .map(str::to_owned)
        .collect()
}

/// RFC 4512 5.1: `ldapsearch -s base -b "" namingContexts` finds the base.
fn root_dse_names_the_base_rfc4512_5_1(book: &Book) {
    let (code, text) = book.search(&[
        "-s",
        "base",
        "-b",
        "",
        "namingContexts",
        "supportedLDAPVersion",
        "supportedExtension",
        "supportedControl",
    ]);
    assert_eq!(code, 0, "{text}");
    for line in [
        "namingContexts: o=ACME",
        "supportedLDAPVersion: 3",
        "supportedExtension: 1.3.6.1.4.1.1466.20037",
        "supportedControl: 1.2.840.113556.1.4.319",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
}

/// RFC 4511 4.5.1.7: Thunderbird's autocomplete filter, substrings matched
/// case-insensitively over cn, mail, sn and givenName; the entry carries
/// what a mail client shows and addresses.
fn autocomplete_finds_people_across_post_offices_rfc4511_4_5_1_7(book: &Book) {
    let (code, text) = book.search(&["-b", "o=ACME", AUTOCOMPLETE]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        dns(&text),
        [
            "uid=JOANNA,ou=POA,o=ACME",
            "uid=JSMITH,ou=POA,o=ACME",
            "uid=AJONES,ou=POD,o=ACME"
        ]
    );
    for line in [
        "objectClass: inetOrgPerson",
        "cn: John Smith",
        "displayName: John Smith",
        "sn: Smith",
        "givenName: John",
        "uid: JSMITH",
        "mail: jsmith@poa.acme",
        "proxyAddresses: MS:ACME/POA/JSMITH",
        "mail: ajones@pod.acme",
        "ou: POD",
        "o: ACME",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    assert_eq!(
        book.dns(&[
            "-b",
            "o=acme",
            "(&(objectClass=person)(!(sn=jones))(cn=*o*))",
            "1.1"
        ]),
        ["uid=BBROWN,ou=POA,o=ACME", "uid=JSMITH,ou=POA,o=ACME"]
    );
}

/// RFC 4511 4.5.1.2: base, one level and subtree.
fn scopes_rfc4511_4_5_1_2(book: &Book) {
    let base = book.dns(&[
        "-s",
        "base",
        "-b",
        "uid=jsmith,ou=poa,o=acme",
        "(objectClass=*)",
        "1.1",
    ]);
    assert_eq!(base, ["uid=JSMITH,ou=POA,o=ACME"]);
    let units = book.dns(&["-s", "one", "-b", "o=ACME", "(objectClass=*)", "1.1"]);
    assert_eq!(units, ["ou=POA,o=ACME", "ou=POD,o=ACME"]);
    let poa = book.dns(&["-s", "one", "-b", "ou=POA,o=ACME", "(objectClass=*)", "1.1"]);
    assert_eq!(poa.len(), 3, "{poa:?}");
    let all = book.dns(&["-s", "sub", "-b", "o=ACME", "(objectClass=*)", "1.1"]);
    assert_eq!(all.len(), 1 + 2 + 4, "{all:?}");
    // RFC 4511 4.1.9: a base that names nothing is noSuchObject (32).
    let (code, _) = book.search(&["-b", "ou=NOPO,o=ACME", "(objectClass=*)"]);
    assert_eq!(code, 32);
}

/// RFC 4511 4.5.1.4: over the size limit the entries up to it come back
/// with sizeLimitExceeded (4), ldapsearch's exit code.
fn size_limit_rfc4511_4_5_1_4(book: &Book) {
    let (code, text) = book.search(&["-z", "2", "-b", "o=ACME", "(objectClass=person)", "1.1"]);
    assert_eq!(code, 4, "{text}");
    assert_eq!(dns(&text).len(), 2, "{text}");
    assert!(text.contains("Size limit exceeded"), "{text}");
}

/// RFC 2696: simple paged results, one entry a page.
fn paged_results_rfc2696(book: &Book) {
    let (code, text) = book.search(&[
        "-E",
        "pr=1/noprompt",
        "-b",
        "o=ACME",
        "(objectClass=person)",
        "1.1",
    ]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(dns(&text).len(), 4, "{text}");
    assert!(
        text.matches("# pagedresults: cookie=").count() >= 4,
        "{text}"
    );
}

/// RFC 4511 4.6-4.9: a read-only directory refuses updates with
/// unwillingToPerform (53).
fn updates_are_refused_rfc4511_4_6_to_4_9(book: &Book) {
    let add = "dn: uid=EVE,ou=POA,o=ACME\nobjectClass: inetOrgPerson\ncn: Eve\nsn: Eve\n";
    let out = tool("ldapadd", &["-x", "-H", &book.url], &book.ca, Some(add));
    assert_eq!(out.status.code(), Some(53), "{out:?}");
    let modify = "dn: uid=JSMITH,ou=POA,o=ACME\nchangetype: modify\nreplace: cn\ncn: Mallory\n";
    let out = tool(
        "ldapmodify",
        &["-x", "-H", &book.url],
        &book.ca,
        Some(modify),
    );
    assert_eq!(out.status.code(), Some(53), "{out:?}");
    let out = tool(
        "ldapdelete",
        &["-x", "-H", &book.url, "uid=JSMITH,ou=POA,o=ACME"],
        &book.ca,
        None,
    );
    assert_eq!(out.status.code(), Some(53), "{out:?}");
    assert_eq!(
        book.dns(&["-b", "o=ACME", "(cn=John Smith)", "1.1"]).len(),
        1
    );
    assert!(book.dns(&["-b", "o=ACME", "(uid=eve)", "1.1"]).is_empty());
}

/// RFC 4511 4.14 and RFC 4513 3: StartTLS (ldapsearch -ZZ insists on it)
/// with the post office's certificate, checked against the network CA.
fn starttls_and_ldaps_rfc4511_4_14(book: &Book, ldaps: &str) {
    let (code, text) = book.search(&["-ZZ", "-b", "o=ACME", "(uid=jsmith)", "mail"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("mail: jsmith@poa.acme"), "{text}");
    let secure = Book {
        url: format!("ldaps://{ldaps}"),
        ca: book.ca.clone(),
    };
    assert_eq!(
        secure.dns(&["-b", "o=ACME", "(sn=jones)", "1.1"]),
        ["uid=JOANNA,ou=POA,o=ACME", "uid=AJONES,ou=POD,o=ACME"]
    );
    let out = tool(
        "ldapwhoami",
        &["-x", "-ZZ", "-H", &book.url],
        &book.ca,
        None,
    );
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("anonymous"));
}

/// RFC 4511 4.1.1: a PDU that cannot be parsed ends that connection (with
/// a Notice of Disconnection), and only it.
fn a_malformed_pdu_ends_only_its_connection_rfc4511_4_1_1(book: &Book, addr: &str) {
    let mut bad = TcpStream::connect(addr).unwrap();
    bad.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // A SEQUENCE announcing 2 GiB, then more than any request may hold.
    bad.write_all(&[0x30, 0x84, 0x7f, 0xff, 0xff, 0xff])
        .unwrap();
    let _ = bad.write_all(&vec![0x04; 64 * 1024]);
    let mut reply = Vec::new();
    let _ = bad.read_to_end(&mut reply);
    let oid = b"1.3.6.1.4.1.1466.20036";
    assert!(
        reply.windows(oid.len()).any(|w| w == oid),
        "a Notice of Disconnection: {reply:?}"
    );
    assert_eq!(book.dns(&["-b", "o=ACME", "(uid=jsmith)", "1.1"]).len(), 1);
}

/// The same through Python's ldap3, a client library nobody here wrote.
fn python_ldap3_reads_the_book(addr: &str) {
    let (host, port) = addr.rsplit_once(':').unwrap();
    let script = format!(
        r#"
import ldap3
server = ldap3.Server("{host}", port={port}, get_info=ldap3.ALL)
conn = ldap3.Connection(server, auto_bind=True)
assert server.info.naming_contexts == ["o=ACME"], server.info.naming_contexts
conn.search("o=ACME", "{AUTOCOMPLETE}", attributes=["cn", "mail", "sn", "givenName"])
assert conn.result["result"] == 0, conn.result
found = sorted(str(e.mail) for e in conn.entries)
assert found == ["ajones@pod.acme", "joanna@poa.acme", "jsmith@poa.acme"], found
conn.search("o=ACME", "(objectClass=person)", size_limit=1)
assert conn.result["result"] == 4 and len(conn.entries) == 1, conn.result
assert not conn.add("uid=EVE,ou=POA,o=ACME", ["inetOrgPerson"], {{"cn": "Eve", "sn": "Eve"}})
assert conn.result["result"] == 53, conn.result
print("ldap3 ok")
"#
    );
    let out = Command::new("/usr/bin/python3")
        .args(["-c", &script])
        .output()
        .expect("/usr/bin/python3 (apt-get install python3-ldap3)");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ldap3 ok"),
        "python3 ldap3: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_post_offices_gal_over_ldap_with_ldapsearch_and_python_ldap3() {
    let net = up_network("ldap-book", TOPOLOGY);
    let data = net.data.clone();
    let ldap = endpoint(&data, "POA.ds-requestor", "ldap");
    let ldaps = endpoint(&data, "POA.ds-requestor", "ldaps");
    let book = Book {
        url: format!("ldap://{ldap}"),
        ca: data.join("tls").join("ca.pem"),
    };
    // POD's user reaches POA's GAL through H2, the bridge and H.
    let synced = wait_until(Duration::from_secs(60), Duration::from_millis(300), || {
        book.dns(&["-b", "o=ACME", "(uid=ajones)", "1.1"]).len() == 1
    });
    assert!(synced, "POD's user never reached POA's address book");

    root_dse_names_the_base_rfc4512_5_1(&book);
    autocomplete_finds_people_across_post_offices_rfc4511_4_5_1_7(&book);
    scopes_rfc4511_4_5_1_2(&book);
    size_limit_rfc4511_4_5_1_4(&book);
    paged_results_rfc2696(&book);
    updates_are_refused_rfc4511_4_6_to_4_9(&book);
    starttls_and_ldaps_rfc4511_4_14(&book, &ldaps);
    a_malformed_pdu_ends_only_its_connection_rfc4511_4_1_1(&book, &ldap);
    python_ldap3_reads_the_book(&ldap);

    // A user added at POD shows in POA's answers once POA's GAL has it.
    let added = netctl(&data, &["user", "add", "POD", "NJOPLIN", "Nora Joplin"]);
    succeeded("netctl user add", &added);
    let arrived = wait_until(Duration::from_secs(60), Duration::from_millis(300), || {
        book.dns(&["-b", "o=ACME", AUTOCOMPLETE, "1.1"])
            .contains(&"uid=NJOPLIN,ou=POD,o=ACME".to_owned())
    });
    assert!(arrived, "POD's new user never showed in POA's address book");
    let (_, text) = book.search(&["-b", "ou=POD,o=ACME", "(mail=njoplin@pod.acme)", "cn"]);
    assert!(text.contains("cn: Nora Joplin"), "{text}");
    // And POD's own book has it too, with POA's users.
    let pod = Book {
        url: format!("ldap://{}", endpoint(&data, "POD.ds-requestor", "ldap")),
        ca: book.ca.clone(),
    };
    assert!(
        pod.dns(&["-b", "o=ACME", "(|(uid=njoplin)(uid=jsmith))", "1.1"])
            .len()
            == 2
            || wait_until(Duration::from_secs(60), Duration::from_millis(300), || {
                pod.dns(&["-b", "o=ACME", "(|(uid=njoplin)(uid=jsmith))", "1.1"])
                    .len()
                    == 2
            })
    );
}
