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
//! * Each post office's requestor serves its GAL as an LDAP address book
//!   (`ldap` and `ldaps`, any free port until the port plan names them).

use std::path::Path;

use ds_requestor::config as requestor_file;
use ds_server::config as server_file;

use super::Context;
use crate::topology::{Node, NodeKind, RoleKind};

pub fn server(ctx: &mut Context<'_>, node: &Node, dir: &Path) -> server_file::Config {
    let me = node.name.to_string();
    let new_hub = node.kind == NodeKind::NewHub;
    let site = new_hub.then(|| server_file::SiteConfig {
        endpoint: ctx.plan.endpoint(&me, RoleKind::SiteReplicator, "wire"),
        secret: ctx.secrets.pair(&me, &me),
        client: Some(me.clone()),
        folder_prefix: Some("FS-".into()),
    });
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
    let mut requestors = Vec::new();
    for (po, export) in post_offices {
        requestors.push(server_file::RequestorConfig {
            secret: ctx.secrets.pair(&po, &me),
            post_offices: Some(vec![po.clone()]),
            name: po,
            export: Some(export),
            bridge: false,
        });
    }
    if node.kind == NodeKind::OldHub {
        let bridge = ctx.topology.bridge.to_string();
        requestors.push(server_file::RequestorConfig {
            secret: ctx.secrets.pair(&bridge, &me),
            name: bridge,
            post_offices: Some(vec![]),
            export: Some(vec!["*".into()]),
            bridge: true,
        });
    }
    server_file::Config {
        common: ctx.common(&me, RoleKind::DsServer, dir),
        chunk: None,
        tombstone_lifetime_ms: None,
        requestors,
        site,
    }
}

pub fn requestor(ctx: &mut Context<'_>, node: &Node, dir: &Path) -> requestor_file::Config {
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
    let servers = servers
        .into_iter()
        .map(|hub| requestor_file::ServerConfig {
            endpoint: ctx.plan.endpoint(&hub, RoleKind::DsServer, "wire"),
            secret: ctx.secrets.pair(&me, &hub),
            name: hub,
        })
        .collect();
    // The topology's users, added once when the directory is first created.
    let seed_users = (node.users.iter())
        .map(|user| requestor_file::SeedUser {
            mailbox: user.mailbox.to_string(),
            display_name: user.display_name.clone(),
        })
        .collect();
    let site = bridge.then(|| requestor_file::SiteConfig {
        endpoint: ctx.plan.endpoint(&me, RoleKind::SiteReplicator, "wire"),
        secret: ctx.secrets.pair(&me, &me),
        client: Some(me.clone()),
        import_folder: Some(t.import_folder.to_string()),
        export: Some(vec!["FS*".into()]),
    });
    // A post office's mail clients look its GAL up over LDAP (docs/LDAP.md),
    // with StartTLS or LDAPS on the certificate its mail router serves.
    let ldap = (!bridge).then(|| {
        let tls = crate::tls::node_files(ctx.data_dir, node);
        ds_requestor::ldap::LdapConfig {
            listen: Some(ctx.plan.endpoint(&me, RoleKind::DsRequestor, "ldap")),
            ldaps_listen: Some(ctx.plan.endpoint(&me, RoleKind::DsRequestor, "ldaps")),
            tls_cert: Some(tls.cert),
            tls_key: Some(tls.key),
            ..Default::default()
        }
    });
    requestor_file::Config {
        ldap,
        common: ctx.common(&me, RoleKind::DsRequestor, dir),
        server,
        interval_ms: Some(60_000),
        upload_chunk: None,
        post_offices: Some(owned),
        servers,
        site,
        seed_users,
    }
}
