//! TLS: a throwaway CA and a serving certificate, generated at start-up (ECDSA P-256, ring).
//!
//! The serving certificate names `localhost`, `127.0.0.1`, the bind address, `kubernetes`
//! and `kubernetes.default.svc`. Clients trust it through [`TlsMaterial::ca_pem`] (which the
//! generated kubeconfig embeds as `certificate-authority-data`). ALPN offers only `http/1.1`.

use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

use crate::Error;

/// A CA certificate and a TLS acceptor presenting a certificate it signed.
pub(crate) struct TlsMaterial {
    pub ca_pem: String,
    pub acceptor: TlsAcceptor,
}

fn tls_error(what: &str) -> impl FnOnce(rcgen::Error) -> Error + '_ {
    move |err| Error::Tls(format!("{what}: {err}"))
}

/// Generates a CA and a serving certificate for `ip`.
pub(crate) fn generate(ip: IpAddr) -> Result<TlsMaterial, Error> {
    let ca_key = KeyPair::generate().map_err(tls_error("generating the CA key"))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())
        .map_err(tls_error("building the CA certificate"))?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "fake-apiserver-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .map_err(tls_error("signing the CA certificate"))?;

    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "kubernetes".to_string(),
        "kubernetes.default.svc".to_string(),
    ];
    if !ip.is_unspecified() && !names.contains(&ip.to_string()) {
        names.push(ip.to_string());
    }
    let server_key = KeyPair::generate().map_err(tls_error("generating the server key"))?;
    let mut server_params =
        CertificateParams::new(names).map_err(tls_error("building the server certificate"))?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .map_err(tls_error("signing the server certificate"))?;

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|err| Error::Tls(format!("choosing TLS versions: {err}")))?
    .with_no_client_auth()
    .with_single_cert(vec![server_cert.der().clone()], key)
    .map_err(|err| Error::Tls(format!("loading the server certificate: {err}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsMaterial {
        ca_pem: ca_cert.pem(),
        acceptor: TlsAcceptor::from(Arc::new(config)),
    })
}
