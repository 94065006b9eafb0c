//! Outbound HTTPS from the functions (the OIDC issuer's discovery document, its JWKS, its token
//! endpoint): ureq over rustls with the aws-lc-rs provider the AWS SDK already links, so a
//! function carries one TLS stack, not two.

use std::sync::Arc;
use std::time::Duration;

/// rustls on aws-lc-rs, with the Mozilla roots bundled (a Lambda image's own store is not
/// needed).
pub fn tls() -> ureq::tls::TlsConfig {
    ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
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
