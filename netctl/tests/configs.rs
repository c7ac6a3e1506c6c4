//! netctl writes each role's config in that role's format: every config
//! generated for the example topology is accepted by the role's own parser,
//! reads back as written, is private to its owner, and names the endpoints
//! and keys the other side expects.

use std::path::Path;

use netctl::configs::{self, Context, PortPlan};
use netctl::state::Secrets;
use netctl::topology::{RoleKind, Topology};

fn generate(data_dir: &Path) -> (Topology, PortPlan, Secrets, Vec<(String, RoleKind, String)>) {
    let topology = Topology::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/patent.toml"
    )))
    .unwrap();
    let plan = PortPlan::new(&topology).unwrap();
    let mut secrets = Secrets::new(&topology.secrets);
    let mut written = Vec::new();
    {
        let mut ctx = Context {
            topology: &topology,
            plan: &plan,
            secrets: &mut secrets,
            data_dir,
        };
        for node in &topology.nodes {
            for role in node.roles() {
                let path = configs::write(&mut ctx, node, *role).unwrap();
                written.push((
                    node.name.to_string(),
                    *role,
                    std::fs::read_to_string(path).unwrap(),
                ));
            }
        }
    }
    (topology, plan, secrets, written)
}

#[test]
fn every_generated_config_is_accepted_by_its_role() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, _, written) = generate(dir.path());
    assert!(written.len() >= 15);
    for (node, role, text) in &written {
        let origin = format!("{node}.{role}");
        match role {
            RoleKind::SiteReplicator => {
                drop(site_replicator::Settings::parse(text, &origin).unwrap())
            }
            RoleKind::DsServer => drop(ds_server::config::Settings::parse(text, &origin).unwrap()),
            RoleKind::DsRequestor => {
                drop(ds_requestor::config::Settings::parse(text, &origin).unwrap())
            }
            RoleKind::MailRouter => drop(mail_router::Settings::parse(text, &origin).unwrap()),
        }
    }
}

/// The text written for `role` on `node`.
fn config_of(written: &[(String, RoleKind, String)], node: &str, role: RoleKind) -> String {
    let found = written.iter().find(|(n, r, _)| n == node && *r == role);
    found.map(|(_, _, text)| text.clone()).unwrap()
}

/// Reads `text` into the role's file schema and writes it again.
fn rewritten<T: serde::Serialize + serde::de::DeserializeOwned>(text: &str) -> String {
    let config: T = role_runtime::config::parse(text, "written", Ok).unwrap();
    toml::to_string(&config).unwrap()
}

#[test]
fn every_generated_config_reads_back_as_written_and_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (_, _, secrets, written) = generate(dir.path());
    for (node, role, text) in &written {
        let again = match role {
            RoleKind::SiteReplicator => rewritten::<site_replicator::config::Config>(text),
            RoleKind::DsServer => rewritten::<ds_server::config::Config>(text),
            RoleKind::DsRequestor => rewritten::<ds_requestor::config::Config>(text),
            RoleKind::MailRouter => rewritten::<mail_router::config::Config>(text),
        };
        assert_eq!(&again, text, "{node}.{role}");
        // Its own operator key, and no other process's.
        let id = format!("{node}.{role}");
        for (other, key) in &secrets.operators {
            assert_eq!(
                text.contains(key.expose().as_str()),
                *other == id,
                "{id}: {other}"
            );
        }
        let path = configs::process_dir(dir.path(), node, *role).join("config.toml");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }
}

/// Every process has an operator key of its own, and the keys `up` makes
/// are exactly those of the topology's links, which are the only keys a
/// topology's `[secrets]` may give.
#[test]
fn each_process_has_its_own_operator_key_and_each_link_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let (topology, _, secrets, written) = generate(dir.path());
    assert_eq!(secrets.operators.len(), written.len());
    let distinct: std::collections::BTreeSet<&str> = (secrets.operators.values())
        .map(|k| k.expose().as_str())
        .collect();
    assert_eq!(distinct.len(), written.len());
    for (node, role, _) in &written {
        assert!(secrets.operator(&format!("{node}.{role}")).is_ok());
    }
    let made: std::collections::BTreeSet<String> = secrets.pairs.keys().cloned().collect();
    assert_eq!(made, topology.links());
}

#[test]
fn both_ends_of_each_link_share_a_key_and_an_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (_, plan, _, written) = generate(dir.path());
    let config = |node: &str, role: RoleKind| config_of(&written, node, role);
    // POA's requestor and H's DS server.
    let poa = ds_requestor::config::Settings::parse(&config("POA", RoleKind::DsRequestor), "POA")
        .unwrap();
    let h = ds_server::config::Settings::parse(&config("H", RoleKind::DsServer), "H").unwrap();
    let poa_name = wire_format::Name::new("POA").unwrap();
    let h_name = wire_format::Name::new("H").unwrap();
    let towards_h = poa.server(&h_name).unwrap();
    assert_eq!(
        towards_h.endpoint,
        plan.endpoint("H", RoleKind::DsServer, "wire")
    );
    assert_eq!(towards_h.secret, h.requestor(&poa_name).unwrap().secret);
    // The site replicators of H2 and H3 point at each other with one key.
    let h2 =
        site_replicator::Settings::parse(&config("H2", RoleKind::SiteReplicator), "H2").unwrap();
    let h3 =
        site_replicator::Settings::parse(&config("H3", RoleKind::SiteReplicator), "H3").unwrap();
    assert_eq!(
        h2.peers[0].1.endpoint.as_deref(),
        Some(
            plan.endpoint("H3", RoleKind::SiteReplicator, "wire")
                .as_str()
        )
    );
    assert_eq!(h2.peers[0].1.secret, h3.peers[0].1.secret);
}

/// The mail routing plan of the example: post offices to their hub, hubs to
/// their own post offices directly and to the others through the bridge,
/// the bridge to each post office's hub; keys for every pair that may ever
/// talk (a post office with either hub), the same on both ends.
#[test]
fn mail_routers_route_through_the_bridge_and_share_keys_with_both_hubs() {
    use mail_router::config::{Mode, Settings};
    let dir = tempfile::tempdir().unwrap();
    let (topology, plan, _, written) = generate(dir.path());
    let n = |s: &str| wire_format::Name::new(s).unwrap();
    let mail: std::collections::BTreeMap<String, Settings> = written
        .iter()
        .filter(|(_, r, _)| *r == RoleKind::MailRouter)
        .map(|(node, _, text)| (node.clone(), Settings::parse(text, node).unwrap()))
        .collect();
    assert_eq!(mail.len(), topology.nodes.len());
    let key = |a: &str, b: &str| {
        let peer = mail[a].peers.iter().find(|p| p.name == n(b));
        peer.map(|p| (p.secret.clone(), p.endpoint.clone()))
    };
    for po in topology.post_offices() {
        let po_name = po.name.to_string();
        let s = &mail[&po_name];
        assert_eq!(s.mode, Mode::PostOffice);
        assert_eq!(s.hub, po.hub);
        assert_eq!(
            s.smtp_listen.as_deref(),
            Some(
                plan.endpoint(&po_name, RoleKind::MailRouter, "smtp")
                    .as_str()
            )
        );
        assert_eq!(s.users.len(), po.users.len());
        for hub in ["H", "H2"] {
            let (secret, endpoint) = key(&po_name, hub).expect("a key for each hub");
            assert_eq!(
                endpoint.as_deref(),
                Some(plan.endpoint(hub, RoleKind::MailRouter, "wire").as_str())
            );
            assert_eq!(Some(secret), key(hub, &po_name).map(|k| k.0));
        }
    }
    for (a, b) in [("H", "H3"), ("H2", "H3")] {
        assert_eq!(key(a, b).map(|k| k.0), key(b, a).map(|k| k.0));
    }
    let route = |node: &str, po: &str| mail[node].routes.get(&n(po)).map(|h| h.to_string());
    let route = |node: &str, po: &str| route(node, po).unwrap_or_default();
    for po in ["POA", "POB", "POC"] {
        assert_eq!(route("H", po), po);
        assert_eq!(route("H2", po), "H3");
        assert_eq!(route("H3", po), "H");
    }
    assert_eq!(route("H", "POD"), "H3");
    assert_eq!(route("H2", "POD"), "POD");
    assert_eq!(route("H3", "POD"), "H2");
    assert_eq!(mail["H3"].mode, Mode::Gateway);
    assert_eq!(mail["H"].mode, Mode::Hub);
}

#[test]
fn the_bridge_is_wired_through_the_site_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (_, plan, _, written) = generate(dir.path());
    let config = |node: &str, role: RoleKind| config_of(&written, node, role);
    let name = |s: &str| wire_format::Name::new(s).unwrap();
    let h = ds_server::config::Settings::parse(&config("H", RoleKind::DsServer), "H").unwrap();
    let h2 = ds_server::config::Settings::parse(&config("H2", RoleKind::DsServer), "H2").unwrap();
    let h3 =
        ds_requestor::config::Settings::parse(&config("H3", RoleKind::DsRequestor), "H3").unwrap();
    let h2_site =
        site_replicator::Settings::parse(&config("H2", RoleKind::SiteReplicator), "H2").unwrap();
    let h3_site =
        site_replicator::Settings::parse(&config("H3", RoleKind::SiteReplicator), "H3").unwrap();

    // H: its own post offices, and the bridge, which owns nothing by name:
    // POD (on H2) is free for it because no requestor of H claims POD.
    let bridge = h.requestor(&name("H3")).unwrap();
    assert!(bridge.bridge && bridge.policy.post_offices.is_empty());
    assert!(h.requestor(&name("POC")).is_some());
    assert!(h.requestor(&name("POD")).is_none());
    assert!(h.site.is_none());

    // H2: site mode on its own replicator, with its client key there, and
    // every post office registered so any can be re-pointed to it.
    let site = h2.site.as_ref().unwrap();
    assert_eq!(
        site.endpoint,
        plan.endpoint("H2", RoleKind::SiteReplicator, "wire")
    );
    let h2_client = h2_site.clients.iter().find(|(n, _)| *n == site.client);
    let h2_client = &h2_client.unwrap().1;
    assert_eq!(h2_client.secret, site.secret);
    assert_eq!(h2_client.folders, vec!["FS*".to_owned()]);
    for po in ["POA", "POB", "POC", "POD"] {
        let folder = site.folder_of(&name(po)).unwrap();
        assert!(site_replicator::config::folder_allowed(
            &h2_client.folders,
            &folder
        ));
        assert!(h2.requestor(&name(po)).is_some(), "{po} not on H2");
    }

    // H3: requestor of H in site mode, writing only the import folder.
    let s3 = h3.site.as_ref().unwrap();
    assert_eq!(h3.server, name("H"));
    assert!(h3.post_offices.is_empty());
    assert_eq!(s3.import_folder, name("F1"));
    assert_eq!(s3.export, vec!["FS*".to_owned()]);
    assert_eq!(
        s3.endpoint,
        plan.endpoint("H3", RoleKind::SiteReplicator, "wire")
    );
    let h3_client = &h3_site
        .clients
        .iter()
        .find(|(n, _)| *n == s3.client)
        .unwrap()
        .1;
    assert_eq!(h3_client.secret, s3.secret);
    assert_eq!(h3_client.folders, vec!["F1".to_owned()]);
    assert_eq!(
        h3.server(&name("H")).unwrap().secret,
        bridge.secret,
        "H3 and H share the bridge's key"
    );
}
