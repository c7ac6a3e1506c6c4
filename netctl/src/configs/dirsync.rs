//! The DS servers (H and H2) and the DS requestors (every post office, and
//! the bridge H3 towards H), in the formats of `ds-server` and `ds-requestor`.
//!
//! Every post office is registered on both DS servers with its pair key, so a
//! migration's re-point (step E) or a rollback needs no new secret. The bridge
//! is registered on the old hub as the requestor owning the post offices that
//! live behind it (those on the new hub).
//!
//! Until issue #4 wires H2's DS server and H3's requestor to the site
//! directory, both keep a private store: the two networks do not yet share
//! one directory through the bridge.

use std::path::Path;

use super::{Context, quoted};
use crate::topology::{Node, NodeKind, RoleKind};

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quoted(s)).collect();
    format!("[{}]", quoted.join(", "))
}

fn header(ctx: &Context<'_>, node: &str, role: RoleKind, dir: &Path) -> String {
    format!(
        "node = {}\nnetwork = {}\ndata_dir = {}\nlisten = {}\noperator_secret = {}\n",
        quoted(node),
        quoted(ctx.topology.network.as_str()),
        quoted(&dir.display().to_string()),
        quoted(&ctx.plan.endpoint(node, role, "wire")),
        quoted(&ctx.secrets.operator),
    )
}

/// Post offices that start on `hub`.
fn post_offices_on(ctx: &Context<'_>, hub: &str) -> Vec<String> {
    ctx.topology
        .post_offices()
        .filter(|po| po.hub.is_some_and(|h| h.as_str() == hub))
        .map(|po| po.name.to_string())
        .collect()
}

pub fn server(ctx: &mut Context<'_>, node: &Node, dir: &Path) -> String {
    let me = node.name.to_string();
    let mut text = header(ctx, &me, RoleKind::DsServer, dir);
    let post_offices: Vec<(String, Vec<String>)> = ctx
        .topology
        .post_offices()
        .map(|po| (po.name.to_string(), po.exports.clone()))
        .collect();
    for (po, exports) in post_offices {
        let secret = ctx.secrets.pair(&po, &me);
        text.push_str(&format!(
            "\n[[requestors]]\nname = {}\nsecret = {}\npost_offices = [{}]\nexport = {}\n",
            quoted(&po),
            quoted(&secret),
            quoted(&po),
            list(&exports)
        ));
    }
    if node.kind == NodeKind::OldHub {
        let bridge = ctx.topology.bridge.to_string();
        let behind = post_offices_on(ctx, ctx.topology.new_hub.as_str());
        let secret = ctx.secrets.pair(&bridge, &me);
        text.push_str(&format!(
            "\n[[requestors]]\nname = {}\nsecret = {}\npost_offices = {}\nexport = [\"*\"]\n",
            quoted(&bridge),
            quoted(&secret),
            list(&behind)
        ));
    }
    text
}

pub fn requestor(ctx: &mut Context<'_>, node: &Node, dir: &Path) -> String {
    let me = node.name.to_string();
    let t = ctx.topology;
    let (server, servers, owned) = match node.kind {
        // The bridge syncs with the old hub only, for the post offices behind it.
        NodeKind::Bridge => (
            t.old_hub.to_string(),
            vec![t.old_hub.to_string()],
            post_offices_on(ctx, t.new_hub.as_str()),
        ),
        _ => (
            node.hub
                .map_or_else(|| t.old_hub.to_string(), |h| h.to_string()),
            vec![t.old_hub.to_string(), t.new_hub.to_string()],
            vec![me.clone()],
        ),
    };
    let mut text = header(ctx, &me, RoleKind::DsRequestor, dir);
    text.push_str(&format!(
        "server = {}\ninterval_ms = 60000\npost_offices = {}\n",
        quoted(&server),
        list(&owned)
    ));
    for hub in servers {
        let secret = ctx.secrets.pair(&me, &hub);
        text.push_str(&format!(
            "\n[[servers]]\nname = {}\nendpoint = {}\nsecret = {}\n",
            quoted(&hub),
            quoted(&ctx.plan.endpoint(&hub, RoleKind::DsServer, "wire")),
            quoted(&secret)
        ));
    }
    text
}
