//! The patent scenario driven by the operator CLI, every role a real process:
//! `netctl up`, mail flowing both ways between every post office and user
//! changes at every post office, `netctl migrate` (one post office by each
//! method, then a wave of two), `netctl rollback`; and a migration whose `netctl` and bridge
//! are SIGKILLed in the middle, resumed by running the same command again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use integration_tests::netctl_run::{NetworkGuard, netctl, spawn_netctl, succeeded, up_network};
use integration_tests::wait_until;
use netctl::demo::{traffic, watch};
use netctl::migrate::journal;
use netctl::migrate::verify;
use netctl::network::Network;

fn up(label: &str) -> (tempfile::TempDir, NetworkGuard) {
    let net = up_network(label, netctl::demo::PATENT_TOPOLOGY);
    (net.dir, net.guard)
}

fn gals_complete(net: &Network) {
    let mut net = net.clone();
    let mut quiet = Quiet;
    verify::wait_for_complete_gals(&mut net, Duration::from_secs(60), &mut quiet)
        .expect("every GAL equals the whole directory");
    // The wait compares digests; the full listings must agree with them.
    // Under load a user may change between one listing and the next, so
    // they are listed again until they agree (a real gap never does).
    let mut gaps = None;
    let agreed = wait_until(Duration::from_secs(30), Duration::from_millis(200), || {
        gaps = verify::listed_gal_gaps(&net).unwrap();
        gaps.is_none()
    });
    assert!(agreed, "the listed GALs differ: {gaps:?}");
}

struct Quiet;
impl netctl::migrate::run::Progress for Quiet {
    fn step_started(&mut self, _: netctl::migrate::plan::StepId, _: &str) {}
    fn waiting(&mut self, _: netctl::migrate::plan::StepId, _: &str) {}
    fn step_done(&mut self, _: netctl::migrate::plan::StepId, _: Duration) {}
    fn note(&mut self, _: &str) {}
}

/// Mail and directory changes running in the background until `finish`.
struct Load {
    stop: Arc<AtomicBool>,
    mailer: std::thread::JoinHandle<traffic::Sent>,
    changer: std::thread::JoinHandle<watch::Changes>,
}

impl Load {
    fn start(net: &Network, rate: u32) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let accounts = traffic::accounts(net);
        let mailer = {
            let (net, stop) = (net.clone(), stop.clone());
            std::thread::spawn(move || traffic::send_until(&net, &accounts, rate, stop))
        };
        let changer = {
            let (net, stop) = (net.clone(), stop.clone());
            std::thread::spawn(move || {
                watch::change_users_until(&net, Duration::from_millis(200), stop)
            })
        };
        Load {
            stop,
            mailer,
            changer,
        }
    }

    /// Stops the load and checks every accepted mail arrived exactly once.
    fn finish(self, net: &Network) -> (usize, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let sent = self.mailer.join().expect("mailer thread");
        let changes = self.changer.join().expect("changer thread");
        let accounts = traffic::accounts(net);
        let mut received: BTreeMap<u64, u64> = BTreeMap::new();
        let all_in = wait_until(Duration::from_secs(60), Duration::from_millis(500), || {
            traffic::collect_all(net, &accounts, &mut received).is_ok()
                && sent.accepted.iter().all(|id| received.contains_key(id))
        });
        let lost: Vec<_> = sent
            .accepted
            .iter()
            .filter(|id| !received.contains_key(id))
            .collect();
        assert!(all_in && lost.is_empty(), "mails lost: {lost:?}");
        let twice: Vec<_> = received.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "mails delivered twice: {twice:?}");
        let strangers: Vec<_> = received
            .keys()
            .filter(|id| !sent.accepted.contains(id))
            .collect();
        assert!(strangers.is_empty(), "mails nobody sent: {strangers:?}");
        assert!(changes.made > 0, "the directory changed during the run");
        (sent.accepted.len(), changes.made)
    }
}

fn placement(data: &std::path::Path, po: &str) -> Option<String> {
    journal::Placement::load(data)
        .unwrap()
        .hubs
        .get(po)
        .cloned()
}

/// The GAL gap of one post office's users, watched from every other one.
struct GapWatch {
    stop: Arc<AtomicBool>,
    watcher: std::thread::JoinHandle<watch::Gap>,
}

fn watch_gap_of(post_office: &str, net: &Network) -> GapWatch {
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (net, stop) = (net.clone(), stop.clone());
        let moving = vec![wire_format::Name::new(post_office).unwrap()];
        std::thread::spawn(move || watch::watch_gap(&net, &moving, stop))
    };
    // A first sample before anything moves.
    std::thread::sleep(Duration::from_millis(300));
    GapWatch { stop, watcher }
}

impl GapWatch {
    fn stop(self) -> watch::Gap {
        self.stop.store(true, Ordering::Relaxed);
        self.watcher.join().unwrap()
    }
}

#[test]
fn migrate_by_each_method_roll_back_then_move_a_wave_under_load() {
    let (_dir, guard) = up("netctl-migrate");
    let data = guard.0.clone();
    let net = Network::open(&data).unwrap();
    gals_complete(&net);
    let load = Load::start(&net, 15);
    std::thread::sleep(Duration::from_secs(1));

    // The patent method, watched: the watch must see its C-to-G window, or
    // its silence during the handover below would prove nothing.
    let watching = watch_gap_of("POC", &net);
    let out = netctl(
        &data,
        &[
            "--json", "migrate", "POC", "--to", "H2", "--method", "patent",
        ],
    );
    let report = succeeded("migrate POC --to H2 --method patent", &out);
    let gap = watching.stop();
    assert!(
        !gap.pairs.is_empty(),
        "the watch saw no gap during the patent method: {gap:?}"
    );
    assert!(report.contains("\"moved\":[\"POC\"]"), "{report}");
    assert_eq!(placement(&data, "POC").as_deref(), Some("H2"));

    let out = netctl(&data, &["rollback", "POC"]);
    succeeded("rollback POC", &out);
    assert_eq!(placement(&data, "POC").as_deref(), Some("H"));
    gals_complete(&net);

    // The handover method, watched: no other post office may lose sight of
    // any of POC's users at any moment.
    let watching = watch_gap_of("POC", &net);
    let out = netctl(
        &data,
        &["migrate", "POC", "--to", "H2", "--method", "handover"],
    );
    succeeded("migrate POC --to H2 --method handover", &out);
    let gap = watching.stop();
    assert!(gap.samples > 3, "the watch sampled the GALs: {gap:?}");
    assert!(gap.pairs.is_empty(), "GAL gap during a handover: {gap:?}");
    assert_eq!(placement(&data, "POC").as_deref(), Some("H2"));

    // The default method, for a wave of two.
    let out = netctl(&data, &["migrate", "POA", "POB", "--to", "H2"]);
    let text = succeeded("migrate POA POB --to H2", &out);
    assert!(text.contains("migrated POA, POB to H2"), "{text}");
    assert!(text.contains("by the handover method"), "{text}");
    assert_eq!(placement(&data, "POA").as_deref(), Some("H2"));
    assert_eq!(placement(&data, "POB").as_deref(), Some("H2"));

    let (mails, changes) = load.finish(&net);
    assert!(mails > 0);
    eprintln!("{mails} mails and {changes} directory changes crossed four migrations");
    gals_complete(&net);

    // What the operator reads: POD's GAL, only POC's users, as POC has them.
    let out = netctl(&data, &["--json", "gal", "POD", "--of", "POC"]);
    let listed: Vec<serde_json::Value> =
        serde_json::from_str(&succeeded("gal POD --of POC", &out)).unwrap();
    let listed: Vec<&str> = listed
        .iter()
        .map(|e| e["address"].as_str().unwrap())
        .collect();
    let poc = wire_format::Name::new("POC").unwrap();
    let own: Vec<String> = net
        .directory_of(
            netctl::migrate::plan::Target::new(poc, netctl::topology::RoleKind::DsRequestor),
            Some(poc),
        )
        .unwrap()
        .iter()
        .map(|e| e.address.to_string())
        .collect();
    assert!(!own.is_empty());
    assert_eq!(listed, own);
}

#[test]
fn a_migration_killed_midway_with_its_bridge_resumes_when_run_again() {
    let (_dir, guard) = up("netctl-resume");
    let data = guard.0.clone();
    let net = Network::open(&data).unwrap();
    gals_complete(&net);

    let patent = ["migrate", "POC", "--to", "H2", "--method", "patent"];
    let mut first = spawn_netctl(&data, &patent);
    // Killed once step C (the purge at H) is under way: the old network has
    // already lost POC's users, the worst moment to stop.
    let reached = wait_until(Duration::from_secs(60), Duration::from_millis(10), || {
        journal::load(&data).ok().flatten().is_some_and(|j| {
            j.steps
                .iter()
                .any(|s| s.step >= netctl::migrate::plan::StepId::C)
        })
    });
    first.kill().unwrap();
    let _ = first.wait();
    assert!(reached, "the migration never reached step C");
    let state = netctl::state::NetworkState::load(&data).unwrap();
    for p in state.processes.iter().filter(|p| p.node == "H3") {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &p.pid.to_string()])
            .status();
    }
    let began = Instant::now();
    let out = netctl(&data, &patent);
    let text = succeeded("migrate POC --to H2, run again", &out);
    assert!(text.contains("resuming"), "{text}");
    assert!(
        text.contains("restarted H3."),
        "the dead bridge was restarted: {text}"
    );
    assert_eq!(placement(&data, "POC").as_deref(), Some("H2"));
    assert!(
        journal::load(&data).unwrap().is_none(),
        "the journal is closed"
    );
    eprintln!("resumed and finished in {:?}", began.elapsed());
    let net = Network::open(&data).unwrap();
    gals_complete(&net);
    assert_eq!(verify::gal_gaps(&net).unwrap(), None);
}
