//! Group commit. Every custody change (a message taken from an SMTP client
//! or a peer, messages a peer acknowledged) goes through one committer
//! thread, which folds whatever is waiting into a single transaction: one
//! disk sync for twenty concurrent SMTP sessions instead of twenty. Each
//! caller is answered only after the transaction holding its change has
//! committed, so nothing is acknowledged before it is durable.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};
use wire_format::MailTransfer;

use super::{Shared, now_ms};
use crate::MailError;
use crate::store::{Queued, Taken};
use crate::trace;

/// Changes waiting for the committer at most; senders wait beyond that.
const QUEUE: usize = 4096;
/// Messages folded into one transaction at most.
const MAX_BATCH: usize = 4096;
/// A batch smaller than this, with no SMTP client waiting on it, waits up
/// to `LINGER` for more: a peer keeps a window of 256 transfers in flight
/// (some 50 ms of mail at 5,000 messages/s), so a few milliseconds more per
/// hop cost it no throughput, while every commit has a fixed cost (the
/// disk sync, the header and allocator pages) that fewer, larger commits
/// share. A client's job ends the wait at once.
const LINGER_BELOW: usize = 256;
const LINGER: Duration = Duration::from_millis(5);
/// A batch a client waits on waits at most this long for SMTP messages
/// already being received (see [`Arrivals`]): with a connection per
/// message, sessions reach DATA a few at a time, and a commit for each few
/// costs more (the disk sync, the pages every commit rewrites) than a
/// fraction of a millisecond of their wait.
const ARRIVING_WAIT: Duration = Duration::from_micros(250);

pub enum Job {
    Take {
        messages: Vec<MailTransfer>,
        /// A client is waiting on this one commit (SMTP), not a window.
        urgent: bool,
        reply: oneshot::Sender<Result<Vec<Taken>, MailError>>,
    },
    Forwarded(Vec<Queued>, oneshot::Sender<Result<(), MailError>>),
}

/// Adds whatever is waiting to `batch`, up to `MAX_BATCH` messages; returns
/// the batch's size.
fn gather(jobs: &mut mpsc::Receiver<Job>, batch: &mut Vec<Job>) -> usize {
    let mut size: usize = batch.iter().map(Job::size).sum();
    while size < MAX_BATCH {
        match jobs.try_recv() {
            Ok(job) => {
                size += job.size();
                batch.push(job);
            }
            Err(_) => break,
        }
    }
    size
}

impl Job {
    fn urgent(&self) -> bool {
        matches!(self, Job::Take { urgent: true, .. })
    }

    fn size(&self) -> usize {
        match self {
            Job::Take { messages, .. } => messages.len(),
            Job::Forwarded(q, _) => q.len(),
        }
    }
}

pub fn channel() -> (mpsc::Sender<Job>, mpsc::Receiver<Job>) {
    mpsc::channel(QUEUE)
}

/// Runs the committer on its own thread until every sender is gone.
pub fn start(shared: Arc<Shared>, mut jobs: mpsc::Receiver<Job>) -> std::io::Result<()> {
    let committer = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("mail-commit".into())
        .spawn(move || {
            let shared = committer;
            while let Some(first) = jobs.blocking_recv() {
                let mut batch = vec![first];
                wait_for_more(&shared.arrivals, &mut jobs, &mut batch, LINGER);
                commit(&shared, batch);
            }
        })?;
    // Sessions only wake the committer once it is known; until then the
    // wait above ends by its timeout.
    let _ = shared.arrivals.committer.set(thread.thread().clone());
    Ok(())
}

/// Folds jobs that come soon into `batch`, by the rules of `LINGER` (here
/// `linger`) and `ARRIVING_WAIT`. Every take wakes the committer
/// (`Shared::submit`), and so does the last arriving SMTP message's end.
fn wait_for_more(
    arrivals: &Arrivals,
    jobs: &mut mpsc::Receiver<Job>,
    batch: &mut Vec<Job>,
    linger: Duration,
) {
    let started = Instant::now();
    let mut size = gather(jobs, batch);
    while size < LINGER_BELOW && !batch.iter().any(Job::urgent) {
        let Some(left) = linger.checked_sub(started.elapsed()) else {
            return;
        };
        std::thread::park_timeout(left);
        size = gather(jobs, batch);
    }
    if !batch.iter().any(Job::urgent) {
        return;
    }
    while size < MAX_BATCH && arrivals.any() {
        let Some(left) = ARRIVING_WAIT.checked_sub(started.elapsed()) else {
            return;
        };
        std::thread::park_timeout(left);
        size = gather(jobs, batch);
    }
}

fn commit(shared: &Shared, batch: Vec<Job>) {
    let (mut takes, mut take_replies) = (Vec::new(), Vec::new());
    let (mut done, mut done_replies) = (Vec::new(), Vec::new());
    for job in batch {
        match job {
            Job::Take {
                messages, reply, ..
            } => {
                takes.push(messages);
                take_replies.push(reply);
            }
            Job::Forwarded(q, reply) => {
                done.push(q);
                done_replies.push(reply);
            }
        }
    }
    let started = std::time::Instant::now();
    let result = shared
        .store
        .commit_batch(&takes, &done, shared, shared.local(), now_ms());
    debug!(
        taken = takes.iter().map(Vec::len).sum::<usize>(),
        forwarded = done.iter().map(Vec::len).sum::<usize>(),
        micros = started.elapsed().as_micros() as u64,
        "group commit"
    );
    match result {
        Ok(committed) => {
            shared.outbox.publish(shared, committed.queued);
            for (reply, t) in take_replies.into_iter().zip(committed.taken) {
                let _ = reply.send(Ok(t));
            }
            for reply in done_replies {
                let _ = reply.send(Ok(()));
            }
        }
        Err(e) if takes.len() + done.len() > 1 => {
            // One bad change must not fail the others: commit each alone.
            warn!(error = %e, "a group commit failed; committing its parts one by one");
            for (m, reply) in takes.iter().zip(take_replies) {
                let one = shared.store.commit_batch(
                    std::slice::from_ref(m),
                    &[],
                    shared,
                    shared.local(),
                    now_ms(),
                );
                let _ = reply.send(one.map(|mut c| {
                    shared.outbox.publish(shared, std::mem::take(&mut c.queued));
                    c.taken.pop().unwrap_or_default()
                }));
            }
            for (q, reply) in done.iter().zip(done_replies) {
                let one = shared.store.commit_batch(
                    &[],
                    std::slice::from_ref(q),
                    shared,
                    shared.local(),
                    now_ms(),
                );
                let _ = reply.send(one.map(|c| shared.outbox.publish(shared, c.queued)));
            }
        }
        Err(e) => {
            if let Some(reply) = take_replies.pop() {
                let _ = reply.send(Err(e));
            } else if let Some(reply) = done_replies.pop() {
                let _ = reply.send(Err(e));
            }
        }
    }
    if !takes.is_empty() {
        shared.wake.notify_waiters();
    }
}

impl Shared {
    /// Takes custody of a peer's `messages`; answers once they are on disk.
    /// The peer keeps a window in flight, so the commit may linger for more
    /// (see `LINGER`).
    pub async fn take(&self, messages: Vec<MailTransfer>) -> Result<Vec<Taken>, MailError> {
        let job = |reply| Job::Take {
            messages,
            urgent: false,
            reply,
        };
        self.submit(job, || ()).await
    }

    /// Takes custody of a message an SMTP client (at `client`) waits on,
    /// alone; calls `queued` once the committer has it. The message gets
    /// this post office's `Received:` (RFC 5321 4.4) on top.
    pub async fn take_for_client(
        &self,
        mut message: MailTransfer,
        client: Option<IpAddr>,
        queued: impl FnOnce(),
    ) -> Result<Vec<Taken>, MailError> {
        let (node, network) = self.local();
        let received = trace::received(
            &trace::From::Client(client),
            &trace::host_name(&node, &network),
            "ESMTP",
            &message.message_id,
            &message.recipients,
            now_ms(),
        );
        message.body = trace::prepend(&received, &message.body).into();
        let job = |reply| Job::Take {
            messages: vec![message],
            urgent: true,
            reply,
        };
        self.submit(job, queued).await
    }

    /// The next hop acknowledged these: drop them from the queue.
    pub async fn forwarded(&self, done: Vec<Queued>) -> Result<(), MailError> {
        self.submit(|reply| Job::Forwarded(done, reply), || ())
            .await
    }

    /// Hands the committer a job and waits for its answer. A take wakes a
    /// committer that is waiting for more (see `wait_for_more`).
    async fn submit<T>(
        &self,
        job: impl FnOnce(oneshot::Sender<Result<T, MailError>>) -> Job,
        queued: impl FnOnce(),
    ) -> Result<T, MailError> {
        let (reply, answer) = oneshot::channel();
        let job = job(reply);
        let is_take = matches!(job, Job::Take { .. });
        let sent = self.commits.send(job).await;
        queued();
        if is_take {
            self.arrivals.wake_committer();
        }
        sent.map_err(|_| MailError::Task("the committer has stopped".into()))?;
        answer
            .await
            .map_err(|_| MailError::Task("the committer dropped a change".into()))?
    }
}

/// SMTP sessions receiving a message (past DATA, not yet handed to the
/// committer), which a commit a client waits on waits briefly for.
#[derive(Default)]
pub struct Arrivals {
    count: AtomicUsize,
    committer: OnceLock<Thread>,
}

impl Arrivals {
    /// Counts one arriving message until the guard is dropped.
    pub fn start(&self) -> Arriving<'_> {
        self.count.fetch_add(1, Ordering::AcqRel);
        Arriving(self)
    }

    fn any(&self) -> bool {
        self.count.load(Ordering::Acquire) > 0
    }

    /// Ends the committer's wait early. Cheap when it is not waiting: an
    /// unpark is then an atomic store, and leaves at most one spurious
    /// return of its next wait.
    fn wake_committer(&self) {
        if let Some(committer) = self.committer.get() {
            committer.unpark();
        }
    }
}

/// One arriving message; uncounted when dropped.
pub struct Arriving<'a>(&'a Arrivals);

impl Drop for Arriving<'_> {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.wake_committer();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take_job(urgent: bool) -> Job {
        Job::Take {
            messages: Vec::new(),
            urgent,
            reply: oneshot::channel().0,
        }
    }

    #[test]
    fn a_client_job_ends_the_linger_of_a_peer_batch() {
        let arrivals = Arc::new(Arrivals::default());
        let _ = arrivals.committer.set(std::thread::current());
        let (sender, mut jobs) = channel();
        let client = {
            let arrivals = Arc::clone(&arrivals);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                sender.blocking_send(take_job(true)).unwrap();
                // As Shared::submit does.
                arrivals.wake_committer();
            })
        };
        let started = Instant::now();
        let mut batch = vec![take_job(false)];
        // A linger far beyond the test's bound: only the wake ends it.
        wait_for_more(&arrivals, &mut jobs, &mut batch, Duration::from_secs(60));
        client.join().unwrap();
        assert_eq!(batch.len(), 2);
        assert!(batch.iter().any(Job::urgent));
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn a_peer_batch_lingers_for_more_but_not_past_the_linger() {
        let arrivals = Arrivals::default();
        let (sender, mut jobs) = channel();
        sender.try_send(take_job(false)).unwrap();
        let started = Instant::now();
        let mut batch = vec![take_job(false)];
        wait_for_more(&arrivals, &mut jobs, &mut batch, Duration::from_millis(30));
        assert_eq!(batch.len(), 2, "what was waiting is folded in");
        assert!(started.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn the_last_arrival_ending_wakes_the_waiting_committer() {
        let arrivals = Arc::new(Arrivals::default());
        let _ = arrivals.committer.set(std::thread::current());
        let guard_holder = Arc::clone(&arrivals);
        let started = Instant::now();
        let (counted, is_counted) = std::sync::mpsc::channel();
        let session = std::thread::spawn(move || {
            let arriving = guard_holder.start();
            let _ = counted.send(());
            std::thread::sleep(Duration::from_millis(20));
            drop(arriving);
        });
        is_counted.recv().unwrap();
        // Waits as the committer does, with a timeout far beyond the test's
        // bound: only the wake ends it in time.
        while arrivals.any() && started.elapsed() < Duration::from_secs(10) {
            std::thread::park_timeout(Duration::from_secs(10));
        }
        session.join().unwrap();
        assert!(!arrivals.any());
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
