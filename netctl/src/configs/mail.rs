//! The mail routers, in the format of `mail-router` (see
//! `mail_router::config`): a post office on every node that has one, hubs on
//! H and H2, the gateway on H3.
//!
//! The routing plan before any migration:
//! * a post office sends everything that is not its own to its hub;
//! * each hub delivers its own post offices directly and sends the other
//!   hub's through the bridge;
//! * the bridge sends each post office's mail to that post office's hub.
//!
//! Every post office holds keys and endpoints for both hubs, and both hubs
//! for every post office, so a migration (or its rollback) only changes
//! routes at run time (`SetRoute`) and never needs a new key or a restart.
//! The keys are the node pairs' keys from `Secrets`.

use std::path::Path;

use super::{Context, quoted};
use crate::topology::{Node, NodeKind, RoleKind};

fn peer(ctx: &mut Context<'_>, me: &str, other: &str) -> String {
    let secret = ctx.secrets.pair(me, other);
    format!(
        "\n[[peers]]\nname = {}\nsecret = {}\nendpoint = {}\n",
        quoted(other),
        quoted(&secret),
        quoted(&ctx.plan.endpoint(other, RoleKind::MailRouter, "wire"))
    )
}

pub fn config(ctx: &mut Context<'_>, node: &Node, dir: &Path) -> String {
    let t = ctx.topology;
    let me = node.name.to_string();
    let (old_hub, new_hub, bridge) = (
        t.old_hub.to_string(),
        t.new_hub.to_string(),
        t.bridge.to_string(),
    );
    let endpoint = |service: &str| quoted(&ctx.plan.endpoint(&me, RoleKind::MailRouter, service));
    let mode = match node.kind {
        NodeKind::PostOffice => "post-office",
        NodeKind::OldHub | NodeKind::NewHub => "hub",
        NodeKind::Bridge => "gateway",
    };
    let mut text = format!(
        "node = {}\nnetwork = {}\nmode = {}\ndata_dir = {}\nlisten = {}\noperator_secret = {}\n",
        quoted(&me),
        quoted(t.network.as_str()),
        quoted(mode),
        quoted(&dir.display().to_string()),
        endpoint("wire"),
        quoted(&ctx.secrets.operator),
    );
    // Each post office and the hub it starts on.
    let post_offices: Vec<(String, String)> = t
        .post_offices()
        .map(|po| {
            let hub = po.hub.map_or_else(|| old_hub.clone(), |h| h.to_string());
            (po.name.to_string(), hub)
        })
        .collect();
    let mut peers = String::new();
    let mut routes: Vec<(String, String)> = Vec::new();
    match node.kind {
        NodeKind::PostOffice => {
            let hub = node.hub.map_or_else(|| old_hub.clone(), |h| h.to_string());
            text.push_str(&format!(
                "hub = {}\nsmtp_listen = {}\npop3_listen = {}\n",
                quoted(&hub),
                endpoint("smtp"),
                endpoint("pop3")
            ));
            for h in [&old_hub, &new_hub] {
                peers.push_str(&peer(ctx, &me, h));
            }
            for user in &node.users {
                peers.push_str(&format!(
                    "\n[[users]]\nmailbox = {}\n",
                    quoted(user.mailbox.as_str())
                ));
                if let Some(password) = &user.password {
                    peers.push_str(&format!("password = {}\n", quoted(password)));
                }
            }
        }
        NodeKind::OldHub | NodeKind::NewHub => {
            for (po, hub) in &post_offices {
                peers.push_str(&peer(ctx, &me, po));
                let hop = if *hub == me {
                    po.clone()
                } else {
                    bridge.clone()
                };
                routes.push((po.clone(), hop));
            }
            peers.push_str(&peer(ctx, &me, &bridge));
        }
        NodeKind::Bridge => {
            for h in [&old_hub, &new_hub] {
                peers.push_str(&peer(ctx, &me, h));
            }
            routes = post_offices;
        }
    }
    text.push_str(&peers);
    if !routes.is_empty() {
        text.push_str("\n[routes]\n");
        for (po, hop) in routes {
            text.push_str(&format!("{po} = {}\n", quoted(&hop)));
        }
    }
    text
}
