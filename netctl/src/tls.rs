//! The network's own certificate authority and each post office's
//! certificate, so that users' mail clients can check they talk to the post
//! office (POP3 STLS/pop3s, SMTP STARTTLS) by trusting one file:
//!
//! * `DATA_DIR/tls/ca.pem`: the CA certificate users' clients trust
//!   (`DATA_DIR/tls/ca-key.pem`, its key, 0600, never leaves the machine).
//!   Made at the first `up` of a data directory and kept across `down`/`up`,
//!   so clients configured once keep trusting the network.
//! * `DATA_DIR/tls/NODE/cert.pem` and `key.pem` (0600): each post office's
//!   certificate, issued again at every `up` for the topology's `host`
//!   (and `localhost`/`127.0.0.1` when the host is loopback) and the post
//!   office's mail domain (`poa.acme`). A post office whose topology names
//!   its own `tls_cert`/`tls_key` gets none: the operator's files are used.
//!
//! rcgen's default validity (1975 to 4096) is kept: this CA is the
//! operator's own trust anchor for one network, replaced by deleting the
//! `tls` directory, not by expiry.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use role_runtime::tls::TlsFiles;
use wire_format::Name;

use crate::NetctlError;
use crate::mailclient::Pop3Server;
use crate::network::Network;
use crate::state::write_file;
use crate::topology::{Node, Topology};

/// `DATA_DIR/tls`.
pub fn tls_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("tls")
}

/// `DATA_DIR/tls/ca.pem`: what a user's mail client trusts.
pub fn ca_path(data_dir: &Path) -> PathBuf {
    tls_dir(data_dir).join("ca.pem")
}

fn ca_key_path(data_dir: &Path) -> PathBuf {
    tls_dir(data_dir).join("ca-key.pem")
}

/// The files a post office serves: the topology's own, or those `up`
/// issues under `DATA_DIR/tls/NODE/`.
pub fn node_files(data_dir: &Path, node: &Node) -> TlsFiles {
    node.tls.clone().unwrap_or_else(|| {
        let dir = tls_dir(data_dir).join(node.name.as_str());
        TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    })
}

/// What netctl's own mail client trusts for a post office: the network
/// CA, or the operator's own chain (each of its certificates an anchor, so a
/// self-signed or privately issued one is checked too).
pub fn trust(data_dir: &Path, node: &Node) -> PathBuf {
    match &node.tls {
        Some(files) => files.cert.clone(),
        None => ca_path(data_dir),
    }
}

/// A post office's POP3 listener for netctl's mail client, with TLS.
pub fn pop3_server(net: &Network, po: &Name) -> Result<Pop3Server, NetctlError> {
    let endpoint = net.mail_endpoint(po, "pop3")?;
    let trust = net.topology.node(po).map(|node| trust(&net.data_dir, node));
    Ok(Pop3Server { endpoint, trust })
}

fn failed(path: &Path, reason: impl std::fmt::Display) -> NetctlError {
    NetctlError::Tls {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// The CA's subject; rebuilt the same way to sign with a kept CA key, so
/// the leaves name the issuer the kept `ca.pem` has.
fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "mhub network CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

/// The CA's signing side: the kept key when `ca.pem` and its key exist,
/// else a new CA written to both files.
fn ca(data_dir: &Path) -> Result<Issuer<'static, KeyPair>, NetctlError> {
    let (cert_path, key_path) = (ca_path(data_dir), ca_key_path(data_dir));
    let params = ca_params().map_err(|e| failed(&cert_path, e))?;
    if cert_path.is_file() && key_path.is_file() {
        let pem = std::fs::read_to_string(&key_path).map_err(|e| failed(&key_path, e))?;
        let key = KeyPair::from_pem(&pem).map_err(|e| {
            failed(
                &key_path,
                format!("not the CA's PEM key ({e}); delete the tls directory to make a new CA"),
            )
        })?;
        return Ok(Issuer::new(params, key));
    }
    let key = KeyPair::generate().map_err(|e| failed(&key_path, e))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| failed(&cert_path, e))?;
    // The key first: a CA certificate without its key would be kept by the
    // next `up` and sign nothing.
    write_file(&key_path, &key.serialize_pem())?;
    write_file(&cert_path, &cert.pem())?;
    Ok(Issuer::new(params, key))
}

/// The names a post office's certificate is valid for.
fn subject_names(host: &str, node: &Name, network: &Name) -> Vec<String> {
    let mut names = vec![host.to_owned()];
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback {
        names.extend([
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ]);
    }
    names.push(format!("{node}.{network}").to_ascii_lowercase());
    names.sort();
    names.dedup();
    names
}

/// Makes (or keeps) the CA and issues a certificate for every post office
/// without its own; returns each post office's files.
pub fn issue(
    topology: &Topology,
    data_dir: &Path,
) -> Result<BTreeMap<Name, TlsFiles>, NetctlError> {
    let mut files = BTreeMap::new();
    let mut issuer = None;
    for node in topology.post_offices() {
        let node_files = node_files(data_dir, node);
        if node.tls.is_none() {
            if issuer.is_none() {
                issuer = Some(ca(data_dir)?);
            }
            let Some(issuer) = &issuer else { continue };
            let names = subject_names(&topology.host, &node.name, &topology.network);
            let mut params =
                CertificateParams::new(names).map_err(|e| failed(&node_files.cert, e))?;
            params
                .distinguished_name
                .push(DnType::CommonName, node.name.as_str());
            params.use_authority_key_identifier_extension = true;
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            let key = KeyPair::generate().map_err(|e| failed(&node_files.key, e))?;
            let cert = params
                .signed_by(&key, issuer)
                .map_err(|e| failed(&node_files.cert, e))?;
            write_file(&node_files.key, &key.serialize_pem())?;
            write_file(&node_files.cert, &cert.pem())?;
        }
        files.insert(node.name, node_files);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_host_also_names_localhost_and_the_mail_domain() {
        let (po, net) = (Name::new("POA").unwrap(), Name::new("ACME").unwrap());
        let names = subject_names("127.0.0.1", &po, &net);
        for n in ["127.0.0.1", "localhost", "::1", "poa.acme"] {
            assert!(names.contains(&n.to_owned()), "{names:?}");
        }
        let names = subject_names("10.0.0.5", &po, &net);
        assert_eq!(names, vec!["10.0.0.5".to_owned(), "poa.acme".to_owned()]);
    }
}
