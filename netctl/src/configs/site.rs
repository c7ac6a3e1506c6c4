//! The site replicators of the new hub and the bridge: each other's peer, and
//! the local DS role of the same node as their client.

use std::path::Path;

use super::{Context, quoted};
use crate::topology::{Node, NodeKind, RoleKind};

pub fn config(ctx: &mut Context<'_>, node: &Node, dir: &Path) -> String {
    let t = ctx.topology;
    let me = node.name.to_string();
    let (peer, client_folders) = if node.kind == NodeKind::NewHub {
        (t.bridge.to_string(), "FS*".to_owned())
    } else {
        (t.new_hub.to_string(), t.import_folder.to_string())
    };
    let listen = ctx.plan.endpoint(&me, RoleKind::SiteReplicator, "wire");
    let peer_endpoint = ctx.plan.endpoint(&peer, RoleKind::SiteReplicator, "wire");
    let peer_secret = ctx.secrets.pair(&me, &peer);
    // The node's own DS role (H2's DS server, H3's DS requestor) connects under
    // the node's name with the node's local key.
    let local_secret = ctx.secrets.pair(&me, &me);
    format!(
        "node = {me}\nnetwork = {network}\ndata_dir = {dir}\nlisten = {listen}\noperator_secret = {op}\n\
         pull_interval_ms = 2000\nmax_chunk = 10000\n\n[[peers]]\nname = {peer}\nsecret = {peer_secret}\nendpoint = {peer_endpoint}\n\n\
         [[clients]]\nname = {me}\nsecret = {local_secret}\nfolders = [{folders}]\n",
        me = quoted(&me),
        network = quoted(t.network.as_str()),
        dir = quoted(&dir.display().to_string()),
        listen = quoted(&listen),
        op = quoted(&ctx.secrets.operator),
        peer = quoted(&peer),
        peer_secret = quoted(&peer_secret),
        peer_endpoint = quoted(&peer_endpoint),
        local_secret = quoted(&local_secret),
        folders = quoted(&client_folders),
    )
}
