//! Identity from API Gateway's JWT authorizer: the claims it verified, never the body.

use super::claims::ClaimRules;
use super::{Api, AuthError, Authenticator, PipelineAuthenticator, PipelineCaller};
use aws_lambda_events::apigw::{
    ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext, ApiGatewayV2httpResponse,
};
use aws_lambda_events::encodings::Body as EventBody;
use base64::Engine as _;
use http::request::Parts;
use std::sync::Arc;
use stint_app::Stint;
use stint_domain::{Identity, UserId};

/// Reads the user and groups from the authorizer's claims by [`ClaimRules`]: one user claim,
/// no fallback, a verified email, groups read without guessing.
#[derive(Debug, Clone, Default)]
pub struct ApiGatewayClaims {
    pub rules: ClaimRules,
}

type Claims = std::collections::HashMap<String, String>;

/// What a path keeps escaped: controls, space, and the characters RFC 3986 allows in no path
/// (`%` stays, so an already-escaped path is not escaped twice).
const PATH_ESCAPES: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

fn claims(parts: &Parts) -> Result<&Claims, AuthError> {
    let Some(ctx) = parts.extensions.get::<ApiGatewayV2httpRequestContext>() else {
        return Err(AuthError("no API Gateway request context".into()));
    };
    ctx.authorizer
        .as_ref()
        .and_then(|a| a.jwt.as_ref())
        .map(|j| &j.claims)
        .ok_or_else(|| AuthError("no JWT claims from the authorizer".into()))
}

/// A CI job's claims as GitHub Actions names them: `sub`, `repository`, `ref`, `environment`.
impl PipelineAuthenticator for ApiGatewayClaims {
    fn identify_pipeline(&self, parts: &Parts) -> Result<PipelineCaller, AuthError> {
        let claims = claims(parts)?;
        let get = |k: &str| claims.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let sub = get("sub").ok_or_else(|| AuthError("the token has no sub claim".into()))?;
        Ok(PipelineCaller {
            identity: Identity::new(
                UserId::parse(sub).map_err(|e| AuthError(e.to_string()))?,
                [],
            ),
            repository: get("repository")
                .ok_or_else(|| AuthError("the token has no repository claim".into()))?
                .to_owned(),
            git_ref: get("ref")
                .ok_or_else(|| AuthError("the token has no ref claim".into()))?
                .to_owned(),
            environment: get("environment").map(str::to_owned),
        })
    }
}

impl Authenticator for ApiGatewayClaims {
    fn identify(&self, parts: &Parts) -> Result<Identity, AuthError> {
        // API Gateway hands every claim on as a string (`"true"`, `[a b]`); the rules read
        // those shapes as a decoded token's JSON values would be read.
        let claims: serde_json::Map<String, serde_json::Value> = claims(parts)?
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        self.rules.identity(&claims)
    }
}

/// The HTTP API over the services, trusting API Gateway's JWT authorizer for identity.
pub fn api_from_env(stint: Stint) -> Api {
    let claims = ApiGatewayClaims {
        rules: ClaimRules::from_env(),
    };
    Api::new(stint, Arc::new(claims.clone())).with_pipeline_auth(Arc::new(claims))
}

/// [`api_from_env`] with the console's routes when it is set up ([`console_from_env`]). A
/// console that cannot be set up (the issuer unreachable, no secret) is logged and left out:
/// the function's own work, revoking above all, must not wait on the console's issuer.
pub async fn api_with_console(stint: Stint, secret: Option<Vec<u8>>) -> Api {
    let api = api_from_env(stint);
    match console_from_env(secret).await {
        Ok(Some(c)) => api.with_console(c),
        Ok(None) => api,
        Err(e) => {
            tracing::error!(error = %e, "the console is not served: its setup failed");
            api
        }
    }
}

/// The console in AWS, when `STINT_CONSOLE_URL` (the API's public URL) is set: sign-in against
/// `STINT_OIDC_ISSUER` (the issuer the authorizer trusts) as client `STINT_OIDC_CLIENT_ID`, its
/// ID tokens verified against the issuer's JWKS by the authorizer's claim rules, and `secret`
/// (shared by every instance) keying the CSRF tokens. Reads the issuer's discovery document.
pub async fn console_from_env(
    secret: Option<Vec<u8>>,
) -> Result<Option<crate::console::Console>, String> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    let Some(url) = var("STINT_CONSOLE_URL") else {
        return Ok(None);
    };
    let url = url.trim_end_matches('/').to_owned();
    let issuer = var("STINT_OIDC_ISSUER").ok_or("the console needs STINT_OIDC_ISSUER")?;
    let client_id = var("STINT_OIDC_CLIENT_ID").ok_or("the console needs STINT_OIDC_CLIENT_ID")?;
    let secret = secret.filter(|s| s.len() >= 32).ok_or(
        "the console needs a secret of at least 32 bytes (STINT_CONSOLE_SECRET_PARAMETER)",
    )?;
    let d = crate::oidc::discover(&issuer).await?;
    let verifier = crate::oidc::JwksVerifier::new(&d, &client_id, ClaimRules::from_env());
    Ok(Some(crate::console::Console::new(
        crate::console::ConsoleConfig {
            authorize_endpoint: d.authorization_endpoint,
            token_endpoint: d.token_endpoint,
            client_id,
            redirect_uri: format!("{url}{}", crate::idp::CONSOLE_CALLBACK),
            secure_cookies: url.starts_with("https://"),
        },
        Arc::new(verifier),
        secret,
    )))
}

/// An HTTP API (payload 2.0) event as the request the router serves: the raw path and query
/// string, the headers, the cookies API Gateway splits out joined back into one `Cookie`
/// header, the body (decoded when API Gateway base64-encoded it), and the request context
/// (the authorizer's claims) as an extension for [`ApiGatewayClaims`].
///
/// Written here rather than taken from `lambda_http`, whose response path links the
/// `encoding_rs` tables of every legacy charset to re-decode bodies that are always UTF-8 here
/// (about 0.2 MB a function).
pub fn to_request(payload: serde_json::Value) -> Result<http::Request<axum::body::Body>, String> {
    let ev: ApiGatewayV2httpRequest =
        serde_json::from_value(payload).map_err(|e| format!("unrecognised event: {e}"))?;
    // API Gateway may hand the path decoded (`/a b`): what a URI cannot hold is escaped again,
    // `?` and `#` included, so such a path reaches the router (and its 404 or 400) instead of
    // failing the invocation.
    let path =
        percent_encoding::utf8_percent_encode(ev.raw_path.as_deref().unwrap_or("/"), PATH_ESCAPES);
    let uri = match ev.raw_query_string.as_deref() {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_string(),
    };
    let body = match ev.body {
        Some(b) if ev.is_base64_encoded => base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| format!("the event's body is not base64: {e}"))?,
        Some(b) => b.into_bytes(),
        None => Vec::new(),
    };
    let mut req = http::Request::builder()
        .method(ev.request_context.http.method.clone())
        .uri(uri)
        .body(axum::body::Body::from(body))
        .map_err(|e| format!("the event is not a request: {e}"))?;
    *req.headers_mut() = ev.headers;
    // A cookie that cannot be a header value is left out, as a browser's would never reach us.
    let cookies: Vec<String> = ev
        .cookies
        .unwrap_or_default()
        .into_iter()
        .filter(|c| http::HeaderValue::from_str(c).is_ok())
        .collect();
    if let Ok(joined) = http::HeaderValue::from_str(&cookies.join("; ")) {
        if !cookies.is_empty() {
            req.headers_mut().insert(http::header::COOKIE, joined);
        }
    }
    req.extensions_mut().insert(ev.request_context);
    Ok(req)
}

/// The router's response as API Gateway's payload 2.0 answer: `Set-Cookie` headers go in
/// `cookies`, as API Gateway requires; a UTF-8 body is sent as text, anything else base64.
pub async fn to_event_response(
    response: http::Response<axum::body::Body>,
) -> Result<ApiGatewayV2httpResponse, String> {
    use http_body_util::BodyExt;
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(|e| format!("the response body could not be read: {e}"))?
        .to_bytes();
    let mut headers = parts.headers;
    let cookies = headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    headers.remove(http::header::SET_COOKIE);
    // Payload 2.0 takes one value a name: repeated headers (two `Vary`) are joined with ", ".
    let mut joined = http::HeaderMap::new();
    for name in headers.keys() {
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if let Ok(v) = http::HeaderValue::from_str(&values.join(", ")) {
            joined.insert(name.clone(), v);
        }
    }
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = i64::from(parts.status.as_u16());
    out.headers = joined;
    out.cookies = cookies;
    if !bytes.is_empty() {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => out.body = Some(EventBody::Text(text)),
            Err(e) => {
                out.body = Some(EventBody::Binary(e.into_bytes()));
                out.is_base64_encoded = true;
            }
        }
    }
    Ok(out)
}

/// Serves one API Gateway event through `router` and answers as API Gateway expects: the HTTP
/// half of the request, alerts and revoke functions, and all of approve and interactions.
pub async fn serve_event(
    router: axum::Router,
    payload: serde_json::Value,
    _context: lambda_runtime::Context,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    use tower::ServiceExt;
    let request = to_request(payload)?;
    let response = router.oneshot(request).await?;
    Ok(serde_json::to_value(to_event_response(response).await?)?)
}

/// A function that serves only API Gateway events (approve, interactions).
pub async fn run(router: axum::Router) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            serve_event(router.clone(), event.payload, event.context)
        },
    ))
    .await
}

/// The HTTP half of a function that also takes other events, for `stint_aws::lambda`'s
/// `handle_request`, `handle_alerts` and `handle_revoke`.
pub fn edge(
    router: axum::Router,
) -> impl FnOnce(
    serde_json::Value,
    lambda_runtime::Context,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<serde_json::Value, lambda_runtime::Error>>>,
> {
    move |payload, context| Box::pin(serve_event(router, payload, context))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(extra: serde_json::Value) -> serde_json::Value {
        let mut ev = json!({
            "version": "2.0", "routeKey": "POST /echo", "rawPath": "/echo",
            "rawQueryString": "a=1&b=x%20y", "headers": {"content-type": "text/plain"},
            "requestContext": {"http": {"method": "POST", "path": "/echo"}, "timeEpoch": 0,
                "authorizer": {"jwt": {"claims": {"sub": "alice"}, "scopes": null}}},
            "isBase64Encoded": false,
        });
        for (k, v) in extra.as_object().unwrap() {
            ev[k] = v.clone();
        }
        ev
    }

    async fn echo(req: http::Request<axum::body::Body>) -> http::Response<axum::body::Body> {
        use http_body_util::BodyExt;
        let (parts, body) = req.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let sub = claims(&parts).map(|c| c["sub"].clone()).unwrap_or_default();
        let cookie = parts
            .headers
            .get("cookie")
            .map(|v| v.to_str().unwrap().to_owned());
        let out = json!({"method": parts.method.as_str(), "uri": parts.uri.to_string(),
            "body": String::from_utf8_lossy(&bytes), "sub": sub, "cookie": cookie});
        http::Response::builder()
            .header("vary", "origin")
            .header("vary", "cookie")
            .header("set-cookie", "a=1; Path=/")
            .header("set-cookie", "b=2; Path=/")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(out.to_string()))
            .unwrap()
    }

    #[tokio::test]
    async fn an_event_becomes_the_request_and_the_answer_api_gateways_response() {
        let ev =
            event(json!({"cookies": ["s=1", "t=2"], "body": "aGVsbG8=", "isBase64Encoded": true}));
        let req = to_request(ev).unwrap();
        let resp = to_event_response(echo(req).await).await.unwrap();
        let out = serde_json::to_value(&resp).unwrap();
        assert_eq!(out["statusCode"], 200);
        assert_eq!(out["cookies"], json!(["a=1; Path=/", "b=2; Path=/"]));
        assert_eq!(out["multiValueHeaders"], json!({}));
        assert!(out["headers"].get("set-cookie").is_none(), "{out}");
        assert_eq!(out["headers"]["vary"], "origin, cookie");
        assert_eq!(out["isBase64Encoded"], false);
        let body: serde_json::Value = serde_json::from_str(out["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"method": "POST", "uri": "/echo?a=1&b=x%20y", "body": "hello",
                "sub": "alice", "cookie": "s=1; t=2"})
        );
    }

    #[tokio::test]
    async fn a_binary_answer_goes_back_base64_and_a_bad_event_is_an_error() {
        let resp = http::Response::builder()
            .body(axum::body::Body::from(vec![0x1f, 0x8b, 0xff, 0x00]))
            .unwrap();
        let out = serde_json::to_value(to_event_response(resp).await.unwrap()).unwrap();
        assert_eq!(out["isBase64Encoded"], true);
        assert_eq!(out["body"], "H4v/AA==");
        assert!(to_request(json!({"nope": 1})).is_err());
        // A decoded path, and a cookie no header can hold: still a request, for the router.
        let odd =
            event(json!({"rawPath": "/console/requests/a b?#", "cookies": ["ok=1", "bad=\u{1}"]}));
        let req = to_request(odd).unwrap();
        assert_eq!(req.uri().path(), "/console/requests/a%20b%3F%23");
        assert_eq!(req.headers()["cookie"], "ok=1");
        let bad = event(json!({"body": "%%%", "isBase64Encoded": true}));
        assert!(to_request(bad).unwrap_err().contains("base64"));
    }
}
