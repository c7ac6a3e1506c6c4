//! netctl writes each role's config in that role's format: every config
//! generated for the example topology is accepted by the role's own parser,
//! and names the endpoints and keys the other side expects.

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
                if *role == RoleKind::MailRouter {
                    continue; // its config writer arrives with the mail router (issue #5)
                }
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
    assert!(written.len() >= 8);
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
            RoleKind::MailRouter => unreachable!(),
        }
    }
}

#[test]
fn both_ends_of_each_link_share_a_key_and_an_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (_, plan, _, written) = generate(dir.path());
    let config = |node: &str, role: RoleKind| {
        written
            .iter()
            .find(|(n, r, _)| n == node && *r == role)
            .map(|(_, _, t)| t.clone())
            .unwrap()
    };
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
