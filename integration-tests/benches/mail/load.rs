//! The load: Postfix's `smtp-source` sending messages of 2 KiB from
//! jsmith@poa.acme to klee@pob.acme, split over several `smtp-source`
//! processes. One `smtp-source` is a single thread; on this 2-core machine
//! it used 75% of a core against mhub and left the machine 12-13% idle,
//! so it, not the server, bounded the rate. The same split is used for mhub,
//! the ceiling and Postfix.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Load {
    pub messages: usize,
    pub sessions: usize,
    /// `smtp-source -d`: each session's messages over one connection.
    pub reuse: bool,
    /// `smtp-source` processes sharing the messages and sessions.
    pub generators: usize,
}

impl Load {
    /// For the reports.
    pub fn describe(&self) -> String {
        format!(
            "{} messages of 2 KiB over {} SMTP sessions ({}) from {} smtp-source process{}",
            self.messages,
            self.sessions,
            if self.reuse {
                "one connection per session"
            } else {
                "one connection per message"
            },
            self.generators,
            if self.generators == 1 { "" } else { "es" }
        )
    }

    /// Generator `g`'s share of `total` (the first ones take the rest).
    fn share(&self, total: usize, g: usize) -> usize {
        total / self.generators + usize::from(g < total % self.generators)
    }

    /// `smtp-source`'s arguments for generator `g` into `server`.
    pub fn args(&self, g: usize, server: &str) -> Vec<String> {
        let mut args: Vec<String> = self.reuse.then(|| "-d".to_owned()).into_iter().collect();
        args.extend(
            [
                "-s",
                &self.share(self.sessions, g).max(1).to_string(),
                "-m",
                &self.share(self.messages, g).to_string(),
                "-l",
                "2048",
                "-f",
                "jsmith@poa.acme",
                "-t",
                "klee@pob.acme",
                server,
            ]
            .map(str::to_owned),
        );
        args
    }

    /// Runs every generator at once, until all are done: generator `g`
    /// against `servers[g % servers.len()]`.
    pub fn submit(&self, servers: &[String]) -> Result<(), String> {
        if servers.is_empty() {
            return Err("no server to send to".into());
        }
        let generators: Vec<_> = (0..self.generators)
            .map(|g| {
                let args = self.args(g, &servers[g % servers.len()]);
                std::thread::spawn(move || {
                    run(
                        Command::new("smtp-source").args(args),
                        Duration::from_secs(600),
                    )
                })
            })
            .collect();
        let mut outcome = Ok(());
        for generator in generators {
            let result = generator
                .join()
                .map_err(|_| "a generator thread panicked".to_owned())
                .and_then(|r| r);
            if let Err(e) = result {
                outcome = Err(format!("smtp-source failed: {e}"));
            }
        }
        outcome
    }
}

/// Runs `cmd` to completion, killing it after `within`; its output.
pub fn run(cmd: &mut Command, within: Duration) -> Result<String, String> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + within;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {within:?}"));
            }
        }
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{}: {text}", out.status))
    }
}
