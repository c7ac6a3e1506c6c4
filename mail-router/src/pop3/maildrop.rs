//! The exclusive maildrop lock of RFC 1939 §8: one POP3 session per mailbox
//! at a time. The mail router is the only process that opens its store, so
//! a table in memory is the whole lock; a session holds a [`MaildropLock`]
//! and the mailbox is free again when it is dropped, however the session
//! ends (QUIT, a dropped connection, a timeout, an eviction).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use wire_format::Name;

#[derive(Default, Clone)]
pub struct Maildrops {
    open: Arc<Mutex<HashSet<Name>>>,
}

/// A held mailbox; dropping it lets the next session in.
pub struct MaildropLock {
    open: Arc<Mutex<HashSet<Name>>>,
    mailbox: Name,
}

impl Maildrops {
    /// The lock of `mailbox`, or None while another session holds it.
    pub fn try_lock(&self, mailbox: Name) -> Option<MaildropLock> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.insert(mailbox).then(|| MaildropLock {
            open: Arc::clone(&self.open),
            mailbox,
        })
    }
}

impl Drop for MaildropLock {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.remove(&self.mailbox);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mailbox_is_held_by_one_session_until_it_lets_go() {
        let drops = Maildrops::default();
        let carol = Name::new("CAROL").unwrap();
        let first = drops.try_lock(carol).unwrap();
        assert!(drops.try_lock(carol).is_none());
        assert!(drops.try_lock(Name::new("DAVE").unwrap()).is_some());
        drop(first);
        assert!(drops.try_lock(carol).is_some());
    }
}
