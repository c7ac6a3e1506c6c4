use std::collections::BTreeMap;

use wire_format::{MailKind, MailTransfer, Name};

use super::*;
use crate::config::Mode;
use crate::routing::route;

/// One caller's take or hand-over in a transaction of its own: what the
/// committer's `commit_batch` does for many at once.
impl MailStore {
    /// Takes custody of `messages` in one transaction (one disk sync for the
    /// batch). Local recipients are delivered (unknown mailboxes returned to
    /// the sender), the rest queued per destination post office.
    fn take(
        &self,
        messages: &[MailTransfer],
        router: &dyn Router,
        local_node: (Name, Name),
        now_ms: u64,
    ) -> Result<Vec<Taken>, MailError> {
        self.write(|tx| {
            messages
                .iter()
                .map(|m| tx.take(m, router, local_node, now_ms))
                .collect()
        })
    }

    fn forwarded(&self, done: &[Queued]) -> Result<(), MailError> {
        self.write(|tx| tx.forget(done.iter()))
    }

    fn message(&self, id: &[u8; 16]) -> Result<Option<MailTransfer>, MailError> {
        Ok(self.messages(&[*id])?.pop().flatten())
    }
}

fn n(s: &str) -> Name {
    Name::new(s).unwrap()
}

struct Table(Name, Mode, Option<Name>, BTreeMap<Name, Name>);

impl Router for Table {
    fn disposition(&self, po: &Name) -> Disposition {
        route(self.0, self.1, self.2, &self.3, po)
    }
}

fn post_office(name: &str) -> Table {
    Table(n(name), Mode::PostOffice, Some(n("H")), BTreeMap::new())
}

fn mail(id: u8, to: &[&str]) -> MailTransfer {
    MailTransfer {
        message_id: [id; 16],
        kind: MailKind::Normal,
        from: "ACME/POA/JSMITH".parse().unwrap(),
        recipients: to.iter().map(|a| a.parse().unwrap()).collect(),
        hop_count: 0,
        submitted_at_ms: 1,
        body: b"Subject: t\r\n\r\nhello\r\n".to_vec().into(),
    }
}

#[test]
fn a_message_is_taken_once_and_delivered_or_queued() {
    let dir = tempfile::tempdir().unwrap();
    let store = MailStore::open(dir.path()).unwrap();
    store.set_user(&n("AJONES"), "pw").unwrap();
    let router = post_office("POD");
    let local = (n("POD"), n("ACME"));
    let m = mail(1, &["ACME/POD/AJONES", "ACME/POA/MJONES", "ACME/POB/X"]);
    let taken = store
        .take(&[m.clone(), m.clone()], &router, local, 10)
        .unwrap();
    assert_eq!(
        taken[0],
        Taken {
            duplicate: false,
            delivered: 1,
            queued: 2,
            returned: 0
        }
    );
    assert!(taken[1].duplicate, "the same id twice is stored once");
    assert_eq!(store.mailbox(&n("AJONES")).unwrap().len(), 1);
    let queued = store.queued().unwrap();
    assert_eq!(queued.len(), 2);
    // Split copies have their own ids; the single-office case keeps its id.
    assert!(queued.iter().all(|q| q.id != m.message_id));
    store
        .take(&[mail(2, &["ACME/POA/MJONES"])], &router, local, 11)
        .unwrap();
    assert!(store.queued().unwrap().iter().any(|q| q.id == [2; 16]));
}

#[test]
fn an_unknown_mailbox_is_returned_to_the_sender() {
    let dir = tempfile::tempdir().unwrap();
    let store = MailStore::open(dir.path()).unwrap();
    let router = post_office("POD");
    let taken = store
        .take(
            &[mail(3, &["ACME/POD/NOBODY"])],
            &router,
            (n("POD"), n("ACME")),
            10,
        )
        .unwrap();
    assert_eq!(taken[0].returned, 1);
    let queued = store.queued().unwrap();
    assert_eq!(queued.len(), 1, "the report goes back towards POA");
    assert_eq!(queued[0].post_office, n("POA"));
    let ndr = store.message(&queued[0].id).unwrap().unwrap();
    assert_eq!(ndr.kind, MailKind::NonDelivery);
}

#[test]
fn passwords_are_checked_against_a_salted_hash() {
    let dir = tempfile::tempdir().unwrap();
    let store = MailStore::open(dir.path()).unwrap();
    store.set_user(&n("JSMITH"), "right").unwrap();
    assert!(store.check_password(&n("JSMITH"), "right").unwrap());
    assert!(!store.check_password(&n("JSMITH"), "wrong").unwrap());
    assert!(!store.check_password(&n("NOBODY"), "right").unwrap());
    store.ensure_user(&n("NOPASS")).unwrap();
    assert!(!store.check_password(&n("NOPASS"), "").unwrap());
}

#[test]
fn seed_users_are_added_once_so_a_restart_keeps_later_changes() {
    let dir = tempfile::tempdir().unwrap();
    let seed = vec![
        (n("JSMITH"), Some("seed-pw".to_string())),
        (n("NOPASS"), None),
    ];
    {
        let store = MailStore::open(dir.path()).unwrap();
        assert_eq!(store.seed_users_once(&seed).unwrap(), 2);
        assert!(store.check_password(&n("JSMITH"), "seed-pw").unwrap());
        assert!(store.user_exists(&n("NOPASS")).unwrap());
        assert!(!store.check_password(&n("NOPASS"), "").unwrap());
        store.set_user(&n("JSMITH"), "changed").unwrap();
        assert!(store.delete_user(&n("NOPASS")).unwrap());
    }
    let store = MailStore::open(dir.path()).unwrap();
    assert_eq!(store.seed_users_once(&seed).unwrap(), 0);
    assert!(store.check_password(&n("JSMITH"), "changed").unwrap());
    assert!(!store.check_password(&n("JSMITH"), "seed-pw").unwrap());
    assert!(!store.user_exists(&n("NOPASS")).unwrap());
}

#[test]
fn forwarded_messages_leave_the_queue_and_survive_reopen_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = MailStore::open(dir.path()).unwrap();
        store
            .take(
                &[mail(4, &["ACME/POB/X"]), mail(5, &["ACME/POB/Y"])],
                &post_office("POA"),
                (n("POA"), n("ACME")),
                1,
            )
            .unwrap();
        let q = store.queued().unwrap();
        store.forwarded(&q[..1]).unwrap();
        store.forwarded(&q[..1]).unwrap();
    }
    let store = MailStore::open(dir.path()).unwrap();
    assert_eq!(store.queued().unwrap().len(), 1);
    assert_eq!(
        store.counters().unwrap()["forwarded"],
        1,
        "a message handed over twice is counted once"
    );
}

/// Hub H's routing, with one route, and H's own name and network.
fn hub_h_routing(post_office: &str, next_hop: &str) -> (Table, (Name, Name)) {
    let routes = BTreeMap::from([(n(post_office), n(next_hop))]);
    (Table(n("H"), Mode::Hub, None, routes), (n("H"), n("ACME")))
}

#[test]
fn a_message_that_comes_back_round_a_loop_is_taken_again_but_never_delivered_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = MailStore::open(dir.path()).unwrap();
    let (hub, local) = hub_h_routing("POC", "H3");
    let mut m = mail(6, &["ACME/POC/BBROWN"]);
    m.hop_count = 2;
    store.take(&[m.clone()], &hub, local, 1).unwrap();
    let q = store.queued().unwrap();
    store.forwarded(&q).unwrap();
    // The same sender resends after a lost ack: stored once.
    assert!(store.take(&[m.clone()], &hub, local, 2).unwrap()[0].duplicate);
    // Back from H3 with more hops (H3 still routed POC to H): taken again.
    m.hop_count = 4;
    let again = store.take(&[m.clone()], &hub, local, 3).unwrap();
    assert!(!again[0].duplicate);
    assert_eq!(store.queued().unwrap().len(), 1);

    // At the post office the final delivery happens once, whatever the hops.
    let poc_dir = tempfile::tempdir().unwrap();
    let poc = MailStore::open(poc_dir.path()).unwrap();
    poc.set_user(&n("BBROWN"), "pw").unwrap();
    let at_poc = (n("POC"), n("ACME"));
    m.hop_count = 3;
    poc.take(&[m.clone()], &post_office("POC"), at_poc, 1)
        .unwrap();
    m.hop_count = 5;
    assert!(poc.take(&[m], &post_office("POC"), at_poc, 2).unwrap()[0].duplicate);
    assert_eq!(poc.mailbox(&n("BBROWN")).unwrap().len(), 1);
}

#[test]
fn a_copy_back_round_a_loop_survives_the_late_forgetting_of_the_one_before() {
    let dir = tempfile::tempdir().unwrap();
    let store = MailStore::open(dir.path()).unwrap();
    let (hub, local) = hub_h_routing("POX", "H2");
    let mut m = mail(8, &["ACME/POX/SOMEONE"]);
    m.hop_count = 1;
    store.take(&[m.clone()], &hub, local, 5).unwrap();
    let handed = store.queued().unwrap();
    // H2 took it and sent it straight back, and H takes the new copy (in
    // the same millisecond) before forgetting the one it handed over.
    m.hop_count = 3;
    assert!(!store.take(&[m.clone()], &hub, local, 5).unwrap()[0].duplicate);
    store.forwarded(&handed).unwrap();
    let left = store.queued().unwrap();
    assert_eq!(left.len(), 1, "the new copy was dropped with the old one");
    assert_ne!(left[0].enqueued_ms, handed[0].enqueued_ms);
    assert_eq!(store.message(&m.message_id).unwrap().unwrap().hop_count, 3);
    assert_eq!(store.counters().unwrap()["forwarded"], 0);
    store.forwarded(&left).unwrap();
    assert!(store.queued().unwrap().is_empty());
    assert!(store.message(&m.message_id).unwrap().is_none());
}

#[test]
fn a_group_commit_takes_and_forgets_for_several_callers_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = MailStore::open(dir.path()).unwrap();
    let router = post_office("POA");
    let local = (n("POA"), n("ACME"));
    store
        .take(&[mail(7, &["ACME/POB/X"])], &router, local, 1)
        .unwrap();
    let earlier = store.queued().unwrap();
    let earlier_one = earlier[0].clone();
    let committed = store
        .commit_batch(
            &[
                vec![mail(8, &["ACME/POB/X"])],
                vec![mail(9, &["ACME/POC/Y"]), mail(8, &["ACME/POB/X"])],
            ],
            &[earlier],
            &router,
            local,
            2,
        )
        .unwrap();
    let taken = &committed.taken;
    assert_eq!(taken.len(), 2);
    assert_eq!(taken[1].len(), 2);
    assert!(taken[1][1].duplicate, "the same id within one commit");
    let queued: Vec<[u8; 16]> = committed.queued.iter().map(|(q, _)| q.id).collect();
    assert_eq!(
        queued,
        [[8; 16], [9; 16]],
        "what the commit queued, for the outbox"
    );
    let ids: Vec<[u8; 16]> = store.queued().unwrap().iter().map(|q| q.id).collect();
    assert_eq!(ids.len(), 2);
    assert!(!ids.contains(&[7; 16]), "forgotten in the same commit");
    assert_eq!(store.counters().unwrap()["forwarded"], 1);
    store.forwarded(std::slice::from_ref(&earlier_one)).unwrap();
    assert_eq!(
        store.counters().unwrap()["forwarded"],
        1,
        "a message handed over twice is counted once"
    );
    let read = store.messages(&[[8; 16], [7; 16]]).unwrap();
    assert!(read[0].is_some() && read[1].is_none());
}

#[test]
fn message_ids_are_forgotten_after_their_retention_and_only_then() {
    let dir = tempfile::tempdir().unwrap();
    let store = MailStore::open(dir.path()).unwrap();
    store.set_user(&n("AJONES"), "pw").unwrap();
    let router = post_office("POD");
    let local = (n("POD"), n("ACME"));
    let to = ["ACME/POD/AJONES"];
    store.take(&[mail(1, &to)], &router, local, 100).unwrap();
    store.take(&[mail(2, &to)], &router, local, 200).unwrap();
    store.take(&[mail(3, &to)], &router, local, 300).unwrap();
    // Ids taken before 250, one per call at most.
    assert_eq!(store.forget_seen_before(250, 1).unwrap(), 1);
    assert_eq!(store.forget_seen_before(250, 1).unwrap(), 1);
    assert_eq!(store.forget_seen_before(250, 1).unwrap(), 0);
    // Still remembered: a copy of 3 is refused; 1, forgotten, is taken again.
    let again = store
        .take(&[mail(3, &to), mail(1, &to)], &router, local, 400)
        .unwrap();
    assert!(again[0].duplicate);
    assert!(!again[1].duplicate);
    assert_eq!(store.mailbox(&n("AJONES")).unwrap().len(), 4);
}

#[test]
fn counters_and_arrival_order_carry_across_group_commits_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let router = post_office("POD");
    let local = (n("POD"), n("ACME"));
    {
        let store = MailStore::open(dir.path()).unwrap();
        store.set_user(&n("AJONES"), "pw").unwrap();
        let first: Vec<_> = (1..=3).map(|i| mail(i, &["ACME/POD/AJONES"])).collect();
        store.take(&first, &router, local, 10).unwrap();
    }
    let store = MailStore::open(dir.path()).unwrap();
    let second = [
        mail(4, &["ACME/POD/AJONES"]),
        mail(2, &["ACME/POD/AJONES"]),
        mail(5, &["ACME/POD/AJONES"]),
    ];
    let taken = store.take(&second, &router, local, 11).unwrap();
    assert!(taken[1].duplicate);
    let counters = store.counters().unwrap();
    assert_eq!(
        (
            counters["received"],
            counters["delivered"],
            counters["duplicates"]
        ),
        (5, 5, 1)
    );
    // Each delivery got the next arrival number, in one transaction and
    // across them, so the mailbox lists in the order mail came in.
    let uids: Vec<String> = store
        .mailbox(&n("AJONES"))
        .unwrap()
        .into_iter()
        .map(|s| s.uid)
        .collect();
    let expected: Vec<String> = [1u8, 2, 3, 4, 5]
        .iter()
        .map(|i| hex::encode([*i; 16]))
        .collect();
    assert_eq!(uids, expected);
}

#[test]
fn the_queue_summary_counts_each_post_office_and_finds_the_oldest() {
    let dir = tempfile::tempdir().unwrap();
    let store = MailStore::open(dir.path()).unwrap();
    let router = post_office("POD");
    let local = (n("POD"), n("ACME"));
    assert_eq!(store.queue_summary().unwrap(), QueueSummary::default());
    store
        .take(&[mail(1, &["ACME/POB/X"])], &router, local, 30)
        .unwrap();
    store
        .take(
            &[mail(2, &["ACME/POA/Y"]), mail(3, &["ACME/POB/Z"])],
            &router,
            local,
            20,
        )
        .unwrap();
    let summary = store.queue_summary().unwrap();
    assert_eq!(
        summary.by_post_office,
        BTreeMap::from([(n("POA"), 1), (n("POB"), 2)])
    );
    assert_eq!((summary.total(), summary.oldest_enqueued_ms), (3, Some(20)));
    // Each post office's own oldest, for the age of each next hop's queue.
    assert_eq!(
        summary.oldest_by_post_office,
        BTreeMap::from([(n("POA"), 20), (n("POB"), 20)])
    );
    // The same figures as the full listing gives.
    assert_eq!(summary.total(), store.queued().unwrap().len() as u64);
}

/// The text POP3 would hand out for each message in `mailbox`.
fn texts(store: &MailStore, mailbox: &str) -> Vec<String> {
    store
        .mailbox(&n(mailbox))
        .unwrap()
        .iter()
        .map(|s| String::from_utf8(store.retrieve(&s.key).unwrap().unwrap()).unwrap())
        .collect()
}

#[test]
fn a_final_delivery_says_who_sent_it_and_to_which_mailbox() {
    // RFC 5321 4.4 (Return-Path at final delivery), RFC 9228 (Delivered-To).
    let dir = tempfile::tempdir().unwrap();
    let store = MailStore::open(dir.path()).unwrap();
    store.set_user(&n("AJONES"), "pw").unwrap();
    store.set_user(&n("BLEE"), "pw").unwrap();
    let m = mail(4, &["ACME/POD/AJONES", "ACME/POD/BLEE"]);
    store
        .take(&[m], &post_office("POD"), (n("POD"), n("ACME")), 10)
        .unwrap();
    assert_eq!(
        texts(&store, "AJONES"),
        [
            "Return-Path: <jsmith@poa.acme>\r\nDelivered-To: ajones@pod.acme\r\n\
          Subject: t\r\n\r\nhello\r\n"
        ]
    );
    assert!(texts(&store, "BLEE")[0].contains("Delivered-To: blee@pod.acme\r\n"));
    // POP3 lists the size of what it hands out.
    let listed = store.mailbox(&n("AJONES")).unwrap();
    assert_eq!(listed[0].size, texts(&store, "AJONES")[0].len());
}

#[test]
fn a_report_is_delivered_with_an_empty_return_path_and_never_returned() {
    let dir = tempfile::tempdir().unwrap();
    let store = MailStore::open(dir.path()).unwrap();
    store.set_user(&n("JSMITH"), "pw").unwrap();
    let at_poa = (n("POA"), n("ACME"));
    // JSMITH writes to a mailbox POA does not have: the report is local.
    store
        .take(
            &[mail(5, &["ACME/POA/NOBODY"])],
            &post_office("POA"),
            at_poa,
            10,
        )
        .unwrap();
    let got = texts(&store, "JSMITH");
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("Return-Path: <>\r\nDelivered-To: jsmith@poa.acme\r\n"),
        "{}",
        got[0]
    );
    assert!(got[0].contains("Content-Type: multipart/report; report-type=delivery-status"));
    // A report that cannot be delivered either is dropped (RFC 3464 2).
    let report = MailTransfer {
        message_id: [6; 16],
        kind: MailKind::NonDelivery,
        from: "ACME/POB/POSTMASTER".parse().unwrap(),
        ..mail(6, &["ACME/POA/GONE"])
    };
    let taken = store
        .take(&[report], &post_office("POA"), at_poa, 11)
        .unwrap();
    assert_eq!(taken[0].returned, 0);
    assert!(store.queued().unwrap().is_empty());
    assert_eq!(store.counters().unwrap()["returned"], 1);
}
