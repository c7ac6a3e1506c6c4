//! The machine's SMTP ceiling: the bench's load into Postfix's `smtp-sink`,
//! which answers every command at once and keeps nothing. `smtp-sink` is a
//! single thread too, so each generator gets a sink of its own.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::mail::free_port;
use integration_tests::wait_until;

use crate::load::Load;
use crate::machine::{busy, ended_children_cpu, format_cpu, machine_ticks, spent};

/// The ceiling in messages/s.
pub fn measure(load: &Load) -> Result<f64, String> {
    let mut sinks = Vec::new();
    for _ in 0..load.generators {
        match Sink::start() {
            Ok(sink) => sinks.push(sink),
            Err(e) => {
                stop(&mut sinks);
                return Err(e);
            }
        }
    }
    run(load, &mut sinks)
}

/// Kills and waits for every sink: once waited for, their CPU time counts
/// among this process's ended children.
fn stop(sinks: &mut [Sink]) {
    for sink in sinks {
        let _ = sink.process.kill();
        let _ = sink.process.wait();
    }
}

struct Sink {
    process: Child,
    address: String,
}

impl Sink {
    fn start() -> Result<Sink, String> {
        let address = format!("127.0.0.1:{}", free_port());
        let mut sink = Command::new("smtp-sink");
        // As root it must be told whom to run as.
        if std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        }) {
            sink.args(["-u", "nobody"]);
        }
        // The last argument is its accept queue, as long as the routers' own.
        let mut process = sink
            .args([address.as_str(), "1024"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start smtp-sink: {e}"))?;
        let listening = wait_until(Duration::from_secs(10), Duration::from_millis(10), || {
            matches!(process.try_wait(), Ok(Some(_)))
                || std::net::TcpStream::connect(&address).is_ok()
        });
        if let Ok(Some(status)) = process.try_wait() {
            let mut why = String::new();
            if let Some(mut stderr) = process.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut stderr, &mut why);
            }
            return Err(format!("smtp-sink exited ({status}): {}", why.trim()));
        }
        if !listening {
            let _ = process.kill();
            let _ = process.wait();
            return Err("smtp-sink did not listen within 10 s".into());
        }
        Ok(Sink { process, address })
    }
}

fn run(load: &Load, sinks: &mut [Sink]) -> Result<f64, String> {
    let addresses: Vec<String> = sinks.iter().map(|s| s.address.clone()).collect();
    let (machine_before, started) = (machine_ticks(), Instant::now());
    let children_before = ended_children_cpu();
    let submitted = load.submit(&addresses).map(|()| started.elapsed());
    let machine = spent(machine_ticks(), machine_before);
    let generators = ended_children_cpu();
    stop(sinks);
    let elapsed = submitted?;
    let cpu = |t: Option<(u64, u64)>| t.map_or_else(|| "?".into(), format_cpu);
    let rate = load.messages as f64 / elapsed.as_secs_f64();
    println!(
        "ceiling: the same load into smtp-sink, one per generator (answers at once, keeps \
         nothing): {} messages in {:.2} s: {rate:.0} messages/s",
        load.messages,
        elapsed.as_secs_f64(),
    );
    println!(
        "ceiling: CPU time smtp-source {}, smtp-sink {}; the machine was busy {}",
        cpu(spent(generators, children_before)),
        cpu(spent(ended_children_cpu(), generators)),
        busy(machine)
    );
    Ok(rate)
}
