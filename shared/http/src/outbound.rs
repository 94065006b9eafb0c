//! Outbound HTTPS from the functions (the OIDC issuer's discovery document, its JWKS, its token
//! endpoint): ureq over rustls with the ring provider the functions' AWS SDK clients use too
//! (`stint_aws::runtime::lambda_sdk_config`), so a function carries one TLS stack, not two.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// The platform's root certificates (and `SSL_CERT_FILE` / `SSL_CERT_DIR`), read once: the
/// store the AWS SDK's client trusts too. An issuer behind a company CA works once that CA is
/// in the image's store, and no copy of Mozilla's roots is carried (about 0.1 MB).
static ROOTS: LazyLock<Vec<ureq::tls::Certificate<'static>>> = LazyLock::new(|| {
    let found = rustls_native_certs::load_native_certs();
    if !found.errors.is_empty() {
        tracing::warn!(errors = ?found.errors, "some platform root certificates could not be read");
    }
    found
        .certs
        .into_iter()
        .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
        .collect()
});

/// rustls on ring, trusting the platform's roots.
pub fn tls() -> ureq::tls::TlsConfig {
    ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .root_certs(ureq::tls::RootCerts::new_with_certs(&ROOTS))
        .build()
}

/// An agent that answers every status as a response (the caller reads errors' bodies), with
/// a bound on the whole call.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .tls_config(tls())
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into()
}

#[cfg(test)]
mod tests {
    /// The TLS configuration is built at the first HTTPS call: against a server that hangs up,
    /// that call fails as a network error, never a panic for want of a crypto provider.
    #[test]
    fn https_calls_get_a_tls_stack() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((s, _)) = listener.accept() {
                drop(s);
            }
        });
        let answer = super::agent(std::time::Duration::from_secs(5))
            .get(&format!("https://127.0.0.1:{port}/"))
            .call();
        assert!(answer.is_err(), "no TLS server there");
    }
}
