//! Prints one hex test vector per message type, in the markdown form that
//! docs/PROTOCOL.md uses (`cargo run -p wire-format --example print_vectors`).
//! The doc is the reference: `tests/protocol_vectors.rs` checks the doc, not
//! this program, so a change here alone does not change the spec.

use wire_format::limits::DEFAULT_MAX_FRAME_BODY;
use wire_format::*;

fn name(s: &str) -> Name {
    Name::new(s).expect("valid sample name")
}

fn addr(s: &str) -> Address {
    s.parse().expect("valid sample address")
}

fn entry() -> Entry {
    Entry {
        address: addr("ACME/POA/JSMITH"),
        display_name: "John Smith".into(),
        attributes: vec![Attribute {
            key: name("PHONE"),
            value: "x1234".into(),
        }],
        owner: name("POA"),
        folder: Some(name("F1")),
        origin: name("H3"),
        version: EntryVersion {
            version: 2,
            changed_at_ms: 1_700_000_000_000,
            origin_seq: 41,
        },
        tombstone: false,
    }
}

fn samples() -> Vec<Message> {
    vec![
        Hello {
            min_version: 1,
            max_version: 1,
            role: Role::Requestor,
            node: name("POA"),
            nonce: [0x11; 32],
        }
        .into(),
        Challenge {
            version: 1,
            role: Role::DsServer,
            node: name("H"),
            nonce: [0x22; 32],
            proof: [0x33; 32],
        }
        .into(),
        Authenticate { proof: [0x44; 32] }.into(),
        Welcome { session: 7 }.into(),
        Ping { token: 0x0102_0304 }.into(),
        Pong { token: 0x0102_0304 }.into(),
        DirUpload {
            store_epoch: 0x5eed_0000_0000_0001,
            changes: vec![entry()],
        }
        .into(),
        DirUploadAck {
            applied_through: 41,
        }
        .into(),
        DirPull {
            epoch: 3,
            after: 100,
            force_full: false,
            restore: false,
        }
        .into(),
        DirPullStart {
            epoch: 3,
            full: false,
            high_water: 101,
        }
        .into(),
        DirUpdates {
            updates: vec![DirUpdate {
                update_no: 101,
                entry: Entry {
                    tombstone: true,
                    ..entry()
                },
            }],
        }
        .into(),
        DirPullEnd {
            epoch: 3,
            high_water: 101,
            sent: 1,
        }
        .into(),
        DirNotify {
            epoch: 3,
            high_water: 102,
        }
        .into(),
        RepPull {
            epoch: 5,
            after_usn: 10,
            vector: vec![VectorEntry {
                server: name("H2"),
                seq: 9,
            }],
            max_changes: 1000,
        }
        .into(),
        RepChanges {
            changes: vec![RepChange {
                usn: 11,
                entry: entry(),
            }],
        }
        .into(),
        RepPullEnd {
            epoch: 5,
            high_water_usn: 11,
            more: false,
        }
        .into(),
        RepNotify {
            epoch: 5,
            high_water_usn: 12,
        }
        .into(),
        SiteWrite {
            changes: vec![Entry {
                folder: Some(name("FS1")),
                ..entry()
            }],
        }
        .into(),
        SiteWriteAck { high_water_usn: 13 }.into(),
        MailTransfer {
            message_id: [0xab; 16],
            kind: MailKind::Normal,
            from: addr("ACME/POA/JSMITH"),
            recipients: vec![addr("ACME/POD/AJONES")],
            hop_count: 1,
            submitted_at_ms: 1_700_000_000_000,
            body: bytes::Bytes::from_static(b"Subject: hi\r\n\r\nhello\r\n"),
        }
        .into(),
        MailAck {
            message_id: [0xab; 16],
            duplicate: false,
        }
        .into(),
        StatusRequest.into(),
        StatusReport {
            node: name("H2"),
            role: Role::SiteReplicator,
            items: vec![
                StatusItem {
                    key: "folder.F1.entries".into(),
                    value: StatusValue::Count(3),
                },
                StatusItem {
                    key: "peer.H3.last_error".into(),
                    value: StatusValue::Text("none".into()),
                },
                StatusItem {
                    key: "peer.H3.in_sync".into(),
                    value: StatusValue::Flag(true),
                },
            ],
            health: Health::Degraded("disk full".into()),
        }
        .into(),
        UserUpsert {
            address: addr("ACME/POC/BROWN"),
            display_name: "Bob Brown".into(),
            attributes: vec![],
            password: Some("s3cret".into()),
        }
        .into(),
        UserDelete {
            address: addr("ACME/POC/BROWN"),
        }
        .into(),
        SyncNow.into(),
        SetRoute {
            post_office: name("POC"),
            next_hop: name("H3"),
        }
        .into(),
        ListGal {
            after: Some(addr("ACME/POA/JSMITH")),
            limit: 500,
            post_office: Some(name("POA")),
        }
        .into(),
        GalPage {
            entries: vec![entry()],
            next: None,
        }
        .into(),
        RemoveRequestor {
            post_office: name("POC"),
        }
        .into(),
        PurgePostOffice {
            post_office: name("POC"),
        }
        .into(),
        Repoint {
            server: name("H2"),
            endpoint: "127.0.0.1:7002".into(),
        }
        .into(),
        RestoreRequestor {
            post_office: name("POC"),
        }
        .into(),
        GalSummaryRequest.into(),
        GalSummary {
            post_offices: vec![PostOfficeDigest {
                post_office: name("POA"),
                entries: 1,
                digest: {
                    let mut d = GalDigester::new();
                    d.add(&entry());
                    d.finish().remove(0).digest
                },
            }],
        }
        .into(),
        AdminOk {
            detail: "deleted 3 entries".into(),
        }
        .into(),
        HistoryRequest {
            since_ms: 1_700_000_000_000,
            max: 50,
        }
        .into(),
        HistoryPage {
            events: vec![
                HistoryEvent {
                    seq: 7,
                    kind: HistoryKind::DirsyncCycle,
                    peer: Some(name("H")),
                    started_ms: 1_700_000_000_000,
                    ended_ms: 1_700_000_000_042,
                    full: false,
                    sent: 1,
                    received: 0,
                    applied: 0,
                    added: 1,
                    updated: 0,
                    deleted: 0,
                    refused: 0,
                    quiet_before: 12,
                    error: None,
                },
                HistoryEvent {
                    seq: 6,
                    kind: HistoryKind::DirsyncCycle,
                    peer: Some(name("H")),
                    started_ms: 1_699_999_990_000,
                    ended_ms: 1_699_999_990_001,
                    full: false,
                    sent: 0,
                    received: 0,
                    applied: 0,
                    added: 0,
                    updated: 0,
                    deleted: 0,
                    refused: 0,
                    quiet_before: 0,
                    error: Some("connection refused".into()),
                },
            ],
        }
        .into(),
        ErrorReply {
            code: ErrorCode::Forbidden,
            text: "POB may not write ACME/POA/JSMITH".into(),
        }
        .into(),
    ]
}

fn main() {
    for (i, message) in samples().into_iter().enumerate() {
        let kind = message.message_type();
        let frame = Frame {
            request_id: i as u32 + 1,
            message,
        };
        let bytes = match frame_to_bytes(&frame, DEFAULT_MAX_FRAME_BODY) {
            Ok(b) => b,
            Err(e) => panic!("sample {} does not encode: {e}", kind.name()),
        };
        println!("```hex {}", kind.name());
        println!("{}", hex_groups(&bytes[..16]));
        for chunk in bytes[16..].chunks(16) {
            println!("{}", hex_groups(chunk));
        }
        println!("```\n");
    }
}

fn hex_groups(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}
