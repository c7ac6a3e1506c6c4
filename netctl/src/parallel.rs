//! One thread per item, for work that mostly waits on the network (test
//! mails, GAL digests, traffic lanes, gap watchers): the answers come back
//! in the items' order, `Err` where a thread panicked.

pub fn on_threads<I: Sync, R: Send>(
    items: &[I],
    each: impl Fn(&I) -> R + Sync,
) -> Vec<std::thread::Result<R>> {
    let each = &each;
    std::thread::scope(|s| {
        let running: Vec<_> = items
            .iter()
            .map(|item| s.spawn(move || each(item)))
            .collect();
        running.into_iter().map(|t| t.join()).collect()
    })
}
