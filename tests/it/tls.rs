//! The functions' HTTPS client over real TLS: every other test speaks plain HTTP to the
//! emulator, so here the function binaries reach the same emulator through its TLS listener
//! (`infra/scripts/with-moto.sh`), trusting only the run's test CA through `SSL_CERT_FILE`. They
//! must grant and revoke over it, and refuse a server whose certificate does not name the host
//! they dialled or was not signed by a CA they trust.

use crate::functions::{assert_http, bus_with_tap, invoke, sample_id, seed, tapped};
use chrono::Utc;
use serde_json::json;
use stint_domain::policy::grant_policy_name;
use stint_domain::Status;
use stint_tests::aws::Fixture;
use stint_tests::sample;

/// `https://localhost:PORT`, served with a certificate for `localhost` signed by the test CA.
fn tls_endpoint() -> String {
    std::env::var("STINT_TEST_TLS_ENDPOINT").expect(
        "STINT_TEST_TLS_ENDPOINT is not set: run the tests through infra/scripts/test.sh, \
         whose emulator also listens over TLS",
    )
}

fn test_ca() -> String {
    std::env::var("STINT_TEST_TLS_CA").expect("STINT_TEST_TLS_CA is not set")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn functions_grant_and_revoke_over_tls_trusting_only_the_ca() {
    let f = Fixture::new(Utc::now()).await;
    seed(&f, true, false, None).await;
    let (endpoint, ca) = (tls_endpoint(), test_ca());
    let tls = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("SSL_CERT_FILE", ca.as_str()),
    ];
    // Grant: the catalog's record at init (DynamoDB), IAM, Scheduler, the store; all over TLS.
    let (kind, out) = invoke(
        &f,
        "stint-grant",
        sample("eventbridge-access-approved.json"),
        &tls,
    )
    .await;
    assert_eq!(
        (kind.as_str(), &out["granted"]),
        ("response", &json!(true)),
        "{out}"
    );
    assert!(f.policy(&grant_policy_name(sample_id())).await.is_some());
    assert_eq!(f.status(sample_id()).await, Status::Active);

    let body = assert_http(
        &invoke(&f, "stint-revoke", sample("apigw-revoke.json"), &tls).await,
        200,
    );
    assert_eq!(body["status"], "revoked");
    assert!(f.policy(&grant_policy_name(sample_id())).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_relay_puts_over_tls_and_refuses_a_wrong_name_or_an_untrusted_ca() {
    let f = Fixture::new(Utc::now()).await;
    let (bus, tap) = bus_with_tap().await;
    let (endpoint, ca) = (tls_endpoint(), test_ca());
    let port = endpoint.rsplit(':').next().expect("a port");
    let by_address = format!("https://127.0.0.1:{port}");
    let relay = |env: Vec<(&'static str, String)>| {
        let (f, bus) = (&f, bus.clone());
        async move {
            let mut env = env;
            env.push(("STINT_BUS", bus));
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            invoke(
                f,
                "stint-relay",
                sample("dynamodb-stream-insert.json"),
                &env,
            )
            .await
        }
    };

    // The same server, dialled as 127.0.0.1: its certificate names only localhost.
    let (kind, out) = relay(vec![
        ("AWS_ENDPOINT_URL", by_address),
        ("SSL_CERT_FILE", ca.clone()),
    ])
    .await;
    assert_eq!(kind, "response", "{out}");
    assert_eq!(
        out["batchItemFailures"].as_array().map(Vec::len),
        Some(1),
        "{out}"
    );
    // The right name, but the test CA is not trusted: only the platform's roots are.
    let (kind, out) = relay(vec![("AWS_ENDPOINT_URL", endpoint.clone())]).await;
    assert_eq!(kind, "response", "{out}");
    assert_eq!(
        out["batchItemFailures"].as_array().map(Vec::len),
        Some(1),
        "{out}"
    );
    assert!(tapped(&tap).await.is_empty(), "nothing reached the bus");

    // The right name and the CA: the record reaches the bus.
    let (kind, out) = relay(vec![("AWS_ENDPOINT_URL", endpoint), ("SSL_CERT_FILE", ca)]).await;
    assert_eq!(
        (kind.as_str(), &out["batchItemFailures"]),
        ("response", &json!([])),
        "{out}"
    );
    let got = tapped(&tap).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["detail-type"], "AccessRequested");
}

/// The console's outbound calls (the issuer's discovery document, JWKS and token endpoint)
/// trust the platform's roots, `SSL_CERT_FILE` included: an issuer behind a company CA works
/// once that CA is in the store, and the certificate must still name the host.
#[test]
fn the_consoles_outbound_https_trusts_the_platform_store_and_checks_the_name() {
    // Read once per process (nextest runs each test in its own), before the first call.
    std::env::set_var("SSL_CERT_FILE", test_ca());
    let endpoint = tls_endpoint();
    let agent = stint_http::outbound::agent(std::time::Duration::from_secs(10));
    let answer = agent
        .get(&format!("{endpoint}/moto-api/"))
        .call()
        .expect("the emulator answers over TLS");
    assert_eq!(answer.status(), 200);
    let port = endpoint.rsplit(':').next().expect("a port");
    let refused = agent
        .get(&format!("https://127.0.0.1:{port}/moto-api/"))
        .call();
    assert!(
        refused.is_err(),
        "a certificate for localhost is refused at 127.0.0.1: {refused:?}"
    );
}
