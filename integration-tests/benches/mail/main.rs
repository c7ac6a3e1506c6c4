//! Mail throughput on real release processes over TCP on 127.0.0.1, against
//! Postfix on the same machine in the same run.
//!
//! * mhub: Postfix's own load generator `smtp-source` submits MESSAGES
//!   messages of 2 KiB over SESSIONS concurrent SMTP sessions to post office
//!   POA; they travel POA -> H -> POB, committed to disk at every hop before
//!   each acknowledgement, into POB's mailbox. Timed from the first
//!   connection until POB reports every message delivered. Prints
//!   messages/s and the peak RSS of the hub H (and of POA and POB).
//! * Ceiling: the same `smtp-source` load into Postfix's `smtp-sink` (one
//!   per generator), which answers every command at once and stores and
//!   relays nothing: what this machine can do for SMTP at all, measured in
//!   the same run, since its speed changes from hour to hour. Skipped with
//!   a note when `smtp-sink` is not installed, or with `--no-ceiling`.
//! * Postfix: `benches/postfix-baseline.sh MESSAGES SESSIONS new|reuse
//!   GENERATORS` (smtp-source into Postfix, which queues durably and relays
//!   to smtp-sink). It needs
//!   root and reconfigures the machine's Postfix; skipped with a note when
//!   it cannot run, or with `--no-postfix`.
//!
//! Then the ratios of the rates.
//!
//! `cargo bench -p integration-tests --bench mail -- [MESSAGES] [SESSIONS]`
//! (default 30,000 and 200); `--keep` keeps the routers' logs and stores.
//! `--runs=N` runs mhub and the ceiling N times, one after the other, then
//! prints the median, the range and how many runs reached the target of
//! 5,000 messages/s (issue #5); Postfix, which takes a minute, runs once.
//! The sessions are a closed loop: each waits for every reply before its
//! next command, so with few of them the round trips through smtp-source,
//! not the routers, bound the rate and the machine idles (20 sessions:
//! about 80% busy). 200 from two generators keep the 2 cores busy (98-99%),
//! which is the routers' capacity; the bench prints how busy the machine
//! was, and the README lists the rate for 20 to 400 sessions.
//! By default `smtp-source` opens a connection per message (a client per
//! mail); `--reuse-sessions` (its `-d`) sends each session's messages over
//! one connection, as a relaying MTA does, for both mhub and Postfix.
//! `--generators=N` splits the messages and sessions over N `smtp-source`
//! processes (default: one per core): one, a single thread, cannot keep
//! this machine busy (see [`load`]).

mod ceiling;
mod load;
mod machine;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use integration_tests::mail::{Net, Router, Spec};
use integration_tests::{peak_rss_kib, test_dir, wait_until};

use load::{Load, run};
use machine::{busy, cpu, ended_children_cpu, format_cpu, machine_ticks, spent};

/// Issue #5's target for mhub, in messages/s.
const TARGET: f64 = 5_000.0;

fn main() {
    let all: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&String> = all.iter().filter(|a| !a.starts_with("--")).collect();
    let num =
        |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (messages, sessions) = (num(0, 30_000), num(1, 200));
    let flag = |name: &str| all.iter().any(|a| a == name);
    let option = |name: &str| {
        all.iter()
            .find_map(|a| a.strip_prefix(name))
            .and_then(|n| n.parse::<usize>().ok())
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load = Load {
        messages,
        sessions,
        reuse: flag("--reuse-sessions"),
        generators: option("--generators=").unwrap_or(cores).max(1),
    };
    let keep = flag("--keep");
    let runs = option("--runs=").unwrap_or(1).max(1);
    let (mut rates, mut shares) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        if runs > 1 {
            println!("run {run} of {runs}");
        }
        let mhub = mhub(&load, keep);
        rates.push(mhub);
        if flag("--no-ceiling") {
            continue;
        }
        match ceiling::measure(&load) {
            Ok(rate) => {
                println!(
                    "mhub reached {:.0}% of the ceiling ({mhub:.0} / {rate:.0} messages/s)",
                    100.0 * mhub / rate
                );
                shares.push(100.0 * mhub / rate);
            }
            Err(why) => println!("ceiling not measured: {why}"),
        }
    }
    if runs > 1 {
        summarise(&mut rates, &mut shares);
    }
    if flag("--no-postfix") {
        return;
    }
    let mhub = median(&mut rates);
    match postfix(&load) {
        Ok(rate) => println!(
            "ratio mhub/postfix: {:.2} ({mhub:.0} / {rate:.0} messages/s)",
            mhub / rate
        ),
        Err(why) => println!("postfix baseline not run: {why}"),
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn summarise(rates: &mut [f64], shares: &mut [f64]) {
    let reached = rates.iter().filter(|r| **r >= TARGET).count();
    let median_rate = median(rates);
    println!(
        "over {} runs: mhub median {median_rate:.0} messages/s ({:.0} to {:.0}); \
         {reached} of {} at or over the target of {TARGET:.0}",
        rates.len(),
        rates[0],
        rates[rates.len() - 1],
        rates.len(),
    );
    if !shares.is_empty() {
        let median_share = median(shares);
        println!(
            "over {} runs: mhub's share of the ceiling median {median_share:.0}% ({:.0}% to {:.0}%)",
            shares.len(),
            shares[0],
            shares[shares.len() - 1],
        );
    }
}

fn rss(router: &Router) -> String {
    let kib = router.process.pid().and_then(peak_rss_kib).unwrap_or(0);
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn mhub(load: &Load, keep: bool) -> f64 {
    let messages = load.messages;
    let root = test_dir("mail-bench");
    let net = Net::start(
        root.path(),
        vec![
            // smtp-source cannot authenticate (no AUTH, no TLS): the
            // load comes from 127.0.0.1, trusted like Postfix's mynetworks.
            Spec::post_office("POA", "H", &["H"], &["JSMITH"])
                .with_trusted_networks(r#"["127.0.0.0/8"]"#),
            Spec::post_office("POB", "H", &["H"], &["KLEE"])
                .with_trusted_networks(r#"["127.0.0.0/8"]"#),
            Spec::relay("H", "hub", &[("POA", "POA"), ("POB", "POB")]),
        ],
    );
    let (poa, pob) = (net.get("POA"), net.get("POB"));
    let (children_before, machine_before) = (ended_children_cpu(), machine_ticks());
    let started = Instant::now();
    if let Err(e) = load.submit(&[poa.smtp().to_string()]) {
        panic!("{e}");
    }
    let accepted = started.elapsed();
    let generators = spent(ended_children_cpu(), children_before);
    let all_in = wait_until(Duration::from_secs(600), Duration::from_millis(5), || {
        pob.count("delivered") >= messages as u64
    });
    let elapsed = started.elapsed();
    let machine = spent(machine_ticks(), machine_before);
    assert!(
        all_in,
        "only {} of {messages} delivered",
        pob.count("delivered")
    );
    let rate = messages as f64 / elapsed.as_secs_f64();
    println!(
        "mhub: {}, POA -> H -> POB: accepted in {:.2} s, delivered in {:.2} s: \
         {rate:.0} messages/s",
        load.describe(),
        accepted.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "mhub: peak RSS hub H {}, POA {}, POB {}",
        rss(net.get("H")),
        rss(poa),
        rss(pob)
    );
    println!(
        "mhub: CPU time hub H {}, POA {}, POB {}",
        cpu(net.get("H")),
        cpu(poa),
        cpu(pob)
    );
    println!(
        "mhub: CPU time of the load generators (smtp-source) {}; the machine was busy {}",
        generators.map_or_else(|| "?".into(), format_cpu),
        busy(machine)
    );
    if keep {
        println!("mhub: logs kept in {}", root.keep().display());
    }
    rate
}

/// The Postfix baseline's messages/s, from the script's last line.
fn postfix(load: &Load) -> Result<f64, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../benches/postfix-baseline.sh");
    let out = run(
        Command::new("bash").arg(&script).args([
            load.messages.to_string(),
            load.sessions.to_string(),
            if load.reuse { "reuse" } else { "new" }.to_owned(),
            load.generators.to_string(),
        ]),
        Duration::from_secs(900),
    )?;
    let line = out
        .lines()
        .find(|l| l.starts_with("postfix:"))
        .ok_or_else(|| format!("no result line in: {out}"))?;
    println!("{line}");
    line.rsplit(':')
        .next()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("cannot read the rate in {line:?}"))
}
