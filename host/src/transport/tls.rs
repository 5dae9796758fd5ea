//! TLS: the client configuration every connection of a context shares, the server name a
//! URL's host is verified against, and the handshake under the request's deadlines.

use super::Socket;
use super::clock::{Clock, deadline};
use crate::config::ConfigError;
use crate::error::{HttpError, IoFailure, Stage};
use crate::policy::OriginPattern;
use crate::url::{Host, UrlError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::net::{IpAddr, TcpStream};
use std::sync::Arc;
use std::time::Instant;

/// A client certificate chain and its private key, from PEM (`HttpCtxBuilder::client_certificate`).
pub(crate) struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Identity {
    /// Parses a PEM chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1). Errors
    /// name what is wrong, never the key's bytes.
    pub(crate) fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Identity, String> {
        let chain = CertificateDer::pem_slice_iter(chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("certificate PEM: {e}"))?;
        if chain.is_empty() {
            return Err("certificate PEM: no CERTIFICATE block".into());
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|_| "private key PEM: no PKCS#8, PKCS#1 or SEC1 key block".to_owned())?;
        Ok(Identity { chain, key })
    }
}

/// The roots a context trusts (`HttpCtxBuilder::add_root_certificates_pem`,
/// `only_custom_roots`).
#[derive(Debug, Default)]
pub(crate) struct Roots {
    /// Added to (or, with `only_custom`, instead of) Mozilla's roots.
    pub(crate) added: Vec<CertificateDer<'static>>,
    /// Whether Mozilla's roots (webpki-roots) are left out.
    pub(crate) only_custom: bool,
}

impl Roots {
    /// Adds the `CERTIFICATE` blocks of a PEM bundle; a bundle without one is an error.
    pub(crate) fn add_pem(&mut self, pem: &[u8]) -> Result<(), ConfigError> {
        let before = self.added.len();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| ConfigError::new(format!("root certificate PEM: {e}")))?;
            self.added.push(cert);
        }
        if self.added.len() == before {
            return Err(ConfigError::new(
                "root certificate PEM: no CERTIFICATE block",
            ));
        }
        Ok(())
    }

    /// Whether a context may trust these roots: with `only_custom`, at least one was added.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if self.only_custom && self.added.is_empty() {
            return Err(ConfigError::new(
                "only_custom_roots is set but no root certificate was added",
            ));
        }
        Ok(())
    }

    /// The client configuration trusting these roots, presenting `identity` if given.
    pub(crate) fn client_config(
        &self,
        identity: Option<Identity>,
    ) -> Result<Arc<rustls::ClientConfig>, ConfigError> {
        client_config(&self.added, self.only_custom, identity)
    }

    /// The client certificates of `HttpCtxBuilder::client_certificate`, each `(pattern, chain
    /// PEM, key PEM)` checked (an `https` origin pattern, a chain and a key that parse and
    /// belong together) and given its own client configuration (its own session cache).
    /// Errors name the pattern, never the key.
    pub(crate) fn identities<'a>(
        &self,
        entries: impl IntoIterator<Item = (&'a str, &'a [u8], &'a [u8])>,
    ) -> Result<Vec<(OriginPattern, Arc<rustls::ClientConfig>)>, ConfigError> {
        entries
            .into_iter()
            .map(|(text, chain, key)| {
                let bad = |why: String| {
                    ConfigError::new(format!("client certificate for `{text}`: {why}"))
                };
                let pattern = OriginPattern::parse(text).map_err(bad)?;
                if !pattern.is_https() {
                    return Err(bad("client certificates are for https origins".into()));
                }
                let identity = Identity::from_pem(chain, key).map_err(bad)?;
                Ok((pattern, self.client_config(Some(identity))?))
            })
            .collect()
    }
}

/// TLS 1.2 and 1.3 only, ring's algorithms, ALPN `http/1.1`, SNI on (rustls's default);
/// Mozilla's roots (webpki-roots) unless `only_custom`, plus `extra_roots`; presenting
/// `identity` when the server asks for a client certificate.
fn client_config(
    extra_roots: &[CertificateDer<'static>],
    only_custom: bool,
    identity: Option<Identity>,
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
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ConfigError::new(format!("TLS configuration: {e}")))?
        .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some(Identity { chain, key }) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| ConfigError::new(format!("client certificate: {e}")))?,
    };
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
        // An expired timer is the interrupt's if the store is interrupted too.
        let (budget, phase) = clock.budget().map_err(|phase| clock.expired(phase))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Timeouts;
    use std::net::TcpListener;
    use std::time::Duration;

    /// A handshake that starts with its deadline passed and the store interrupted reports the
    /// interrupt (36), not the deadline (23): the interrupt outranks every timer (`abi.md`,
    /// "Interrupts and the embedder's deadline", Precedence).
    #[test]
    fn an_expired_handshake_of_an_interrupted_store_is_interrupted() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let tcp = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
        let config = client_config(&[], false, None).unwrap_or_else(|e| panic!("{e}"));
        let name = server_name(&Host::Name("example.com".into())).unwrap_or_else(|e| panic!("{e}"));
        let timeouts = Timeouts {
            total: Duration::from_millis(1),
            ..Timeouts::default()
        };
        let started = Instant::now()
            .checked_sub(Duration::from_secs(1))
            .unwrap_or_else(Instant::now);
        let clock = Clock::start(&timeouts, started, &crate::control::Controls::default());
        let expired = handshake(&config, name.clone(), tcp, &clock);
        assert!(
            matches!(
                expired,
                Err(HttpError::Timeout(crate::error::TimeoutPhase::Total))
            ),
            "{:?}",
            expired.err()
        );
        clock.interrupt.set();
        let tcp = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
        let both = handshake(&config, name, tcp, &clock);
        assert!(
            matches!(both, Err(HttpError::Interrupted)),
            "{:?}",
            both.err()
        );
    }
}
