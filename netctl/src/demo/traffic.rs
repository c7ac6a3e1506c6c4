//! Live mail traffic for the demo: mails between random users of every post
//! office through their SMTP listeners, each with a unique id header, and the
//! count at the end of what every mailbox received (lost, duplicated).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wire_format::{Address, Name};

use crate::mailclient;
use crate::network::Network;

pub const ID_HEADER: &str = "X-Netctl-Demo";
/// How far behind its schedule a lane may fall and still catch up.
const MAX_BACKLOG: Duration = Duration::from_secs(1);

/// A user mail can be sent to and collected from.
#[derive(Clone)]
pub struct Account {
    pub address: Address,
    pub password: String,
}

/// Every seed user with a POP3 password.
pub fn accounts(net: &Network) -> Vec<Account> {
    net.topology
        .post_offices()
        .flat_map(|po| {
            po.users.iter().filter_map(|u| {
                Some(Account {
                    address: Address::new(net.topology.network, po.name, u.mailbox),
                    password: u.password.clone()?,
                })
            })
        })
        .collect()
}

#[derive(Debug, Default, Clone)]
pub struct Sent {
    /// Accepted by the sender's post office (250 to the end of DATA).
    pub accepted: Vec<u64>,
    /// Refused at submission: the sender was told, so nothing was lost.
    pub refused: u64,
    /// Mails to or from each post office.
    pub per_post_office: BTreeMap<Name, u64>,
}

/// Sends `rate` mails per second until `stop`; a small deterministic
/// generator picks sender and recipient, so runs are comparable.
pub fn send_until(net: &Network, accounts: &[Account], rate: u32, stop: Arc<AtomicBool>) -> Sent {
    send_in_lanes(net, accounts, rate, 1, &stop)
}

/// [`send_until`] from `lanes` threads at once, each sending its share of
/// `rate`: one SMTP session at a time cannot reach a high rate on a busy
/// machine. Mail ids stay unique (lane `l` of `n` uses l+1, l+1+n, ...).
pub fn send_in_lanes(
    net: &Network,
    accounts: &[Account],
    rate: u32,
    lanes: u32,
    stop: &AtomicBool,
) -> Sent {
    let lanes = lanes.max(1);
    let share = f64::from(rate.max(1)) / f64::from(lanes);
    let each: Vec<u32> = (0..lanes).collect();
    let results = crate::parallel::on_threads(&each, |&lane| {
        send_lane(net, accounts, share, lane, lanes, stop)
    });
    let mut sent = Sent::default();
    for lane in results.into_iter().flatten() {
        sent.accepted.extend(lane.accepted);
        sent.refused += lane.refused;
        for (po, n) in lane.per_post_office {
            *sent.per_post_office.entry(po).or_default() += n;
        }
    }
    sent.accepted.sort_unstable();
    sent
}

fn send_lane(
    net: &Network,
    accounts: &[Account],
    rate: f64,
    lane: u32,
    lanes: u32,
    stop: &AtomicBool,
) -> Sent {
    let mut sent = Sent::default();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15 ^ (u64::from(lane) << 32);
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n.max(1) as u64) as usize
    };
    let mut id = u64::from(lane) + 1;
    let mut due = Instant::now();
    while !stop.load(Ordering::Relaxed) && accounts.len() > 1 {
        let from = &accounts[next(accounts.len())];
        let to = loop {
            let to = &accounts[next(accounts.len())];
            if to.address.post_office != from.address.post_office {
                break to;
            }
        };
        let this = id;
        id += u64::from(lanes);
        let Ok(smtp) = net.mail_endpoint(&from.address.post_office, "smtp") else {
            sent.refused += 1;
            continue;
        };
        let tag = this.to_string();
        // Unless the topology trusts this host (`trusted_networks`), the
        // sender logs in, under TLS checked against the network's CA.
        let trust = match net.topology.trusts_its_host() {
            true => None,
            false => (net.topology.node(&from.address.post_office))
                .map(|node| crate::tls::trust(&net.data_dir, node)),
        };
        let login = trust.as_deref().map(|trust| mailclient::SmtpLogin {
            trust,
            password: &from.password,
        });
        match mailclient::send(
            &smtp,
            login,
            &from.address,
            &to.address,
            &[("Subject", "demo traffic"), (ID_HEADER, &tag)],
            "Mail sent by `netctl demo` while the network migrates.\n",
        ) {
            Ok(()) => {
                sent.accepted.push(this);
                for po in [from.address.post_office, to.address.post_office] {
                    *sent.per_post_office.entry(po).or_default() += 1;
                }
            }
            Err(e) => {
                tracing::info!(error = %e, "a demo mail was refused at submission");
                sent.refused += 1;
            }
        }
        // Paced on a fixed schedule, so a slow submission is made up by the
        // next ones and the lane keeps its rate; a backlog of more than a
        // second (a stalled server) is dropped rather than sent as a burst.
        due += interval;
        let now = Instant::now();
        match due.checked_duration_since(now) {
            Some(wait) => std::thread::sleep(wait),
            None if now.duration_since(due) > MAX_BACKLOG => due = now - MAX_BACKLOG,
            None => {}
        }
    }
    sent
}

/// Demo mail ids found in the mailboxes, with how many copies of each.
/// Collected mails are removed, so calling this again sees only new ones.
pub fn collect_all(
    net: &Network,
    accounts: &[Account],
    into: &mut BTreeMap<u64, u64>,
) -> Result<(), String> {
    for a in accounts {
        let pop3 =
            crate::tls::pop3_server(net, &a.address.post_office).map_err(|e| e.to_string())?;
        let is_demo = |m: &[String]| mailclient::header(m, ID_HEADER).is_some();
        let messages =
            mailclient::collect(&pop3, a.address.mailbox.as_str(), &a.password, &is_demo)
                .map_err(|e| e.to_string())?;
        for m in &messages {
            if let Some(id) = mailclient::header(m, ID_HEADER).and_then(|v| v.parse().ok()) {
                *into.entry(id).or_default() += 1;
            }
        }
    }
    Ok(())
}
