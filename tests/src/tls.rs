//! Certificates generated at test time (rcgen) and rustls server configurations for them.
//!
//! Nothing is committed: every test run makes a fresh CA, so no key material lives in the
//! repository and nothing can expire.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The names the standard leaf certificate is valid for: a DNS name and both loopback IPs
/// (IP SANs, so `https://127.0.0.1:PORT` verifies without a host name).
pub const LOCAL_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1"];

/// A test certificate authority.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

impl TestCa {
    /// A fresh CA with a new key.
    pub fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "e2e test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA certificate, PEM, for `HttpCtxBuilder::add_root_certificates_pem`.
    pub fn pem(&self) -> &[u8] {
        self.pem.as_bytes()
    }

    /// A server configuration presenting a leaf for `names` signed by this CA.
    pub fn server_config(&self, names: &[&str]) -> Arc<rustls::ServerConfig> {
        let (params, key) = leaf_params(names);
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        server_config(cert.der().clone(), key)
    }

    /// A server configuration for [`LOCAL_NAMES`] signed by this CA.
    pub fn localhost_config(&self) -> Arc<rustls::ServerConfig> {
        self.server_config(LOCAL_NAMES)
    }

    /// A server configuration for [`LOCAL_NAMES`] signed by this CA, accepting only `versions`
    /// and, if `alpn` is not empty, insisting on one of `alpn` (in that order of preference).
    pub fn localhost_config_with(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
        alpn: &[&[u8]],
    ) -> Arc<rustls::ServerConfig> {
        let (params, key) = leaf_params(LOCAL_NAMES);
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        let mut cfg = server_config_for(cert.der().clone(), key, versions);
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(cfg)
    }
}

impl TestCa {
    /// A client identity signed by this CA: `(certificate PEM, PKCS#8 key PEM)`, for
    /// `HttpCtxBuilder::client_certificate`.
    pub fn client_identity(&self, name: &str) -> (String, String) {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().expect("client key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("client certificate");
        (cert.pem(), key.serialize_pem())
    }

    /// A server configuration for [`LOCAL_NAMES`] signed by this CA that asks for a client
    /// certificate issued by `clients`: required, or (`optional`) merely requested.
    pub fn localhost_config_with_client_auth(
        &self,
        clients: &TestCa,
        optional: bool,
    ) -> Arc<rustls::ServerConfig> {
        let (params, key) = leaf_params(LOCAL_NAMES);
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(clients.pem()) {
            roots.add(c.expect("client CA PEM")).expect("client CA");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        );
        let verifier = if optional {
            verifier.allow_unauthenticated()
        } else {
            verifier
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(rustls::DEFAULT_VERSIONS)
            .expect("protocol versions")
            .with_client_cert_verifier(verifier.build().expect("client verifier"))
            .with_single_cert(vec![cert.der().clone()], key)
            .expect("server certificate");
        Arc::new(config)
    }
}

/// A server configuration presenting a self-signed leaf for `names` (trusted by nobody).
pub fn self_signed_config(names: &[&str]) -> Arc<rustls::ServerConfig> {
    let (params, key) = leaf_params(names);
    let cert = params.self_signed(&key).expect("self-signed certificate");
    server_config(cert.der().clone(), key)
}

fn leaf_params(names: &[&str]) -> (CertificateParams, KeyPair) {
    let names: Vec<String> = names.iter().map(|s| (*s).to_string()).collect();
    let mut params = CertificateParams::new(names.clone()).expect("leaf params");
    if let Some(first) = names.first() {
        params
            .distinguished_name
            .push(DnType::CommonName, first.as_str());
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    (params, KeyPair::generate().expect("leaf key"))
}

fn server_config(cert: CertificateDer<'static>, key: KeyPair) -> Arc<rustls::ServerConfig> {
    Arc::new(server_config_for(cert, key, rustls::DEFAULT_VERSIONS))
}

fn server_config_for(
    cert: CertificateDer<'static>,
    key: KeyPair,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::ServerConfig {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server certificate")
}
