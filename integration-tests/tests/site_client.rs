//! The DS roles' client of the site directory against a real replicator:
//! writes only to allowed folders, reads the log with a cursor, is notified.

use std::time::Duration;

use integration_tests::site::{CLIENT, CLIENT_SECRET, SiteNode, user};
use integration_tests::test_dir;
use peer_link::{LinkError, Timeouts};
use site_client::{ReadCursor, SiteClient};
use wire_format::{ErrorCode, Name, Role};

#[test]
fn a_ds_role_writes_reads_and_is_notified() {
    let dir = test_dir("site-client");
    let h2 = SiteNode::start(dir.path(), "H2", &[], "127.0.0.1:0");
    let endpoint = h2.addr().to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut writer = connect(&endpoint).await;
        let mut reader = connect(&endpoint).await;

        let first = reader.read(ReadCursor::default(), 100).await.unwrap();
        assert!(first.changes.is_empty());
        assert!(first.restarted, "a fresh cursor reads from the start");

        let hw = writer
            .write(vec![user("FS1", "POC", "BBROWN", "Bob Brown")])
            .await
            .unwrap();
        assert_eq!(hw, 1);
        let notified = reader
            .wait_for_change(Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(notified, Some(1));
        let read = reader.read(first.next, 100).await.unwrap();
        assert_eq!(read.changes.len(), 1);
        assert_eq!(read.changes[0].entry.address.to_string(), "ACME/POC/BBROWN");
        assert!(!read.restarted && !read.more);
        let again = reader.read(read.next, 100).await.unwrap();
        assert!(
            again.changes.is_empty(),
            "the cursor moved past what was read"
        );

        // The test client may write F* folders only.
        let refused = writer
            .write(vec![user("X1", "POC", "EVE", "Eve")])
            .await
            .unwrap_err();
        assert!(
            matches!(
                refused,
                LinkError::Remote {
                    code: ErrorCode::Forbidden,
                    ..
                }
            ),
            "{refused}"
        );

        // A write too big for one frame goes in several, in order.
        assert_eq!(writer.write_all(Vec::new()).await.unwrap(), None);
        let many: Vec<_> = (0..9000)
            .map(|i| user("FS1", "POD", &format!("U{i}"), &"x".repeat(100)))
            .collect();
        assert!(site_client::batches(many.clone(), site_client::WRITE_BYTES).count() > 1);
        assert_eq!(writer.write_all(many).await.unwrap(), Some(9001));
        let mut cursor = again.next;
        let mut seen = Vec::new();
        loop {
            let read = reader.read(cursor, 10_000).await.unwrap();
            seen.extend(read.changes.into_iter().map(|c| c.entry.address.mailbox));
            cursor = read.next;
            if !read.more {
                break;
            }
        }
        assert_eq!(seen.len(), 9000);
        assert_eq!((seen[0].as_str(), seen[8999].as_str()), ("U0", "U8999"));
    });
}

async fn connect(endpoint: &str) -> SiteClient {
    let me = Name::new(CLIENT).unwrap();
    SiteClient::connect(
        endpoint,
        &me,
        Role::DsServer,
        CLIENT_SECRET.as_bytes(),
        Timeouts::default(),
    )
    .await
    .unwrap()
}
