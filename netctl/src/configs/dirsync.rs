//! The DS servers (H and H2) and the DS requestors (every post office, and
//! the bridge H3 towards H), in the formats of `ds-server` and `ds-requestor`.
//!
//! * H registers the post offices that start on it, each with its pair key,
//!   and the bridge H3 with `bridge = true`: H3 writes every post office no
//!   live requestor owns on H (those that start on H2, and any removed from
//!   H by step B), and RestoreRequestor gives one back (rollback).
//! * H2 runs in site mode: its master list is the site directory of its
//!   local site replicator (post office P's users in folder FS-P), and every
//!   post office of the topology is registered, so any can be re-pointed to
//!   H2 later; each receives the folders its `exports` name.
//! * H3's requestor runs in site mode: H's directory goes into the import
//!   folder (F1), the FS folders go up to H.

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

pub fn server(ctx: &mut Context<'_>, node: &Node, dir: &Path) -> String {
    let me = node.name.to_string();
    let mut text = header(ctx, &me, RoleKind::DsServer, dir);
    let new_hub = node.kind == NodeKind::NewHub;
    if new_hub {
        text.push_str(&format!(
            "\n[site]\nendpoint = {}\nsecret = {}\nclient = {}\nfolder_prefix = \"FS-\"\n",
            quoted(&ctx.plan.endpoint(&me, RoleKind::SiteReplicator, "wire")),
            quoted(&ctx.secrets.pair(&me, &me)),
            quoted(&me),
        ));
    }
    // The old hub knows its own post offices only: the others live beyond
    // the bridge, which is what lets the bridge write them.
    let post_offices: Vec<(String, Vec<String>)> = ctx
        .topology
        .post_offices()
        .filter(|po| new_hub || po.hub.is_some_and(|h| h == node.name))
        .map(|po| {
            // Exports are folder patterns on the site-mode hub only.
            let export = if new_hub {
                po.exports.clone()
            } else {
                vec!["*".to_owned()]
            };
            (po.name.to_string(), export)
        })
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
        let secret = ctx.secrets.pair(&bridge, &me);
        text.push_str(&format!(
            "\n[[requestors]]\nname = {}\nsecret = {}\npost_offices = []\nexport = [\"*\"]\nbridge = true\n",
            quoted(&bridge),
            quoted(&secret),
        ));
    }
    text
}

pub fn requestor(ctx: &mut Context<'_>, node: &Node, dir: &Path) -> String {
    let me = node.name.to_string();
    let t = ctx.topology;
    let bridge = node.kind == NodeKind::Bridge;
    let (server, servers, owned) = if bridge {
        // The bridge syncs with the old hub only and owns no post office of
        // its own: what it may write there is decided by H.
        (t.old_hub.to_string(), vec![t.old_hub.to_string()], vec![])
    } else {
        (
            node.hub
                .map_or_else(|| t.old_hub.to_string(), |h| h.to_string()),
            vec![t.old_hub.to_string(), t.new_hub.to_string()],
            vec![me.clone()],
        )
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
    // The topology's users, added once when the directory is first created.
    for user in &node.users {
        text.push_str(&format!(
            "\n[[seed_users]]\nmailbox = {}\ndisplay_name = {}\n",
            quoted(user.mailbox.as_str()),
            quoted(&user.display_name)
        ));
    }
    if bridge {
        text.push_str(&format!(
            "\n[site]\nendpoint = {}\nsecret = {}\nclient = {}\nimport_folder = {}\nexport = [\"FS*\"]\n",
            quoted(&ctx.plan.endpoint(&me, RoleKind::SiteReplicator, "wire")),
            quoted(&ctx.secrets.pair(&me, &me)),
            quoted(&me),
            quoted(t.import_folder.as_str()),
        ));
    }
    text
}
