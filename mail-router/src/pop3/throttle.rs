//! Failed POP3 logins slow the next attempts, counted per mailbox and per
//! client address: an attempt is checked only after
//! `min(STEP × recent failures, CAP)` (0.1 s per failure, at most 0.5 s),
//! the larger of its mailbox's and its address's, where recent failures
//! halve every [`HALF_LIFE`]. So 200 wrong passwords take over a minute and
//! a half (1 s for the first five, then 0.5 s each), while the right
//! password, even during an attack, waits at most `CAP`: the delay is no
//! lock-out weapon. The shell also takes one login of a client address at
//! a time, so that parallel connections from one address gain nothing; an
//! attacker with many addresses gains one guess per address per `CAP` at
//! most, the price of never locking the owner out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const STEP: Duration = Duration::from_millis(100);
pub const CAP: Duration = Duration::from_millis(500);
pub const HALF_LIFE: Duration = Duration::from_secs(15 * 60);
/// Records kept per table: past it, faded ones are forgotten, and a new
/// name or address is not tracked until there is room (its attempts are
/// still slowed by the other table), so memory stays bounded.
const MAX_TRACKED: usize = 10_000;

/// The wait before checking a login after `failures` recent failures.
pub fn delay_for(failures: f64) -> Duration {
    STEP.mul_f64(failures.max(0.0)).min(CAP)
}

#[derive(Clone, Copy)]
struct Record {
    failures: f64,
    at: Instant,
}

impl Record {
    fn now(&self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.failures * 0.5f64.powf(elapsed / HALF_LIFE.as_secs_f64())
    }
}

#[derive(Default)]
struct Tables {
    by_login: HashMap<String, Record>,
    by_address: HashMap<IpAddr, Record>,
}

#[derive(Default)]
pub struct Throttle {
    tables: Mutex<Tables>,
}

fn failures<K: std::hash::Hash + Eq>(table: &HashMap<K, Record>, key: &K, now: Instant) -> f64 {
    table.get(key).map_or(0.0, |r| r.now(now))
}

fn add_failure<K: std::hash::Hash + Eq>(table: &mut HashMap<K, Record>, key: K, now: Instant) {
    if table.len() >= MAX_TRACKED && !table.contains_key(&key) {
        // Forget what has faded below one failure's worth of delay.
        table.retain(|_, r| r.now(now) >= 0.5);
        if table.len() >= MAX_TRACKED {
            return;
        }
    }
    let failures = failures(table, &key, now) + 1.0;
    table.insert(key, Record { failures, at: now });
}

impl Throttle {
    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long a login of `key` from `address` waits before it is checked.
    pub fn delay(&self, address: IpAddr, key: &str, now: Instant) -> Duration {
        let t = self.tables();
        let by_login = failures(&t.by_login, &key.to_owned(), now);
        let by_address = failures(&t.by_address, &address, now);
        delay_for(by_login.max(by_address))
    }

    pub fn failed(&self, address: IpAddr, key: &str, now: Instant) {
        let mut t = self.tables();
        add_failure(&mut t.by_login, key.to_owned(), now);
        add_failure(&mut t.by_address, address, now);
    }

    /// A right password from `address`: its own typing errors are forgiven.
    /// The mailbox's count stays, or an attacker who also knows another
    /// user's password could reset it at will.
    pub fn succeeded(&self, address: IpAddr) {
        self.tables().by_address.remove(&address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    /// Equal to the microsecond: the schedule is computed in floating point.
    fn close(a: Duration, b: Duration) -> bool {
        a.abs_diff(b) < Duration::from_micros(1)
    }

    #[test]
    fn two_hundred_wrong_passwords_take_over_a_minute_and_the_cap_bounds_each_wait() {
        let t = Throttle::default();
        let start = Instant::now();
        let mut now = start;
        for _ in 0..200 {
            let wait = t.delay(A, "CAROL", now);
            assert!(wait <= CAP);
            now += wait;
            t.failed(A, "CAROL", now);
        }
        assert!(now - start >= Duration::from_secs(60), "{:?}", now - start);
        // The right password, from anywhere, waits at most the cap.
        assert!(t.delay(B, "CAROL", now) <= CAP);
    }

    #[test]
    fn failures_count_per_mailbox_and_per_address() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..5 {
            t.failed(A, "CAROL", now);
        }
        assert!(close(t.delay(B, "CAROL", now), STEP * 5));
        assert!(close(t.delay(A, "DAVE", now), STEP * 5));
        assert_eq!(t.delay(B, "DAVE", now), Duration::ZERO);
        t.succeeded(A);
        assert_eq!(t.delay(A, "DAVE", now), Duration::ZERO);
        assert!(close(t.delay(A, "CAROL", now), STEP * 5));
    }

    #[test]
    fn failures_fade() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..8 {
            t.failed(A, "CAROL", now);
        }
        assert!(close(t.delay(A, "CAROL", now + HALF_LIFE), STEP * 4));
    }

    #[test]
    fn the_tables_stay_bounded() {
        let t = Throttle::default();
        let now = Instant::now();
        for i in 0..(MAX_TRACKED + 10) {
            t.failed(A, &format!("name{i}"), now);
        }
        assert!(t.tables().by_login.len() <= MAX_TRACKED);
        // The address is still counted, so the flood of names is slowed.
        assert_eq!(t.delay(A, "fresh", now), CAP);
    }
}
