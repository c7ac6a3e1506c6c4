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
//!
//! Each post office serves TLS (POP3 STLS and pop3s) with the certificate
//! `crate::tls` gives it, and takes no password in clear.

use std::collections::BTreeMap;
use std::path::Path;

use mail_router::config::{Config, Mode, PeerConfig, UserConfig};
use role_runtime::Secret;

use super::Context;
use crate::topology::{Node, NodeKind, RoleKind};

fn peer(ctx: &mut Context<'_>, me: &str, other: &str) -> PeerConfig {
    PeerConfig {
        name: other.to_owned(),
        secret: ctx.secrets.pair(me, other),
        endpoint: Some(ctx.plan.endpoint(other, RoleKind::MailRouter, "wire")),
    }
}

pub fn config(ctx: &mut Context<'_>, node: &Node, dir: &Path) -> Config {
    let t = ctx.topology;
    let me = node.name.to_string();
    let (old_hub, new_hub, bridge) = (
        t.old_hub.to_string(),
        t.new_hub.to_string(),
        t.bridge.to_string(),
    );
    let plan = ctx.plan;
    let endpoint = |service: &str| Some(plan.endpoint(&me, RoleKind::MailRouter, service));
    let mut config = Config {
        common: ctx.common(&me, RoleKind::MailRouter, dir),
        mode: Mode::Hub,
        smtp_listen: None,
        pop3_listen: None,
        pop3s_listen: None,
        tls_cert: None,
        tls_key: None,
        pop3_allow_plaintext: None,
        smtps_listen: None,
        submission_listen: None,
        trusted_networks: Vec::new(),
        hub: None,
        max_hops: None,
        expiry_secs: None,
        seen_retention_secs: None,
        max_message_bytes: None,
        cache_mib: None,
        peers: Vec::new(),
        routes: BTreeMap::new(),
        users: Vec::new(),
    };
    // Each post office and the hub it starts on.
    let post_offices: BTreeMap<String, String> = t
        .post_offices()
        .map(|po| {
            let hub = po.hub.map_or_else(|| old_hub.clone(), |h| h.to_string());
            (po.name.to_string(), hub)
        })
        .collect();
    match node.kind {
        NodeKind::PostOffice => {
            config.mode = Mode::PostOffice;
            config.hub = Some(node.hub.map_or_else(|| old_hub.clone(), |h| h.to_string()));
            config.smtp_listen = endpoint("smtp");
            config.pop3_listen = endpoint("pop3");
            config.smtps_listen = endpoint("smtps");
            config.submission_listen = endpoint("submission");
            // Written even when empty, so the file says who may relay.
            config.trusted_networks = t.trusted_networks.clone();
            // Every post office has TLS: its certificate from the network CA
            // (issued by `up`, see `crate::tls`) or the topology's own. So
            // no password is taken in clear: clients use STLS or pop3s.
            let tls = crate::tls::node_files(ctx.data_dir, node);
            config.tls_cert = Some(tls.cert);
            config.tls_key = Some(tls.key);
            config.pop3s_listen = endpoint("pop3s");
            config.pop3_allow_plaintext = Some(false);
            for h in [&old_hub, &new_hub] {
                config.peers.push(peer(ctx, &me, h));
            }
            config.users = (node.users.iter())
                .map(|user| UserConfig {
                    mailbox: user.mailbox.to_string(),
                    password: user.password.clone().map(Secret::new),
                })
                .collect();
        }
        NodeKind::OldHub | NodeKind::NewHub => {
            for (po, hub) in &post_offices {
                config.peers.push(peer(ctx, &me, po));
                let hop = if *hub == me { po } else { &bridge };
                config.routes.insert(po.clone(), hop.clone());
            }
            config.peers.push(peer(ctx, &me, &bridge));
        }
        NodeKind::Bridge => {
            config.mode = Mode::Gateway;
            for h in [&old_hub, &new_hub] {
                config.peers.push(peer(ctx, &me, h));
            }
            config.routes = post_offices;
        }
    }
    config
}
