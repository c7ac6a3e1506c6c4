//! The DS roles' client of the site directory against a real replicator:
//! writes only to allowed folders, reads the log with a cursor, is notified.

use std::time::Duration;

use integration_tests::site::{CLIENT, CLIENT_SECRET, SiteNode, user};
use integration_tests::test_dir;
use peer_link::{LinkError, Timeouts};
use site_replicator::client::{ReadCursor, SiteClient};
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
        let me = Name::new(CLIENT).unwrap();
        let mut writer = SiteClient::connect(
            &endpoint,
            &me,
            Role::DsServer,
            CLIENT_SECRET.as_bytes(),
            Timeouts::default(),
        )
        .await
        .unwrap();
        let mut reader = SiteClient::connect(
            &endpoint,
            &me,
            Role::DsServer,
            CLIENT_SECRET.as_bytes(),
            Timeouts::default(),
        )
        .await
        .unwrap();

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
    });
}
