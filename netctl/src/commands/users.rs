//! `netctl gal` and `netctl user add|del`: a post office's directory as the
//! operator sees and changes it.

use std::io::Read;
use std::path::{Path, PathBuf};

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
    Operator::connect(wire, secrets.operator(&p.id)?).map_err(|source| NetctlError::Link {
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

/// Where `netctl user add` takes the user's POP3 password from. A password
/// on the command line is readable by every local user in `/proc/PID/cmdline`
/// and lands in shell histories, so the file and standard-input forms come
/// first; `--password` stays for throw-away test networks.
#[derive(Debug, Default, clap::Args)]
#[group(multiple = false)]
pub struct PasswordArgs {
    /// Read the user's POP3 password from FILE (one line, its line ending
    /// dropped; keep the file private). The password is kept only by the
    /// post office's mail router.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Read the user's POP3 password from standard input (one line),
    /// e.g. `printf '%s\n' "$PW" | netctl user add ... --password-stdin`.
    #[arg(long)]
    pub password_stdin: bool,
    /// The password itself. Other local users can read it in the process
    /// list while netctl runs: prefer --password-file or --password-stdin.
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
}

/// A password longer than this is a wrong file, not a password.
const MAX_PASSWORD_BYTES: u64 = 1024;

impl PasswordArgs {
    /// The password, if one was given in any of the three ways; without one
    /// the user's POP3 password (if any) is left as it is.
    pub fn read(&self) -> Result<Option<String>, NetctlError> {
        let (text, from) = if let Some(path) = &self.password_file {
            let file = std::fs::File::open(path).map_err(|e| {
                NetctlError::Password(format!("--password-file {}: {e}", path.display()))
            })?;
            (
                read_bounded(file),
                format!("--password-file {}", path.display()),
            )
        } else if self.password_stdin {
            (
                read_bounded(std::io::stdin().lock()),
                "standard input".to_owned(),
            )
        } else {
            return Ok(self.password.clone());
        };
        let text = text.map_err(|e| NetctlError::Password(format!("{from}: {e}")))?;
        first_line(&text)
            .map(|p| Some(p.to_owned()))
            .map_err(|why| NetctlError::Password(format!("{from}: {why}")))
    }
}

fn read_bounded(input: impl Read) -> std::io::Result<String> {
    let mut text = String::new();
    input
        .take(MAX_PASSWORD_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_PASSWORD_BYTES {
        return Err(std::io::Error::other(format!(
            "more than {MAX_PASSWORD_BYTES} bytes: not a password"
        )));
    }
    Ok(text)
}

/// The password on the first line of `text` (its line ending removed, as
/// `echo` and editors add one). Anything on later lines is refused rather
/// than silently dropped: the operator may have given the wrong file.
fn first_line(text: &str) -> Result<&str, &'static str> {
    let line = text.strip_suffix('\n').unwrap_or(text);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.is_empty() {
        return Err("the password is empty");
    }
    if line.contains(['\n', '\r']) {
        return Err("more than one line: the password must be the only line");
    }
    Ok(line)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_the_first_line_without_its_ending() {
        assert_eq!(first_line("s3cret\n"), Ok("s3cret"));
        assert_eq!(first_line("s3cret\r\n"), Ok("s3cret"));
        assert_eq!(first_line("s3cret"), Ok("s3cret"));
        assert_eq!(first_line(" with spaces \n"), Ok(" with spaces "));
    }

    #[test]
    fn an_empty_or_multi_line_password_is_refused() {
        assert!(first_line("").is_err());
        assert!(first_line("\n").is_err());
        assert!(first_line("one\ntwo\n").is_err());
    }

    #[test]
    fn a_password_file_is_read_and_a_missing_one_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "from-a-file\n").unwrap();
        let args = PasswordArgs {
            password_file: Some(path.clone()),
            ..PasswordArgs::default()
        };
        assert_eq!(args.read().unwrap().as_deref(), Some("from-a-file"));
        std::fs::write(&path, "x".repeat(2000)).unwrap();
        let err = args.read().unwrap_err().to_string();
        assert!(err.contains("not a password"), "{err}");
        let missing = PasswordArgs {
            password_file: Some(dir.path().join("nope")),
            ..PasswordArgs::default()
        };
        let err = missing.read().unwrap_err().to_string();
        assert!(
            err.contains("--password-file") && err.contains("nope"),
            "{err}"
        );
        assert_eq!(PasswordArgs::default().read().unwrap(), None);
    }
}
