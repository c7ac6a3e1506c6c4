//! proptest strategies for every message of the protocol.

use bytes::Bytes;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use wire_format::*;

pub fn name() -> impl Strategy<Value = Name> {
    "[A-Z0-9_-]{1,32}".prop_map(|s| Name::new(&s).expect("strategy yields valid names"))
}

pub fn address() -> impl Strategy<Value = Address> {
    (name(), name(), name()).prop_map(|(n, p, m)| Address::new(n, p, m))
}

/// Any UTF-8 text of at most `max` bytes.
pub fn text(max: usize) -> impl Strategy<Value = String> {
    any::<String>().prop_map(move |mut s| {
        while s.len() > max {
            s.pop();
        }
        s
    })
}

pub fn role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::ALL.to_vec())
}

pub fn entry() -> impl Strategy<Value = Entry> {
    (
        address(),
        text(256),
        vec(
            (name(), text(256)).prop_map(|(key, value)| Attribute { key, value }),
            0..4,
        ),
        name(),
        option::of(name()),
        name(),
        (any::<u64>(), any::<u64>(), any::<u64>()),
        any::<bool>(),
    )
        .prop_map(
            |(address, display_name, attributes, owner, folder, origin, (v, t, s), tombstone)| {
                Entry {
                    address,
                    display_name,
                    attributes,
                    owner,
                    folder,
                    origin,
                    version: EntryVersion {
                        version: v,
                        changed_at_ms: t,
                        origin_seq: s,
                    },
                    tombstone,
                }
            },
        )
}

fn status_value() -> impl Strategy<Value = StatusValue> {
    prop_oneof![
        any::<u64>().prop_map(StatusValue::Count),
        text(1024).prop_map(StatusValue::Text),
        any::<bool>().prop_map(StatusValue::Flag),
    ]
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![
        prop::sample::select(ErrorCode::KNOWN.to_vec()),
        (100u16..).prop_map(ErrorCode::Other),
    ]
}

fn handshake() -> BoxedStrategy<Message> {
    prop_oneof![
        (any::<u8>(), any::<u8>(), role(), name(), any::<[u8; 32]>()).prop_map(
            |(min_version, max_version, role, node, nonce)| Hello {
                min_version,
                max_version,
                role,
                node,
                nonce
            }
            .into()
        ),
        (
            any::<u8>(),
            role(),
            name(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>()
        )
            .prop_map(|(version, role, node, nonce, proof)| Challenge {
                version,
                role,
                node,
                nonce,
                proof
            }
            .into()),
        any::<[u8; 32]>().prop_map(|proof| Authenticate { proof }.into()),
        any::<u64>().prop_map(|session| Welcome { session }.into()),
        any::<u64>().prop_map(|token| Ping { token }.into()),
        any::<u64>().prop_map(|token| Pong { token }.into()),
    ]
    .boxed()
}

fn dirsync() -> BoxedStrategy<Message> {
    prop_oneof![
        (any::<u64>(), vec(entry(), 0..8)).prop_map(|(store_epoch, changes)| DirUpload {
            store_epoch,
            changes
        }
        .into()),
        any::<u64>().prop_map(|applied_through| DirUploadAck { applied_through }.into()),
        (any::<u64>(), any::<u64>(), any::<bool>(), any::<bool>()).prop_map(
            |(epoch, after, force_full, restore)| {
                DirPull {
                    epoch,
                    after,
                    force_full,
                    restore,
                }
                .into()
            }
        ),
        (any::<u64>(), any::<bool>(), any::<u64>()).prop_map(|(epoch, full, high_water)| {
            DirPullStart {
                epoch,
                full,
                high_water,
            }
            .into()
        }),
        vec(
            (any::<u64>(), entry()).prop_map(|(update_no, entry)| DirUpdate { update_no, entry }),
            0..8
        )
        .prop_map(|updates| DirUpdates { updates }.into()),
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(epoch, high_water, sent)| {
            DirPullEnd {
                epoch,
                high_water,
                sent,
            }
            .into()
        }),
        (any::<u64>(), any::<u64>()).prop_map(|(epoch, high_water)| DirNotify {
            epoch,
            high_water
        }
        .into()),
    ]
    .boxed()
}

fn replication() -> BoxedStrategy<Message> {
    prop_oneof![
        (
            any::<u64>(),
            any::<u64>(),
            vec(
                (name(), any::<u64>()).prop_map(|(server, seq)| VectorEntry { server, seq }),
                0..6
            ),
            any::<u32>()
        )
            .prop_map(|(epoch, after_usn, vector, max_changes)| RepPull {
                epoch,
                after_usn,
                vector,
                max_changes
            }
            .into()),
        vec(
            (any::<u64>(), entry()).prop_map(|(usn, entry)| RepChange { usn, entry }),
            0..8
        )
        .prop_map(|changes| RepChanges { changes }.into()),
        (any::<u64>(), any::<u64>(), any::<bool>()).prop_map(|(epoch, high_water_usn, more)| {
            RepPullEnd {
                epoch,
                high_water_usn,
                more,
            }
            .into()
        }),
        vec(entry(), 0..6).prop_map(|changes| SiteWrite { changes }.into()),
        any::<u64>().prop_map(|high_water_usn| SiteWriteAck { high_water_usn }.into()),
        (any::<u64>(), any::<u64>()).prop_map(|(epoch, high_water_usn)| RepNotify {
            epoch,
            high_water_usn
        }
        .into()),
    ]
    .boxed()
}

fn mail() -> BoxedStrategy<Message> {
    prop_oneof![
        (
            any::<[u8; 16]>(),
            prop::sample::select(vec![MailKind::Normal, MailKind::NonDelivery]),
            address(),
            vec(address(), 0..5),
            any::<u8>(),
            any::<u64>(),
            vec(any::<u8>(), 0..2048)
        )
            .prop_map(
                |(message_id, kind, from, recipients, hop_count, submitted_at_ms, body)| {
                    MailTransfer {
                        message_id,
                        kind,
                        from,
                        recipients,
                        hop_count,
                        submitted_at_ms,
                        body: Bytes::from(body),
                    }
                    .into()
                }
            ),
        (any::<[u8; 16]>(), any::<bool>()).prop_map(|(message_id, duplicate)| MailAck {
            message_id,
            duplicate
        }
        .into()),
    ]
    .boxed()
}

fn admin() -> BoxedStrategy<Message> {
    prop_oneof![
        Just(StatusRequest.into()),
        (
            name(),
            role(),
            vec(
                (text(1024), status_value()).prop_map(|(key, value)| StatusItem { key, value }),
                0..8
            ),
            prop_oneof![Just(Health::Ok), text(1024).prop_map(Health::Degraded)]
        )
            .prop_map(|(node, role, items, health)| StatusReport {
                node,
                role,
                items,
                health
            }
            .into()),
        (
            address(),
            text(256),
            vec(
                (name(), text(256)).prop_map(|(key, value)| Attribute { key, value }),
                0..4
            ),
            option::of(text(256))
        )
            .prop_map(|(address, display_name, attributes, password)| UserUpsert {
                address,
                display_name,
                attributes,
                password
            }
            .into()),
        address().prop_map(|address| UserDelete { address }.into()),
        Just(SyncNow.into()),
        (name(), name()).prop_map(|(post_office, next_hop)| SetRoute {
            post_office,
            next_hop
        }
        .into()),
        (option::of(address()), any::<u32>(), option::of(name())).prop_map(
            |(after, limit, post_office)| ListGal {
                after,
                limit,
                post_office,
            }
            .into()
        ),
        (vec(entry(), 0..6), option::of(address())).prop_map(|(entries, next)| GalPage {
            entries,
            next
        }
        .into()),
        name().prop_map(|post_office| RemoveRequestor { post_office }.into()),
        name().prop_map(|post_office| PurgePostOffice { post_office }.into()),
        (name(), text(255)).prop_map(|(server, endpoint)| Repoint { server, endpoint }.into()),
        name().prop_map(|post_office| RestoreRequestor { post_office }.into()),
        Just(GalSummaryRequest.into()),
        vec((name(), any::<u64>(), any::<[u8; 32]>()), 0..5).prop_map(|rows| GalSummary {
            post_offices: rows
                .into_iter()
                .map(|(post_office, entries, digest)| PostOfficeDigest {
                    post_office,
                    entries,
                    digest,
                })
                .collect(),
        }
        .into()),
        text(4096).prop_map(|detail| AdminOk { detail }.into()),
        (error_code(), text(4096)).prop_map(|(code, text)| ErrorReply { code, text }.into()),
    ]
    .boxed()
}

fn history_event() -> impl Strategy<Value = HistoryEvent> {
    (
        any::<u64>(),
        prop::sample::select(HistoryKind::ALL.to_vec()),
        option::of(name()),
        (any::<u64>(), any::<u64>(), any::<bool>()),
        any::<[u64; 8]>(),
        option::of(text(1024)),
    )
        .prop_map(
            |(seq, kind, peer, (started_ms, ended_ms, full), counts, error)| {
                let [
                    sent,
                    received,
                    applied,
                    added,
                    updated,
                    deleted,
                    refused,
                    quiet_before,
                ] = counts;
                HistoryEvent {
                    seq,
                    kind,
                    peer,
                    started_ms,
                    ended_ms,
                    full,
                    sent,
                    received,
                    applied,
                    added,
                    updated,
                    deleted,
                    refused,
                    quiet_before,
                    error,
                }
            },
        )
}

fn history() -> BoxedStrategy<Message> {
    prop_oneof![
        (any::<u64>(), any::<u32>())
            .prop_map(|(since_ms, max)| HistoryRequest { since_ms, max }.into()),
        vec(history_event(), 0..6).prop_map(|events| HistoryPage { events }.into()),
    ]
    .boxed()
}

pub fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        handshake(),
        dirsync(),
        replication(),
        mail(),
        admin(),
        history()
    ]
}

pub fn frame() -> impl Strategy<Value = Frame> {
    (any::<u32>(), message()).prop_map(|(request_id, message)| Frame {
        request_id,
        message,
    })
}
