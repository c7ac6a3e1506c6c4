//! The final verification of a wave: every post office's GAL is the whole
//! directory, and a test mail crosses each way between every moved post
//! office and the rest of the network, through the real SMTP and POP3
//! listeners.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wire_format::{Address, Name};

use super::plan::Target;
use super::run::{Progress, now_ms};
use crate::NetctlError;
use crate::mailclient;
use crate::network::Network;
use crate::topology::RoleKind;

const POLL: Duration = Duration::from_millis(200);

/// (address, display name) of every live user.
pub type Users = BTreeSet<(String, String)>;

/// The whole directory: each post office's own users, as it lists them.
pub fn full_directory(net: &Network) -> Result<Users, NetctlError> {
    let mut all = Users::new();
    for po in net.post_offices() {
        let t = Target::new(po, RoleKind::DsRequestor);
        all.extend(
            net.directory_of(t, Some(po))?
                .into_iter()
                .filter(|e| e.address.post_office == po)
                .map(|e| (e.address.to_string(), e.display_name)),
        );
    }
    Ok(all)
}

/// Each post office's GAL, as a set.
pub fn gals(net: &Network) -> Result<BTreeMap<Name, Users>, NetctlError> {
    let mut out = BTreeMap::new();
    for po in net.post_offices() {
        let t = Target::new(po, RoleKind::DsRequestor);
        let gal = net
            .directory(t)?
            .into_iter()
            .map(|e| (e.address.to_string(), e.display_name))
            .collect();
        out.insert(po, gal);
    }
    Ok(out)
}

/// `None` when every GAL equals the whole directory; else what differs.
/// Compares digests (`GalSummary`): each post office's digest of its own
/// users is what every GAL must hold for it. Listing 20 GALs of 200,000
/// users took 16 s; their summaries take a fraction of that.
pub fn gal_gaps(net: &Network) -> Result<Option<String>, NetctlError> {
    // Asked of every post office at once: each digests its own GAL.
    let post_offices = net.post_offices();
    let answers = crate::parallel::on_threads(&post_offices, |&po| {
        net.gal_summary(Target::new(po, RoleKind::DsRequestor))
    });
    let mut summaries = BTreeMap::new();
    for (po, answer) in post_offices.into_iter().zip(answers) {
        let answer = answer.map_err(|_| {
            NetctlError::Verification(format!("asking {po} for its GAL summary panicked"))
        })??;
        let by_po: BTreeMap<Name, (u64, [u8; 32])> = answer
            .into_iter()
            .map(|d| (d.post_office, (d.entries, d.digest)))
            .collect();
        summaries.insert(po, by_po);
    }
    let own: BTreeMap<Name, (u64, [u8; 32])> = summaries
        .iter()
        .filter_map(|(po, by_po)| by_po.get(po).map(|d| (*po, *d)))
        .collect();
    let mut gaps = Vec::new();
    for (po, by_po) in &summaries {
        let mut differ = Vec::new();
        for (owner, (entries, digest)) in &own {
            match by_po.get(owner) {
                Some(seen) if seen == &(*entries, *digest) => {}
                Some((seen, _)) => {
                    differ.push(format!("{seen} of {owner}'s {entries} (differing)"))
                }
                None => differ.push(format!("none of {owner}'s {entries}")),
            }
        }
        for (owner, (seen, _)) in by_po.iter().filter(|(o, _)| !own.contains_key(*o)) {
            differ.push(format!("{seen} stale of {owner}"));
        }
        if !differ.is_empty() {
            gaps.push(format!("{po} holds {}", differ.join(", ")));
        }
    }
    Ok((!gaps.is_empty()).then(|| gaps.join("; ")))
}

/// The same question as [`gal_gaps`], answered by listing every GAL in
/// full: slow on a large network, but independent of the digests.
pub fn listed_gal_gaps(net: &Network) -> Result<Option<String>, NetctlError> {
    let all = full_directory(net)?;
    let mut gaps = Vec::new();
    for (po, gal) in gals(net)? {
        let missing = all.difference(&gal).count();
        let extra = gal.difference(&all).count();
        if missing + extra > 0 {
            gaps.push(format!("{po} lacks {missing} and has {extra} stale"));
        }
    }
    Ok((!gaps.is_empty()).then(|| gaps.join(", ")))
}

/// Waits until every GAL is the whole directory, running sync cycles.
pub fn wait_for_complete_gals(
    net: &mut Network,
    within: Duration,
    progress: &mut dyn Progress,
) -> Result<(), NetctlError> {
    let deadline = Instant::now() + within;
    let mut requestors: Vec<Target> = net
        .post_offices()
        .into_iter()
        .map(|po| Target::new(po, RoleKind::DsRequestor))
        .collect();
    requestors.push(Target::new(net.topology.bridge, RoleKind::DsRequestor));
    loop {
        for restarted in net.heal().map_err(cannot_restart)? {
            progress.note(&format!("restarted {restarted}, which was not running"));
        }
        let why = match gal_gaps(net) {
            Ok(None) => return Ok(()),
            Ok(Some(why)) => why,
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(NetctlError::Verification(format!(
                "the GALs are not complete after {} s: {why}",
                within.as_secs()
            )));
        }
        progress.note(&format!("verification: {why}"));
        for t in &requestors {
            if let Ok(mut op) = net.connect(*t) {
                let _ = op.request(wire_format::SyncNow);
            }
        }
        std::thread::sleep(POLL);
    }
}

fn cannot_restart(e: NetctlError) -> NetctlError {
    NetctlError::Verification(format!("a process died and could not be restarted: {e}"))
}

/// How often a dead process is looked for while the test mails run.
const HEAL_EVERY: Duration = Duration::from_millis(300);

/// Runs `work` on a snapshot of `net` while another thread restarts any of
/// its processes that dies (same config, same ports, so the snapshot's
/// endpoints stay right), as the steps do. Returns `work`'s answer and the
/// ids restarted; a process that cannot be restarted ends the healing and
/// sets the `stop` flag `work` receives, so it gives up instead of waiting
/// out its deadline, and is the error.
pub fn while_healing<R: Send>(
    net: &mut Network,
    work: impl FnOnce(&Network, &AtomicBool) -> R + Send,
) -> Result<(R, Vec<String>), NetctlError> {
    let snapshot = net.clone();
    let (done, stop) = (AtomicBool::new(false), AtomicBool::new(false));
    let (answer, healed) = std::thread::scope(|s| {
        let healer = s.spawn(|| {
            let mut restarted = Vec::new();
            while !done.load(Ordering::Relaxed) {
                match net.heal() {
                    Ok(ids) => restarted.extend(ids),
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        return Err(cannot_restart(e));
                    }
                }
                std::thread::sleep(HEAL_EVERY);
            }
            Ok(restarted)
        });
        let answer = work(&snapshot, &stop);
        done.store(true, Ordering::Relaxed);
        let healed = healer
            .join()
            .unwrap_or_else(|_| Err(NetctlError::Verification("the healer panicked".into())));
        (answer, healed)
    });
    Ok((answer, healed?))
}

/// Sends a mail from `from`'s first seed user to `to`'s and waits until it
/// can be collected over POP3 (and removes it). Returns how long it took.
pub fn test_mail(
    net: &Network,
    from: Name,
    to: Name,
    within: Duration,
) -> Result<Duration, NetctlError> {
    test_mail_until(net, from, to, within, &AtomicBool::new(false))
}

/// [`test_mail`], retrying the sending too (the sender's router may be
/// restarting), until `within` has passed or `stop` is set.
pub fn test_mail_until(
    net: &Network,
    from: Name,
    to: Name,
    within: Duration,
    stop: &AtomicBool,
) -> Result<Duration, NetctlError> {
    let fail = |why: String| NetctlError::Verification(format!("test mail {from} -> {to}: {why}"));
    let user = |po: Name| {
        net.seed_user(&po)
            .map(|u| (Address::new(net.topology.network, po, u.mailbox), u))
            .ok_or_else(|| {
                fail(format!(
                    "{po} has no user with a POP3 password in the topology, so no \
                     test mail can be read there: give one of its users a password"
                ))
            })
    };
    let (sender, sender_account) = user(from)?;
    // Unless the topology trusts this host (`trusted_networks`), the sender
    // logs in, under TLS checked against the network's CA (or the
    // operator's chain).
    let trust = match net.topology.trusts_its_host() {
        true => None,
        false => (net.topology.node(&from)).map(|node| crate::tls::trust(&net.data_dir, node)),
    };
    let (recipient, account) = user(to)?;
    let token = format!("{from}-{to}-{}", now_ms());
    let began = Instant::now();
    let deadline = began + within;
    let give_up = || Instant::now() >= deadline || stop.load(Ordering::Relaxed);
    let smtp = net.mail_endpoint(&from, "smtp")?;
    loop {
        let login = trust.as_deref().map(|trust| mailclient::SmtpLogin {
            trust,
            password: sender_account.password.as_deref().unwrap_or_default(),
        });
        let sent = mailclient::send(
            &smtp,
            login,
            &sender,
            &recipient,
            &[
                ("Subject", "netctl migration test mail"),
                ("X-Netctl-Test", &token),
            ],
            "This mail proves the route works after the migration.\n",
        );
        match sent {
            Ok(()) => break,
            Err(e) if give_up() => return Err(fail(e.to_string())),
            Err(_) => std::thread::sleep(POLL),
        }
    }
    let pop3 = crate::tls::pop3_server(net, &to)?;
    loop {
        let is_mine = |m: &[String]| mailclient::header(m, "X-Netctl-Test") == Some(token.as_str());
        let password = account.password.as_deref().unwrap_or_default();
        match mailclient::collect(&pop3, account.mailbox.as_str(), password, &is_mine) {
            Ok(messages) if messages.iter().any(|m| is_mine(m)) => return Ok(began.elapsed()),
            Ok(_) => {}
            Err(e) if give_up() => return Err(fail(e.to_string())),
            Err(_) => {}
        }
        if give_up() {
            return Err(fail(format!("not delivered within {} s", within.as_secs())));
        }
        std::thread::sleep(POLL);
    }
}
