//! The site replicators of the new hub and the bridge: each other's peer, and
//! the local DS role of the same node as their client.

use std::path::Path;

use site_replicator::config::{ClientConfig, Config, PeerConfig};

use super::Context;
use crate::topology::{Node, NodeKind, RoleKind};

pub fn config(ctx: &mut Context<'_>, node: &Node, dir: &Path) -> Config {
    let t = ctx.topology;
    let me = node.name.to_string();
    let (peer, client_folders) = if node.kind == NodeKind::NewHub {
        (t.bridge.to_string(), "FS*".to_owned())
    } else {
        (t.new_hub.to_string(), t.import_folder.to_string())
    };
    Config {
        common: ctx.common(&me, RoleKind::SiteReplicator, dir),
        pull_interval_ms: Some(2000),
        tombstone_lifetime_secs: None,
        max_chunk: Some(10_000),
        peers: vec![PeerConfig {
            secret: ctx.secrets.pair(&me, &peer),
            endpoint: Some(ctx.plan.endpoint(&peer, RoleKind::SiteReplicator, "wire")),
            name: peer,
        }],
        // The node's own DS role (H2's DS server, H3's DS requestor)
        // connects under the node's name with the node's local key.
        clients: vec![ClientConfig {
            name: me.clone(),
            secret: ctx.secrets.pair(&me, &me),
            folders: vec![client_folders],
        }],
    }
}
