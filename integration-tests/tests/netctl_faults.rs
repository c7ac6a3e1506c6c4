//! The operator's ordinary faults around `netctl`, every role a real process
//! started by `netctl up` on a small network (POC on H, POD on H2):
//!
//! * a process that dies during a wave's final verification is restarted,
//!   and a wave whose verification failed is resumed by the same command;
//! * `down` then `up` after a migration keeps every port, so the moved post
//!   office's changes still reach the network;
//! * a network started with a relative `--data-dir` is healed from another
//!   working directory;
//! * a second `migrate`/`rollback` while one runs is refused at once, naming
//!   the one that runs; a wave naming a post office twice is refused at once.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use integration_tests::netctl_run::{
    NetworkGuard, netctl, netctl_in, spawn_netctl, spawn_netctl_in, succeeded,
};
use integration_tests::{test_dir, wait_until};
use netctl::migrate::journal;
use netctl::migrate::plan::StepId;
use netctl::migrate::verify;
use netctl::network::Network;
use netctl::state::NetworkState;
use netctl::topology::RoleKind;

/// Two post offices, so a test's network is 12 processes, not 16.
const SMALL: &str = r#"
network = "ACME"
[old_hub]
name = "H"
[new_hub]
name = "H2"
[bridge]
name = "H3"
[[post_offices]]
name = "POC"
hub = "H"
users = [{ mailbox = "BBROWN", display_name = "Bob Brown", password = "bbrown-pop3-password" }]
generate_users = 2
[[post_offices]]
name = "POD"
hub = "H2"
users = [{ mailbox = "AJONES", display_name = "Alice Jones", password = "ajones-pop3-password" }]
generate_users = 2
"#;

/// One network at a time: the machine running the suite may have two cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

struct Net {
    dir: tempfile::TempDir,
    data: PathBuf,
    guard: NetworkGuard,
}

fn topology_file(dir: &Path) -> PathBuf {
    let topology = dir.join("small.toml");
    std::fs::write(&topology, SMALL).unwrap();
    topology
}

fn up(label: &str) -> Net {
    let dir = test_dir(label);
    let topology = topology_file(dir.path());
    let data = dir.path().join("net");
    let out = netctl(&data, &["up", topology.to_str().unwrap()]);
    let guard = NetworkGuard(data.clone());
    succeeded("netctl up", &out);
    Net { dir, data, guard }
}

struct Quiet;
impl netctl::migrate::run::Progress for Quiet {
    fn step_started(&mut self, _: StepId, _: &str) {}
    fn waiting(&mut self, _: StepId, _: &str) {}
    fn step_done(&mut self, _: StepId, _: Duration) {}
    fn note(&mut self, _: &str) {}
}

fn gals_complete(data: &Path) {
    let mut net = Network::open(data).unwrap();
    verify::wait_for_complete_gals(&mut net, Duration::from_secs(60), &mut Quiet)
        .expect("every GAL equals the whole directory");
}

fn process(data: &Path, node: &str, role: RoleKind) -> netctl::state::ProcessState {
    NetworkState::load(data)
        .unwrap()
        .process(node, role)
        .unwrap_or_else(|| panic!("{node}.{role} in network.toml"))
        .clone()
}

fn kill(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
            !netctl::supervisor::alive(pid)
        }),
        "pid {pid} did not die"
    );
}

fn placement(data: &Path, po: &str) -> Option<String> {
    journal::Placement::load(data)
        .unwrap()
        .hubs
        .get(po)
        .cloned()
}

/// Waits until the wave's steps are all done (its verification runs now):
/// step G finished in the journal, or (as netctl did before) the journal
/// already closed with the post office placed on `to`.
fn wait_for_verification(data: &Path, po: &str, to: &str) {
    let reached =
        wait_until(
            Duration::from_secs(120),
            Duration::from_millis(5),
            || match journal::load(data) {
                Ok(Some(j)) => j
                    .steps
                    .iter()
                    .any(|s| s.step == StepId::G && s.finished_ms.is_some()),
                Ok(None) => placement(data, po).as_deref() == Some(to),
                Err(_) => false,
            },
        );
    assert!(reached, "the wave never finished its steps");
}

fn output(child: Child) -> (bool, String, String) {
    let out = child.wait_with_output().expect("netctl ran");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_process_dying_during_the_verification_is_restarted_and_a_failed_verification_resumes() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let net = up("netctl-verify-death");
    let data = net.data.clone();
    gals_complete(&data);

    // POC's mail router dies once the steps are done: the test mails to and
    // from POC need it, and the verification must bring it back.
    let migrate = ["migrate", "POC", "--to", "H2", "--verify-timeout", "60"];
    let first = spawn_netctl(&data, &migrate);
    wait_for_verification(&data, "POC", "H2");
    kill(process(&data, "POC", RoleKind::MailRouter).pid);
    let (ok, stdout, stderr) = output(first);
    assert!(
        ok,
        "the verification restarts a process that died:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("restarted POC.mail-router"), "{stdout}");
    assert!(
        journal::load(&data).unwrap().is_none(),
        "the wave is closed"
    );

    // The rollback's router dies and cannot come back (its config is gone):
    // the verification fails, the wave stays journaled, and once the config
    // is back the same command resumes it instead of refusing.
    let router = process(&data, "POC", RoleKind::MailRouter);
    let hidden = router.config.with_extension("hidden");
    let rollback = ["rollback", "POC", "--verify-timeout", "20"];
    let first = spawn_netctl(&data, &rollback);
    wait_for_verification(&data, "POC", "H");
    std::fs::rename(&router.config, &hidden).unwrap();
    kill(router.pid);
    let (ok, stdout, stderr) = output(first);
    std::fs::rename(&hidden, &router.config).unwrap();
    assert!(!ok, "a router that cannot start fails the verification");
    assert!(
        stderr.contains("POC.mail-router") && stderr.contains("run the same command again"),
        "{stderr}"
    );
    assert!(
        journal::load(&data).unwrap().is_some(),
        "a wave whose verification failed stays journaled:\n{stdout}\n{stderr}"
    );
    let out = netctl(&data, &rollback);
    let text = succeeded("rollback POC, run again", &out);
    assert!(
        text.contains("only its final verification is left"),
        "{text}"
    );
    assert!(text.contains("restarted POC.mail-router"), "{text}");
    assert!(
        journal::load(&data).unwrap().is_none(),
        "the wave is closed"
    );
    assert_eq!(placement(&data, "POC").as_deref(), Some("H"));
    assert!(netctl::supervisor::alive(
        process(&data, "POC", RoleKind::MailRouter).pid
    ));
    drop(net.guard);
}

#[test]
fn a_network_restarted_after_a_migration_keeps_its_ports_and_the_moved_post_office_syncs() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let net = up("netctl-down-up");
    let data = net.data.clone();
    gals_complete(&data);
    succeeded(
        "migrate POC --to H2",
        &netctl(&data, &["migrate", "POC", "--to", "H2"]),
    );
    let endpoints = |data: &Path| -> Vec<_> {
        NetworkState::load(data)
            .unwrap()
            .processes
            .into_iter()
            .map(|p| (p.id, p.endpoints))
            .collect()
    };
    let before = endpoints(&data);

    succeeded("down", &netctl(&data, &["down"]));
    let topology = topology_file(net.dir.path());

    // A kept port taken by another program meanwhile: `up` says which.
    let smtp = before
        .iter()
        .find(|(id, _)| id == "POC.mail-router")
        .and_then(|(_, e)| e.get("smtp"))
        .expect("POC's SMTP listener")
        .clone();
    let squatter = std::net::TcpListener::bind(&smtp).unwrap();
    let out = netctl(&data, &["up", topology.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "up on a taken port fails");
    let port = smtp.rsplit(':').next().unwrap();
    assert!(
        stderr.contains(&format!("port {port} of POC.mail-router (smtp)")),
        "{stderr}"
    );
    drop(squatter);

    succeeded(
        "up again",
        &netctl(&data, &["up", topology.to_str().unwrap()]),
    );

    // A change at the moved post office reaches every GAL.
    succeeded(
        "user add POC NEWUSER",
        &netctl(&data, &["user", "add", "POC", "NEWUSER", "New User"]),
    );
    gals_complete(&data);
    let net_now = Network::open(&data).unwrap();
    for (po, gal) in verify::gals(&net_now).unwrap() {
        assert!(
            gal.iter().any(|(address, _)| address == "ACME/POC/NEWUSER"),
            "{po}'s GAL has POC's new user: {gal:?}"
        );
    }
    assert_eq!(endpoints(&data), before, "every listener kept its port");
    drop(net.guard);
}

#[test]
fn a_network_started_with_a_relative_data_dir_is_healed_from_another_directory() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = test_dir("netctl-relative");
    let (here, elsewhere) = (dir.path().join("here"), dir.path().join("elsewhere"));
    std::fs::create_dir_all(&here).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    let topology = topology_file(dir.path());
    let data = here.join("net");
    let out = netctl_in(&here, Path::new("net"), &["up", topology.to_str().unwrap()]);
    let guard = NetworkGuard(data.clone());
    succeeded("netctl up --data-dir net", &out);
    gals_complete(&data);

    // POC's requestor dies; a migration run from another directory must
    // restart it with the same config and store.
    kill(process(&data, "POC", RoleKind::DsRequestor).pid);
    let out = netctl_in(&elsewhere, &data, &["migrate", "POC", "--to", "H2"]);
    let text = succeeded("migrate from another directory", &out);
    assert!(text.contains("restarted POC.ds-requestor"), "{text}");
    assert_eq!(placement(&data, "POC").as_deref(), Some("H2"));
    assert!(
        !elsewhere.join("net").exists(),
        "nothing was written relative to the other directory"
    );
    gals_complete(&data);
    let state = NetworkState::load(&data).unwrap();
    for p in &state.processes {
        for path in [&p.config, &p.data_dir, &p.stdout, &p.stderr] {
            assert!(path.is_absolute(), "{}: {}", p.id, path.display());
        }
    }
    drop(guard);
}

#[test]
fn a_second_migration_is_refused_at_once_naming_the_one_running_and_duplicates_are_refused() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let net = up("netctl-lock");
    let data = net.data.clone();
    gals_complete(&data);

    let began = Instant::now();
    let out = netctl(&data, &["migrate", "POC", "POC", "--to", "H2"]);
    assert!(!out.status.success(), "a wave naming POC twice is refused");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("POC is named more than once"), "{stderr}");
    assert!(began.elapsed() < Duration::from_secs(10), "refused at once");
    assert!(journal::load(&data).unwrap().is_none(), "nothing started");

    let first = spawn_netctl_in(
        net.dir.path(),
        &data,
        &["migrate", "POC", "--to", "H2", "--method", "patent"],
    );
    let started = wait_until(Duration::from_secs(30), Duration::from_millis(5), || {
        journal::load(&data).ok().flatten().is_some()
    });
    assert!(started, "the first migration journaled its wave");
    let began = Instant::now();
    let second = netctl(&data, &["rollback", "POC"]);
    let refused_in = began.elapsed();
    let pid = first.id();
    let still_running = netctl::supervisor::alive(pid);
    let stderr = String::from_utf8_lossy(&second.stderr).into_owned();
    let (ok, stdout, first_err) = output(first);
    assert!(still_running, "the first migration was still running");
    assert!(!second.status.success(), "the second command is refused");
    assert!(
        stderr.contains("`netctl migrate POC --to H2`") && stderr.contains(&format!("pid {pid}")),
        "the refusal names the running command and its pid: {stderr}"
    );
    assert!(refused_in < Duration::from_secs(5), "refused at once");
    assert!(ok, "the first migration finished:\n{stdout}\n{first_err}");
    assert_eq!(placement(&data, "POC").as_deref(), Some("H2"));
    drop(net.guard);
}
