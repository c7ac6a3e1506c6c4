//! `netctl gal` and `netctl user add|del`: a post office's directory as the
//! operator sees and changes it.

use std::path::Path;

use wire_format::{Address, Entry, Name, UserDelete, UserUpsert};

use crate::NetctlError;
use crate::client::Operator;
use crate::state::{NetworkState, ProcessState, Secrets};
use crate::topology::RoleKind;

fn process<'a>(
    state: &'a NetworkState,
    po: &str,
    role: RoleKind,
) -> Result<&'a ProcessState, NetctlError> {
    state
        .process(po, role)
        .ok_or_else(|| NetctlError::RoleUnavailable {
            node: po.to_owned(),
            role: role.to_string(),
            why: "no such process in this network (is the name a post office?)",
        })
}

fn connect(p: &ProcessState, secrets: &Secrets) -> Result<Operator, NetctlError> {
    let wire = p.wire().ok_or_else(|| NetctlError::Start {
        process: p.id.clone(),
        reason: "no wire listener".into(),
    })?;
    Operator::connect(wire, secrets.operator.expose()).map_err(|source| NetctlError::Link {
        process: p.id.clone(),
        source,
    })
}

/// The whole GAL of post office `po`, paged.
pub fn gal(data_dir: &Path, po: &Name, of: Option<Name>) -> Result<Vec<Entry>, NetctlError> {
    let state = NetworkState::load(data_dir)?;
    let secrets = Secrets::load(data_dir)?;
    let p = process(&state, po.as_str(), RoleKind::DsRequestor)?;
    let mut op = connect(p, &secrets)?;
    let link = |source| NetctlError::Link {
        process: p.id.clone(),
        source,
    };
    op.list_gal(of).map_err(link)
}

/// Adds or changes a user: the directory entry at the post office's
/// requestor, the mailbox and POP3 password at its mail router.
pub fn add(
    data_dir: &Path,
    address: &Address,
    display_name: &str,
    password: Option<&str>,
) -> Result<(), NetctlError> {
    let state = NetworkState::load(data_dir)?;
    let secrets = Secrets::load(data_dir)?;
    let upsert = UserUpsert {
        address: address.clone(),
        display_name: display_name.to_owned(),
        attributes: vec![],
        password: password.map(str::to_owned),
    };
    for role in [RoleKind::MailRouter, RoleKind::DsRequestor] {
        let p = process(&state, address.post_office.as_str(), role)?;
        let mut op = connect(p, &secrets)?;
        op.request(upsert.clone())
            .map_err(|source| NetctlError::Link {
                process: p.id.clone(),
                source,
            })?;
    }
    Ok(())
}

/// Deletes a user from the post office's directory and mail router.
pub fn delete(data_dir: &Path, address: &Address) -> Result<(), NetctlError> {
    let state = NetworkState::load(data_dir)?;
    let secrets = Secrets::load(data_dir)?;
    for role in [RoleKind::DsRequestor, RoleKind::MailRouter] {
        let p = process(&state, address.post_office.as_str(), role)?;
        let mut op = connect(p, &secrets)?;
        op.request(UserDelete {
            address: address.clone(),
        })
        .map_err(|source| NetctlError::Link {
            process: p.id.clone(),
            source,
        })?;
    }
    Ok(())
}

pub fn print_gal(entries: &[Entry], json: bool) {
    if json {
        let rows: Vec<_> = entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "address": e.address.to_string(),
                    "display_name": e.display_name,
                    "owner": e.owner.to_string(),
                    "folder": e.folder.map(|f| f.to_string()),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return;
    }
    for e in entries {
        println!("{:<32} {}", e.address.to_string(), e.display_name);
    }
    println!("{} entries", entries.len());
}
