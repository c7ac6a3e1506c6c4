//! TLS for a role's client-facing listeners (POP3 over TLS, SMTP STARTTLS):
//! the certificate chain and private key a role is configured with, loaded
//! once into a [`TlsAcceptor`], and a [`Stream`] a session reads and writes
//! the same way whether it is still plain TCP or already TLS, so that
//! STLS/STARTTLS can upgrade it in the middle of a session.
//!
//! The configuration keys (in a role's file; both or neither):
//!
//! ```toml
//! tls_cert = "/var/lib/mhub/poa-mr/tls/cert.pem"  # PEM, leaf certificate first
//! tls_key = "/var/lib/mhub/poa-mr/tls/key.pem"    # PEM private key (PKCS#8, PKCS#1 or SEC1); keep it 0600
//! ```
//!
//! rustls runs with the `ring` provider only, so the acceptor is built with
//! an explicit provider rather than a process-wide default.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub use tokio_rustls::TlsAcceptor;

use crate::RuntimeError;

/// The files of a role's TLS identity, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsFiles {
    /// The certificate chain, PEM, the server's own certificate first.
    pub cert: PathBuf,
    /// The private key of the first certificate, PEM.
    pub key: PathBuf,
}

impl TlsFiles {
    /// The files from a role's optional `tls_cert`/`tls_key` keys: both
    /// give TLS, neither gives none, one alone is a mistake the reason
    /// names.
    pub fn from_keys(cert: Option<&Path>, key: Option<&Path>) -> Result<Option<TlsFiles>, String> {
        match (cert, key) {
            (Some(cert), Some(key)) => Ok(Some(TlsFiles {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
            })),
            (None, None) => Ok(None),
            (Some(_), None) => {
                Err("tls_cert is set but tls_key is not: set both, or neither for no TLS".into())
            }
            (None, Some(_)) => {
                Err("tls_key is set but tls_cert is not: set both, or neither for no TLS".into())
            }
        }
    }
}

const CERT: &str = "tls_cert";
const KEY: &str = "tls_key";

fn tls_error(key: &str, path: &Path, reason: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Tls {
        path: path.display().to_string(),
        reason: format!("{key}: {reason}"),
    }
}

/// Reads the chain and key and builds the acceptor every TLS session of
/// the role uses. A refusal names the file and what is wrong with it.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, RuntimeError> {
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| {
            tls_error(
                CERT,
                &files.cert,
                format!("cannot read a PEM certificate chain: {e}"),
            )
        })?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            tls_error(
                CERT,
                &files.cert,
                format!("not a PEM certificate chain: {e}"),
            )
        })?;
    if chain.is_empty() {
        return Err(tls_error(
            CERT,
            &files.cert,
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        tls_error(
            KEY,
            &files.key,
            format!("cannot read a PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(CERT, &files.cert, format!("no TLS version available: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            tls_error(
                KEY,
                &files.key,
                format!(
                    "does not fit the certificate in tls_cert {} or is unusable: {e}",
                    files.cert.display()
                ),
            )
        })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A client connection, plain or TLS, read and written the same way.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Stream {
    /// Whether the connection is (already) TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// The TLS handshake on a connection that is plain so far (implicit
    /// TLS at accept, or after STLS/STARTTLS was answered). A stream that
    /// is TLS already is refused: TLS is started once per connection.
    pub async fn start_tls(self, acceptor: &TlsAcceptor) -> io::Result<Stream> {
        match self {
            Stream::Plain(tcp) => Ok(Stream::Tls(Box::new(acceptor.accept(tcp).await?))),
            Stream::Tls(_) => Err(io::Error::other("TLS is already active")),
        }
    }
}

impl From<TcpStream> for Stream {
    fn from(tcp: TcpStream) -> Stream {
        Stream::Plain(tcp)
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_alone_is_refused_naming_the_other() {
        let p = Path::new("/x");
        assert!(TlsFiles::from_keys(None, None).unwrap().is_none());
        assert!(TlsFiles::from_keys(Some(p), Some(p)).unwrap().is_some());
        let e = TlsFiles::from_keys(Some(p), None).unwrap_err();
        assert!(e.contains("tls_key"), "{e}");
        let e = TlsFiles::from_keys(None, Some(p)).unwrap_err();
        assert!(e.contains("tls_cert"), "{e}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let files = TlsFiles {
            cert: PathBuf::from("/nonexistent/cert.pem"),
            key: PathBuf::from("/nonexistent/key.pem"),
        };
        let e = acceptor(&files).err().expect("refused").to_string();
        assert!(
            e.contains("/nonexistent/cert.pem") && e.contains("tls_cert"),
            "{e}"
        );
    }
}
