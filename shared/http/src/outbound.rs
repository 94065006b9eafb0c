//! Outbound HTTPS from the functions (the OIDC issuer's discovery document, its JWKS, its token
//! endpoint): ureq over rustls with the ring provider the functions' AWS SDK clients use too
//! (`stint_aws::runtime::lambda_sdk_config`), so a function carries one TLS stack, not two.

use std::sync::Arc;
use std::time::Duration;

/// rustls on ring, with the Mozilla roots bundled (a Lambda image's own store is not
/// needed).
pub fn tls() -> ureq::tls::TlsConfig {
    ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
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
