//! TLS: the client configuration every connection of a context shares, the server name a
//! URL's host is verified against, and the handshake under the request's deadlines.

use super::Socket;
use super::clock::{Clock, deadline};
use crate::config::ConfigError;
use crate::error::{HttpError, IoFailure, Stage};
use crate::url::{Host, UrlError};
use rustls::pki_types::{CertificateDer, ServerName};
use std::net::{IpAddr, TcpStream};
use std::sync::Arc;
use std::time::Instant;

/// TLS 1.2 and 1.3 only, ring's algorithms, ALPN `http/1.1`, SNI on (rustls's default);
/// Mozilla's roots (webpki-roots) unless `only_custom`, plus `extra_roots`.
pub(crate) fn client_config(
    extra_roots: &[CertificateDer<'static>],
    only_custom: bool,
) -> Result<Arc<rustls::ClientConfig>, ConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    if !only_custom {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for cert in extra_roots {
        roots
            .add(cert.clone())
            .map_err(|e| ConfigError::new(format!("root certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ConfigError::new(format!("TLS configuration: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The name rustls verifies the certificate against (and sends as SNI for DNS names).
/// Computed once per request, before DNS: a name rustls would refuse is `invalid_url`.
pub(crate) fn server_name(host: &Host) -> Result<ServerName<'static>, UrlError> {
    Ok(match host {
        Host::Name(n) => ServerName::try_from(n.clone())
            .map_err(|_| UrlError("host is not a valid TLS server name"))?,
        Host::V4(ip) => ServerName::IpAddress(IpAddr::V4(*ip).into()),
        Host::V6(ip) => ServerName::IpAddress(IpAddr::V6(*ip).into()),
    })
}

/// A TLS stream over a deadline-bounded socket.
pub(crate) type TlsStream = rustls::StreamOwned<rustls::ClientConnection, Socket>;

/// Completes the handshake, each socket call bounded by the request's clock.
pub(crate) fn handshake(
    config: &Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
    tcp: TcpStream,
    clock: &Clock,
) -> Result<TlsStream, HttpError> {
    let mut conn =
        rustls::ClientConnection::new(config.clone(), name).map_err(HttpError::from_tls)?;
    let mut sock = Socket::new(tcp, clock.interrupt.clone());
    while conn.is_handshaking() {
        let (budget, phase) = clock.budget().map_err(HttpError::Timeout)?;
        sock.deadline = deadline(Instant::now(), budget);
        if let Err(error) = conn.complete_io(&mut sock) {
            return Err(HttpError::from_io(
                IoFailure { error, phase },
                Stage::BeforeResponse,
            ));
        }
    }
    Ok(rustls::StreamOwned::new(conn, sock))
}
