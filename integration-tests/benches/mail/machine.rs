//! What the kernel says about CPU time: of a router, of the ended load
//! generators, of the whole machine.

use integration_tests::mail::Router;

/// Clock ticks (USER_HZ, 100 a second on Linux) from a /proc stat line:
/// `fields[i]` and `fields[i + 1]` of what follows the command name, which
/// is in parentheses.
fn stat_ticks(stat: &str, i: usize) -> Option<(u64, u64)> {
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some((
        fields.get(i)?.parse().ok()?,
        fields.get(i + 1)?.parse().ok()?,
    ))
}

fn seconds(ticks: u64) -> f64 {
    ticks as f64 / 100.0
}

pub fn format_cpu((user, system): (u64, u64)) -> String {
    format!(
        "{:.2} s ({:.2} user, {:.2} system)",
        seconds(user + system),
        seconds(user),
        seconds(system)
    )
}

/// CPU time a running process has used so far: user + system (user,
/// system).
pub fn cpu(router: &Router) -> String {
    router
        .process
        .pid()
        .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .and_then(|stat| stat_ticks(&stat, 11))
        .map_or_else(|| "?".into(), format_cpu)
}

/// User and system time of this process's children that have ended (the
/// load generator, once it has been waited for).
pub fn ended_children_cpu() -> Option<(u64, u64)> {
    stat_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?, 13)
}

/// The machine's (busy, all) clock ticks so far, over every core.
pub fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...: idle and iowait
    // are the time no core had work.
    let all: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some((all - idle, all))
}

/// `after - before` of two readings, when both were read.
pub fn spent(after: Option<(u64, u64)>, before: Option<(u64, u64)>) -> Option<(u64, u64)> {
    after
        .zip(before)
        .map(|(a, b)| (a.0.saturating_sub(b.0), a.1.saturating_sub(b.1)))
}

/// How busy the machine was between two `machine_ticks` readings.
pub fn busy(machine: Option<(u64, u64)>) -> String {
    machine.map_or_else(
        || "?".into(),
        |(busy, all)| format!("{:.0}% of the run", 100.0 * busy as f64 / all.max(1) as f64),
    )
}
