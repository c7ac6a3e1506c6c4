//! `netctl dashboard` in a real browser: headless Chromium (Debian's
//! `chromium`, driven through the Chrome DevTools Protocol by
//! `scripts/cdp_driver.py`) loads the page while POC migrates to H2 by the
//! patent's method, and the page, never reloaded, follows it: every node of
//! the topology drawn, the current step moving through A-G, F1 (the bridge's
//! import folder, the patent's gauge) shrinking as POC's users leave H. A
//! screenshot is kept in the test's output directory.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use integration_tests::netctl_run::{spawn_netctl, succeeded, up_network};
use integration_tests::wait_until;
use serde_json::Value;

/// POC with enough users that each migration step lasts long enough for
/// the page, polling once a second, to show it.
const POC_USERS: u32 = 5_000;

const NODES: [&str; 7] = ["H", "H2", "H3", "POA", "POB", "POC", "POD"];

/// What the test reads off the page at each sample.
const PAGE_STATE: &str = r#"JSON.stringify({
  loadedAt: window.dashboardLoadedAt || null,
  updates: Number(document.body.dataset.updates || 0),
  nodes: [...document.querySelectorAll("[data-node]")].map(e => e.dataset.node),
  pocHub: (document.querySelector('[data-node="POC"]') || { dataset: {} }).dataset.hub || null,
  step: (document.getElementById("current-step") || {}).textContent || null,
  migration: (document.getElementById("migration-state") || {}).textContent || null,
  events: [...document.querySelectorAll('#history td:nth-child(3)')].map(e => e.textContent),
  f1: Number((document.querySelector('[data-folder="F1"] .folder-count') || {}).textContent || NaN)
})"#;

fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return path.into();
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect(
            "Chromium is needed for the dashboard test: apt-get install chromium (.ci/run does)",
        )
}

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn topology() -> String {
    let base = netctl::demo::PATENT_TOPOLOGY;
    let poc = base.find("name = \"POC\"").expect("POC in the example");
    let at = poc
        + base[poc..]
            .find("generate_users = ")
            .expect("POC generates users");
    let end = at + base[at..].find('\n').expect("a line end");
    format!(
        "{}generate_users = {POC_USERS}{}",
        &base[..at],
        &base[end..]
    )
}

/// The page's samples so far, read by a thread from the driver's stdout.
fn collect_samples(driver: &mut Child) -> Arc<Mutex<Vec<Value>>> {
    let samples = Arc::new(Mutex::new(Vec::new()));
    let stdout = driver.stdout.take().expect("driver stdout");
    let into = samples.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                into.lock().unwrap().push(v);
            }
        }
    });
    samples
}

#[test]
fn the_dashboard_follows_a_migration_live_in_chromium() {
    let begun = std::time::Instant::now();
    let net = up_network("dashboard", &topology());
    let data = net.data.clone();
    eprintln!("up took {:?}", begun.elapsed());

    let mut dashboard = KillOnDrop(spawn_netctl(&data, &["dashboard"]));
    let mut first = String::new();
    BufReader::new(dashboard.0.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .strip_prefix("dashboard ")
        .map(str::trim)
        .unwrap_or_else(|| panic!("first line names the page: {first:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "on loopback: {url}");

    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&out_dir).unwrap();
    let screenshot = out_dir.join("after-migration.png");
    let during = out_dir.join("during-migration.png");
    for shot in [&screenshot, &during] {
        let _ = std::fs::remove_file(shot);
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/cdp_driver.py");
    let mut driver = KillOnDrop(
        Command::new("python3")
            .arg(&script)
            .arg(chromium())
            .arg(&url)
            .arg(&screenshot)
            .arg(PAGE_STATE)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the CDP driver"),
    );
    let samples = collect_samples(&mut driver.0);
    let drawn = |v: &Value| {
        v["nodes"]
            .as_array()
            .is_some_and(|n| n.len() == NODES.len())
    };
    assert!(
        wait_until(Duration::from_secs(60), Duration::from_millis(100), || {
            samples.lock().unwrap().iter().any(drawn)
        }),
        "the page never drew the network: {:?}",
        samples.lock().unwrap().last()
    );

    // `up` returns once every process serves; the bridge is still importing
    // H's directory. The gauge starts full: every user of POA, POB and POC.
    let full = f64::from(POC_USERS) + 11.0;
    assert!(
        wait_until(Duration::from_secs(120), Duration::from_millis(100), || {
            samples
                .lock()
                .unwrap()
                .last()
                .and_then(|v| v["f1"].as_f64())
                == Some(full)
        }),
        "F1 never showed H's whole directory ({full}): {:?}",
        samples.lock().unwrap().last()
    );
    eprintln!("F1 full after {:?}", begun.elapsed());
    let started = std::time::Instant::now();
    let migrate = spawn_netctl(
        &data,
        &["migrate", "POC", "--to", "H2", "--method", "patent"],
    );
    // A picture of the page in the middle of the wave, for the record.
    let mid_wave = wait_until(Duration::from_secs(120), Duration::from_millis(50), || {
        samples.lock().unwrap().last().is_some_and(|v| {
            v["step"]
                .as_str()
                .is_some_and(|s| s.starts_with('C') || s.starts_with('D'))
        })
    });
    if mid_wave {
        let mut stdin = driver.0.stdin.as_ref().expect("driver stdin");
        writeln!(stdin, "shot {}", during.display()).unwrap();
    }
    let migrate = migrate.wait_with_output().unwrap();
    succeeded("netctl migrate", &migrate);
    eprintln!("migration took {:?}", started.elapsed());
    // The page polls once a second: let it catch up with the end.
    let ended = wait_until(Duration::from_secs(20), Duration::from_millis(100), || {
        samples.lock().unwrap().last().is_some_and(|v| {
            v["pocHub"] == "H2"
                && v["migration"]
                    .as_str()
                    .is_some_and(|m| m.contains("migrated"))
        })
    });

    drop(driver.0.stdin.take());
    let status = driver.0.wait().unwrap();
    assert!(status.success(), "the CDP driver failed: {status}");
    let samples = samples.lock().unwrap().clone();
    assert!(
        ended,
        "the page never showed the wave's end: {:?}",
        samples.last()
    );

    // From the migration's start (F1 full) on.
    let page: Vec<&Value> = samples
        .iter()
        .skip_while(|v| v["f1"].as_f64() != Some(full))
        .filter(|v| drawn(v))
        .collect();
    for v in &page {
        let mut nodes: Vec<&str> = v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        nodes.sort_unstable();
        assert_eq!(nodes, NODES, "every node drawn in {v}");
    }
    let loads: std::collections::BTreeSet<String> =
        page.iter().map(|v| v["loadedAt"].to_string()).collect();
    assert_eq!(loads.len(), 1, "the page was never reloaded: {loads:?}");
    let updates: Vec<u64> = page.iter().filter_map(|v| v["updates"].as_u64()).collect();
    assert!(
        updates.last() > updates.first(),
        "the page redrew itself: {updates:?}"
    );

    let steps: Vec<String> = page
        .iter()
        .filter_map(|v| v["step"].as_str())
        .map(|s| s.split_whitespace().next().unwrap_or("").to_owned())
        .fold(Vec::new(), |mut seen, s| {
            if seen.last() != Some(&s) {
                seen.push(s);
            }
            seen
        });
    assert!(
        steps.len() >= 3,
        "the current step moved through the wave: {steps:?}"
    );
    let mut sorted = steps.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), steps.len(), "steps shown in order: {steps:?}");

    let f1: Vec<f64> = page.iter().filter_map(|v| v["f1"].as_f64()).collect();
    let (start, end) = (f1[0], f1[f1.len() - 1]);
    // POC's generated users and its one seed user leave H's directory.
    assert_eq!(
        start - end,
        f64::from(POC_USERS) + 1.0,
        "F1 shrank by POC's users while the page watched: {f1:?}"
    );
    // The latest events: the wave's steps among the processes' own.
    let events: Vec<&str> = samples
        .last()
        .and_then(|v| v["events"].as_array())
        .map(|e| e.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        events.iter().any(|e| e.starts_with("migration POC -> H2")),
        "the page lists the migration's steps among the latest events: {events:?}"
    );
    for shot in [&during, &screenshot] {
        assert!(shot.exists(), "screenshot at {}", shot.display());
        eprintln!("dashboard screenshot: {}", shot.display());
    }
}
