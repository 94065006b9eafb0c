//! Who sees what: a request is for its requester, the role's approvers, admins and auditors.
//! Anyone else gets the same 404 as for an unknown id, and never finds it in a list. Lists come a
//! page at a time, each visible request exactly once, and read only the days they cover.
//! Local adapters only: no emulator.

use crate::support::HeaderUser;
use async_trait::async_trait;
use axum::body::Body;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use http::request::Parts;
use http::Request;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use stint_app::clock::ManualClock;
use stint_app::ports::{Clock, EventStore, LogStream, StoreError};
use stint_app::{RetryPolicy, Stint};
use stint_domain::{Catalog, EventRecord, Identity, StoredEvent, StreamId, UserId};
use stint_http::{router, Api, AuthError, PipelineAuthenticator, PipelineCaller};
use stint_local::memory::{LocalTimers, RecordingProvider};
use stint_local::sqlite::SqliteEventStore;
use tower::ServiceExt;

const PRINCIPAL: &str = "arn:aws:iam::123456789012:role/stint/oncall";

/// A CI job whose repository is in `x-repo`, on main.
struct HeaderJob;

impl PipelineAuthenticator for HeaderJob {
    fn identify_pipeline(&self, parts: &Parts) -> Result<PipelineCaller, AuthError> {
        let repo = parts
            .headers
            .get("x-repo")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| AuthError("no x-repo".into()))?;
        Ok(PipelineCaller {
            identity: Identity::new(
                UserId::parse(&format!("repo:{repo}:ref:refs/heads/main")).unwrap(),
                [],
            ),
            repository: repo.to_owned(),
            git_ref: "refs/heads/main".into(),
            environment: None,
        })
    }
}

/// The store, noting each time window the log is read over.
struct WatchedStore {
    inner: Arc<SqliteEventStore>,
    windows: Mutex<Vec<(DateTime<Utc>, DateTime<Utc>)>>,
}

#[async_trait]
impl EventStore for WatchedStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected_version: u64,
        events: Vec<EventRecord>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.append(stream, expected_version, events).await
    }
    async fn read_stream(&self, stream: &StreamId) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.read_stream(stream).await
    }
    fn read_log(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> LogStream<'_> {
        self.windows.lock().unwrap().push((from, to));
        self.inner.read_log(from, to)
    }
    fn scan_raw(&self) -> stint_app::ports::RawScanStream<'_> {
        self.inner.scan_raw()
    }
}

/// People of the example catalog: db-read is requested by sre and backend, approved by
/// db-owners; `security` is the admin group and `audit` the auditor group.
const ALICE: (&str, &str) = ("alice@example.com", "sre");
const DAN: (&str, &str) = ("dan@example.com", "backend");
const BOB: (&str, &str) = ("bob@example.com", "db-owners");
const ADMIN: (&str, &str) = ("sam@example.com", "security");
const AUDITOR: (&str, &str) = ("ada@example.com", "audit");
/// Requests db-read too, but approves nothing: a stranger to others' requests.
const CAROL: (&str, &str) = ("carol@example.com", "sre");
const MALLORY: (&str, &str) = ("mallory@example.com", "sales");

struct Harness {
    app: axum::Router,
    store: Arc<WatchedStore>,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Arc::new(SqliteEventStore::open(&dir.path().join("events.db")).unwrap());
        let store = Arc::new(WatchedStore {
            inner: sqlite,
            windows: Mutex::new(vec![]),
        });
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 29, 9, 0, 0).unwrap(),
        ));
        let stint = Stint {
            store: store.clone(),
            catalog: Arc::new(
                Catalog::from_toml(include_str!("../../infra/catalog.example.toml")).unwrap(),
            ),
            clock: clock.clone(),
            access: Arc::new(RecordingProvider::new(store.clone(), clock.clone())),
            timers: Arc::new(LocalTimers::default()),
            retry: RetryPolicy::IMMEDIATE,
            accounts: None,
            identity_center: None,
        };
        Harness {
            app: router(
                Api::new(stint, Arc::new(HeaderUser)).with_pipeline_auth(Arc::new(HeaderJob)),
            ),
            store,
            clock,
            _dir: dir,
        }
    }

    async fn send(&self, req: Request<Body>) -> (u16, Value) {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| json!({ "raw": String::from_utf8_lossy(&bytes) }));
        (status, body)
    }

    async fn call(
        &self,
        who: (&str, &str),
        method: &str,
        uri: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("x-user", who.0)
            .header("x-groups", who.1)
            .header("content-type", "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        self.send(req).await
    }

    async fn get(&self, who: (&str, &str), uri: &str) -> (u16, Value) {
        self.call(who, "GET", uri, None).await
    }

    /// A db-read request by `who`; its id.
    async fn create(&self, who: (&str, &str)) -> String {
        let (status, v) = self
            .call(
                who,
                "POST",
                "/requests",
                Some(
                    json!({ "role": "db-read", "scope": "orders", "principal": PRINCIPAL,
                             "duration": "1h", "justification": "visibility" }),
                ),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// Every page of `GET /requests?<query>` with `limit`; the ids in order, and how many pages.
    async fn all_pages(
        &self,
        who: (&str, &str),
        query: &str,
        limit: usize,
    ) -> (Vec<String>, usize) {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut uri = format!("/requests?limit={limit}&{query}");
            if let Some(c) = &cursor {
                uri.push_str(&format!("&cursor={c}"));
            }
            let (status, v) = self.get(who, &uri).await;
            assert_eq!(status, 200, "{uri}: {v}");
            pages += 1;
            let page = v["requests"].as_array().unwrap();
            assert!(page.len() <= limit, "{uri}: {} on a page", page.len());
            ids.extend(page.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
            match v["next_cursor"].as_str() {
                Some(c) => {
                    assert!(!page.is_empty(), "a cursor after an empty page");
                    cursor = Some(c.to_owned());
                }
                None => return (ids, pages),
            }
            assert!(pages < 100, "paging never ends");
        }
    }

    async fn event_count(&self) -> usize {
        use futures::TryStreamExt;
        let now = self.clock.now();
        let all: Vec<_> = self
            .store
            .inner
            .read_log(now - TimeDelta::days(400), now + TimeDelta::days(1))
            .try_collect()
            .await
            .unwrap();
        all.len()
    }
}

fn listed(v: &Value, id: &str) -> bool {
    v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == id)
}

#[tokio::test]
async fn a_request_is_for_its_requester_approvers_admins_and_auditors_only() {
    let h = Harness::new();
    let id = h.create(ALICE).await;
    let path = format!("/requests/{id}");
    for who in [ALICE, BOB, ADMIN, AUDITOR] {
        let (status, v) = h.get(who, &path).await;
        assert_eq!(
            (status, v["id"].as_str()),
            (200, Some(id.as_str())),
            "{who:?}: {v}"
        );
        assert!(v["timeline"].is_array(), "{who:?}: {v}");
        let (status, list) = h.get(who, "/requests").await;
        assert_eq!(status, 200);
        assert!(listed(&list, &id), "{who:?} lists it: {list}");
    }
    // Strangers: the answer for an unknown id, word for word, and nothing in any list.
    let unknown = h
        .get(
            CAROL,
            &format!("/requests/{}", stint_domain::RequestId::new()),
        )
        .await;
    assert_eq!(unknown.0, 404);
    let before = h.event_count().await;
    for who in [
        CAROL,
        MALLORY,
        ("alice@example.org", "sre"),
        ("", "security"),
    ] {
        let (status, v) = h.get(who, &path).await;
        if who.0.is_empty() {
            assert_eq!(status, 401, "no user is no identity: {v}");
            continue;
        }
        assert_eq!(status, 404, "{who:?}: {v}");
        assert_eq!(
            (&v["error"], &v["field"]),
            (&unknown.1["error"], &unknown.1["field"]),
            "{who:?}"
        );
        assert_eq!(
            v["message"].as_str().map(|m| m.replace(&id, "ID")),
            unknown.1["message"].as_str().map(|m| m.replace(&id, "ID")),
            "{who:?}"
        );
        for q in [
            "",
            "?days=90",
            "?mine=true",
            "?awaiting=true",
            "?status=pending",
            "?role=db-read",
        ] {
            let (status, list) = h.get(who, &format!("/requests{q}")).await;
            assert_eq!(status, 200, "{list}");
            assert!(!listed(&list, &id), "{who:?} {q} lists it: {list}");
        }
    }
    // Refused reads append nothing (reads never do).
    assert_eq!(h.event_count().await, before);
    // Carol sees her own, and still not alice's.
    let hers = h.create(CAROL).await;
    let (_, list) = h.get(CAROL, "/requests").await;
    assert!(listed(&list, &hers) && !listed(&list, &id), "{list}");
}

#[tokio::test]
async fn a_job_reads_only_its_own_request() {
    let h = Harness::new();
    let person = h.create(ALICE).await;
    let job = |repo: &'static str, method: &'static str, uri: String, body: Option<Value>| {
        Request::builder()
            .method(method)
            .uri(uri)
            .header("x-repo", repo)
            .header("content-type", "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap()
    };
    let (status, created) = h
        .send(job(
            "acme/orders",
            "POST",
            "/pipeline/requests".into(),
            Some(json!({ "role": "deploy", "scope": "orders-api",
                         "principal": "arn:aws:iam::123456789012:role/stint/ci-deploy",
                         "justification": "deploy", "ticket": "PR-1" })),
        ))
        .await;
    assert_eq!(status, 201, "{created}");
    let own = created["id"].as_str().unwrap();
    let (status, _) = h
        .send(job(
            "acme/orders",
            "GET",
            format!("/pipeline/requests/{own}"),
            None,
        ))
        .await;
    assert_eq!(status, 200);
    for (repo, id) in [("acme/billing", own), ("acme/orders", person.as_str())] {
        let (status, v) = h
            .send(job(repo, "GET", format!("/pipeline/requests/{id}"), None))
            .await;
        assert_eq!(
            (status, v["error"].as_str()),
            (404, Some("not_found")),
            "{repo}: {v}"
        );
    }
    // The person's route: a job's request is for the role's approvers, admins and auditors.
    let (status, _) = h.get(ADMIN, &format!("/requests/{own}")).await;
    assert_eq!(status, 200);
    let (status, _) = h.get(ALICE, &format!("/requests/{own}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn pages_hold_each_visible_request_exactly_once() {
    let h = Harness::new();
    let mut mine: Vec<String> = Vec::new();
    let mut theirs: Vec<String> = Vec::new();
    for i in 0..7 {
        mine.push(h.create(ALICE).await);
        theirs.push(h.create(if i % 2 == 0 { DAN } else { CAROL }).await);
        h.clock.advance(TimeDelta::minutes(7));
    }
    let everyone: BTreeSet<String> = mine.iter().chain(&theirs).cloned().collect();
    for (who, expected) in [
        (ALICE, mine.iter().cloned().collect::<BTreeSet<_>>()),
        (BOB, everyone.clone()),
        (ADMIN, everyone.clone()),
        (AUDITOR, everyone.clone()),
        (MALLORY, BTreeSet::new()),
    ] {
        for limit in [1, 2, 3, 50] {
            let (ids, pages) = h.all_pages(who, "", limit).await;
            let unique: BTreeSet<String> = ids.iter().cloned().collect();
            assert_eq!(
                unique.len(),
                ids.len(),
                "{who:?} limit {limit}: a request twice: {ids:?}"
            );
            assert_eq!(unique, expected, "{who:?} limit {limit}");
            assert_eq!(
                pages,
                expected.len().div_ceil(limit).max(1),
                "{who:?} limit {limit}"
            );
            // Newest first, across pages too.
            let mut sorted = ids.clone();
            sorted.sort_by(|a, b| b.cmp(a));
            assert_eq!(ids, sorted, "{who:?} limit {limit}");
        }
    }
    // Filters apply within pages: bob's pending requests, two at a time.
    let (ids, _) = h.all_pages(BOB, "status=pending&awaiting=true", 2).await;
    assert_eq!(ids.len(), everyone.len());

    // A request made between pages lands on no later page, and nothing repeats.
    let (_, first) = h.get(BOB, "/requests?limit=4").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let late = h.create(DAN).await;
    let (_, second) = h
        .get(BOB, &format!("/requests?limit=200&cursor={cursor}"))
        .await;
    let seen: Vec<&str> = first["requests"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["requests"].as_array().unwrap())
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(seen.len(), everyone.len());
    assert!(!seen.contains(&late.as_str()));
    assert!(second["next_cursor"].is_null(), "{second}");
}

#[tokio::test]
async fn lists_read_only_the_days_they_cover() {
    let h = Harness::new();
    let old = h.create(ALICE).await;
    h.clock.advance(TimeDelta::days(3));
    let new = h.create(ALICE).await;
    let (_, recent) = h.get(ALICE, "/requests?days=2").await;
    assert!(listed(&recent, &new) && !listed(&recent, &old), "{recent}");
    let (_, both) = h.get(ALICE, "/requests?days=4").await;
    assert!(listed(&both, &new) && listed(&both, &old), "{both}");

    let windows = |h: &Harness| std::mem::take(&mut *h.store.windows.lock().unwrap());
    windows(&h);
    h.get(ALICE, "/requests?days=2").await;
    let read = windows(&h);
    assert_eq!(read.len(), 1);
    assert!(
        read[0].1 - read[0].0 <= TimeDelta::days(2) + TimeDelta::seconds(1),
        "{read:?}"
    );

    // A forged cursor asking for every day there is reads at most 90 of them, up to now.
    let now = h.clock.now();
    let forged = hex::encode(format!(
        "v1|0|{}|{}",
        (now + TimeDelta::days(3650)).timestamp_millis(),
        "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
    ));
    let (status, v) = h.get(AUDITOR, &format!("/requests?cursor={forged}")).await;
    assert_eq!(status, 200, "{v}");
    let read = windows(&h);
    assert_eq!(read.len(), 1);
    assert!(read[0].1 <= now + TimeDelta::seconds(1), "{read:?}");
    assert!(read[0].1 - read[0].0 <= TimeDelta::days(90), "{read:?}");
}

#[tokio::test]
async fn bad_limits_and_cursors_are_400s_naming_the_parameter() {
    let h = Harness::new();
    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("cursor=garbage", "cursor"),
        ("cursor=00", "cursor"),
    ] {
        let (status, v) = h.get(ALICE, &format!("/requests?{q}")).await;
        assert_eq!(
            (status, v["error"].as_str(), v["field"].as_str()),
            (400, Some("invalid_input"), Some(field)),
            "{q}: {v}"
        );
    }
    let (status, v) = h.get(ALICE, "/requests?limit=200").await;
    assert_eq!(status, 200, "{v}");
}
