//! Alerts that open or close incident access: CloudWatch alarm state changes, PagerDuty v3
//! webhooks and a small generic format, read into one `Alert`; and which existing request an
//! alert belongs to, so a redelivered or flapping alert never opens a second one. Pure.

use super::catalog::Catalog;
use super::duration::AccessDuration;
use super::event::{RevokeReason, Source};
use super::ids::RequestId;
use super::log::StreamId;
use super::request::{RequestState, Status};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Triggered,
    Resolved,
}

/// An alert for a service in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub service: String,
    /// The alarm ARN (CloudWatch), or the alerting service's id (PagerDuty, generic).
    pub alarm: String,
    /// The incident: a PagerDuty incident id, a generic incident key, or for CloudWatch the
    /// alarm ARN and the instant it entered ALARM.
    pub incident: String,
    pub state: AlertState,
    pub at: DateTime<Utc>,
    pub summary: String,
    pub link: Option<String>,
    /// See `Source::Alert::authenticated`: a full-ARN alarm match, or a signed webhook.
    pub authenticated: bool,
}

/// Why an alert payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    #[error("{field}: {message}")]
    Malformed { field: String, message: String },
}

fn malformed(field: &str, message: impl Into<String>) -> AlertError {
    AlertError::Malformed {
        field: field.into(),
        message: message.into(),
    }
}

/// What a payload means: an alert, or something Stint deliberately does nothing with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Alert(Alert),
    Ignored(String),
}

fn is_cloudwatch(alarm: &str) -> bool {
    alarm.starts_with("arn:aws:cloudwatch:")
}

impl Alert {
    /// The request id an alert opens: the alert time, and bits of the incident's digest, so a
    /// redelivery computes the same id and finds the request it made.
    pub fn request_id(&self) -> RequestId {
        let digest = Sha256::digest(format!("stint-alert\0{}", self.incident).as_bytes());
        let mut bits = [0u8; 16];
        bits.copy_from_slice(&digest[..16]);
        let random = u128::from_be_bytes(bits) >> 48;
        let ms = u64::try_from(self.at.timestamp_millis()).unwrap_or(0);
        RequestId::from_ulid(ulid::Ulid::from_parts(ms, random))
    }

    /// The stream that lists the requests this alert's incidents opened: one per CloudWatch
    /// alarm (its episodes are its incidents), one per incident otherwise. Appending to it with
    /// optimistic concurrency is what lets only one delivery open a request.
    pub fn stream(&self) -> StreamId {
        let key = if is_cloudwatch(&self.alarm) {
            &self.alarm
        } else {
            &self.incident
        };
        let digest = Sha256::digest(key.as_bytes());
        let mut head = [0u8; 16];
        head.copy_from_slice(&digest[..16]);
        StreamId::for_alert(&head)
    }

    /// Whether a request opened by an alert answers for this alert: the same incident, or for
    /// a CloudWatch alarm the same alarm (each ALARM episode has its own incident string).
    pub fn concerns(&self, source: &Source) -> bool {
        match source {
            Source::Alert {
                alarm, incident, ..
            } => *incident == self.incident || (is_cloudwatch(&self.alarm) && *alarm == self.alarm),
            _ => false,
        }
    }
}

/// Which of `candidates` (requests opened by alerts) an incoming trigger joins instead of
/// opening another: one still open, or one its incident closed within `flap_window`.
pub fn joins<'a>(
    alert: &Alert,
    candidates: &'a [(RequestId, RequestState)],
    flap_window: AccessDuration,
    now: DateTime<Utc>,
) -> Option<&'a RequestId> {
    candidates
        .iter()
        .filter(|(_, st)| {
            st.request
                .as_ref()
                .is_some_and(|r| alert.concerns(&r.source))
        })
        .find(|(_, st)| {
            let same_incident = st
                .request
                .as_ref()
                .is_some_and(|r| r.source_incident() == Some(alert.incident.as_str()));
            same_incident
                || match st.status {
                    Status::New | Status::Pending | Status::Approved | Status::Active => true,
                    Status::Revoked => st.revocation.as_ref().is_some_and(|r| {
                        r.reason == RevokeReason::IncidentResolved
                            && now < r.at + flap_window.to_chrono()
                    }),
                    _ => false,
                }
        })
        .map(|(id, _)| id)
}

impl super::event::AccessRequested {
    pub fn source_incident(&self) -> Option<&str> {
        match &self.source {
            Source::Alert { incident, .. } => Some(incident),
            _ => None,
        }
    }
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The timestamp at a JSON pointer, e.g. `/event/occurred_at`.
pub fn timestamp_at(v: &Value, pointer: &str) -> Result<DateTime<Utc>, AlertError> {
    let field = pointer.trim_start_matches('/').replace('/', ".");
    let raw = text(v, pointer).ok_or_else(|| malformed(&field, "is required"))?;
    parse_time(&raw).ok_or_else(|| malformed(&field, format!("{raw:?} is not a timestamp")))
}

/// RFC 3339, or CloudWatch's `2026-11-29T10:00:00.000+0000`.
fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A CloudWatch "Alarm State Change" event as EventBridge delivers it.
pub fn from_cloudwatch(event: &Value, catalog: &Catalog) -> Result<Parsed, AlertError> {
    let name = text(event, "/detail/alarmName")
        .ok_or_else(|| malformed("detail.alarmName", "is required"))?;
    let arn = text(event, "/resources/0")
        .filter(|a| is_cloudwatch(a))
        .ok_or_else(|| malformed("resources", "must name the alarm ARN"))?;
    let state = match text(event, "/detail/state/value").as_deref() {
        Some("ALARM") => AlertState::Triggered,
        Some("OK") => AlertState::Resolved,
        Some(other) => return Ok(Parsed::Ignored(format!("alarm state {other}"))),
        None => return Err(malformed("detail.state.value", "is required")),
    };
    let at =
        timestamp_at(event, "/detail/state/timestamp").or_else(|_| timestamp_at(event, "/time"))?;
    let Some((service, entry)) = catalog.service_for_alarm(&name, &arn) else {
        return Ok(Parsed::Ignored(format!(
            "alarm {name} belongs to no service in the catalog"
        )));
    };
    let authenticated = catalog.alarm_named_by_arn(entry, &arn);
    let reason = text(event, "/detail/state/reason").unwrap_or_default();
    Ok(Parsed::Alert(Alert {
        service: service.to_owned(),
        incident: format!("{arn}@{}", super::log::time_key(&at)),
        alarm: arn,
        state,
        at,
        summary: format!("CloudWatch alarm {name} is in ALARM. {reason}"),
        link: None,
        authenticated,
    }))
}

/// A PagerDuty v3 webhook body (`incident.triggered`, `incident.resolved`).
pub fn from_pagerduty(body: &Value, catalog: &Catalog) -> Result<Parsed, AlertError> {
    let kind = text(body, "/event/event_type")
        .ok_or_else(|| malformed("event.event_type", "is required"))?;
    let state = match kind.as_str() {
        "incident.triggered" => AlertState::Triggered,
        "incident.resolved" => AlertState::Resolved,
        other => return Ok(Parsed::Ignored(format!("PagerDuty event {other}"))),
    };
    let at = timestamp_at(body, "/event/occurred_at")?;
    let incident =
        text(body, "/event/data/id").ok_or_else(|| malformed("event.data.id", "is required"))?;
    let service_id = text(body, "/event/data/service/id")
        .ok_or_else(|| malformed("event.data.service.id", "is required"))?;
    let service_name = text(body, "/event/data/service/summary").unwrap_or_default();
    let Some((service, _)) = catalog.service_for_pagerduty(&service_id, &service_name) else {
        return Ok(Parsed::Ignored(format!(
            "PagerDuty service {service_id} belongs to no service in the catalog"
        )));
    };
    let title = text(body, "/event/data/title").unwrap_or_else(|| "untitled".into());
    Ok(Parsed::Alert(Alert {
        service: service.to_owned(),
        alarm: format!("pagerduty:{service_id}"),
        incident: format!("pagerduty:{incident}"),
        state,
        at,
        summary: format!("PagerDuty incident {incident}: {title}"),
        link: text(body, "/event/data/html_url"),
        // Only read after the edge checked the webhook's signature.
        authenticated: true,
    }))
}

/// The generic format, for alerting tools other than CloudWatch and PagerDuty.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Generic {
    service: String,
    incident: String,
    status: String,
    occurred_at: String,
    summary: String,
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

pub fn from_generic(body: &Value, catalog: &Catalog) -> Result<Parsed, AlertError> {
    let g: Generic =
        serde_json::from_value(body.clone()).map_err(|e| malformed("body", e.to_string()))?;
    let state = match g.status.as_str() {
        "triggered" => AlertState::Triggered,
        "resolved" => AlertState::Resolved,
        other => {
            return Err(malformed(
                "status",
                format!("{other:?} is not triggered or resolved"),
            ))
        }
    };
    let at = parse_time(&g.occurred_at)
        .ok_or_else(|| malformed("occurred_at", "is not an RFC 3339 timestamp"))?;
    if g.incident.trim().is_empty() || g.incident.len() > 200 {
        return Err(malformed("incident", "must be 1 to 200 characters"));
    }
    if !catalog.services.contains_key(&g.service) {
        return Ok(Parsed::Ignored(format!(
            "service {} is not in the catalog",
            g.service
        )));
    }
    let source = g.source.unwrap_or_else(|| "generic".into());
    Ok(Parsed::Alert(Alert {
        alarm: format!("{source}:{}", g.service),
        incident: format!("{source}:{}", g.incident.trim()),
        service: g.service,
        state,
        at,
        summary: g.summary,
        link: g.link,
        // Only read after the edge checked the webhook's signature.
        authenticated: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests_support::EXAMPLE;

    fn catalog() -> Catalog {
        Catalog::from_toml(EXAMPLE).unwrap()
    }

    fn alarm(state: &str, ts: &str) -> Value {
        serde_json::json!({
            "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch",
            "time": ts,
            "resources": ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:orders-5xx"],
            "detail": {"alarmName": "orders-5xx", "state": {"value": state, "reason": "Threshold Crossed", "timestamp": "2026-11-29T10:00:00.000+0000"}}
        })
    }

    #[test]
    fn an_alarm_maps_to_its_service_and_a_stable_request_id() {
        let Parsed::Alert(a) =
            from_cloudwatch(&alarm("ALARM", "2026-11-29T10:00:01Z"), &catalog()).unwrap()
        else {
            panic!("ignored")
        };
        assert_eq!(a.service, "orders");
        assert_eq!(a.state, AlertState::Triggered);
        let Parsed::Alert(again) =
            from_cloudwatch(&alarm("ALARM", "2026-11-29T10:00:09Z"), &catalog()).unwrap()
        else {
            panic!("ignored")
        };
        assert_eq!(a.request_id(), again.request_id());
        assert_eq!(
            a.request_id().to_string()[..10],
            RequestId::from_ulid(ulid::Ulid::from_parts(
                u64::try_from(a.at.timestamp_millis()).unwrap(),
                0
            ))
            .to_string()[..10]
        );
    }

    #[test]
    fn only_an_alarm_named_by_its_full_arn_is_authenticated() {
        let Parsed::Alert(a) =
            from_cloudwatch(&alarm("ALARM", "2026-11-29T10:00:01Z"), &catalog()).unwrap()
        else {
            panic!("ignored")
        };
        assert!(a.authenticated);
        // The same alarm name in another account matches a name-only pattern: it may open a
        // request, never approve one.
        let by_name = Catalog::from_toml(&EXAMPLE.replace(
            "alarms = [\"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:orders-*\"]",
            "alarms = [\"orders-*\"]",
        ))
        .unwrap();
        let mut ev = alarm("ALARM", "2026-11-29T10:00:01Z");
        ev["resources"] =
            serde_json::json!(["arn:aws:cloudwatch:eu-west-1:999999999999:alarm:orders-5xx"]);
        let Parsed::Alert(a) = from_cloudwatch(&ev, &by_name).unwrap() else {
            panic!("ignored")
        };
        assert_eq!(a.service, "orders");
        assert!(!a.authenticated);
        // And with the full-ARN pattern, the other account's alarm is not the service's at all.
        assert!(matches!(
            from_cloudwatch(&ev, &catalog()).unwrap(),
            Parsed::Ignored(_)
        ));
    }

    #[test]
    fn other_states_and_unknown_alarms_are_ignored_not_errors() {
        let c = catalog();
        assert!(matches!(
            from_cloudwatch(&alarm("INSUFFICIENT_DATA", "2026-11-29T10:00:00Z"), &c),
            Ok(Parsed::Ignored(_))
        ));
        let mut other = alarm("ALARM", "2026-11-29T10:00:00Z");
        other["detail"]["alarmName"] = "billing-latency".into();
        other["resources"][0] =
            "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:billing-latency".into();
        assert!(matches!(
            from_cloudwatch(&other, &c),
            Ok(Parsed::Ignored(_))
        ));
        let mut broken = alarm("ALARM", "2026-11-29T10:00:00Z");
        broken["resources"] = serde_json::json!([]);
        assert!(from_cloudwatch(&broken, &c).is_err());
    }

    #[test]
    fn generic_alerts_are_strict() {
        let c = catalog();
        let ok = serde_json::json!({"service": "orders", "incident": "INC-7", "status": "triggered", "occurred_at": "2026-11-29T10:00:00Z", "summary": "5xx"});
        assert!(matches!(from_generic(&ok, &c), Ok(Parsed::Alert(_))));
        let mut bad = ok.clone();
        bad["status"] = "open".into();
        assert!(from_generic(&bad, &c).is_err());
        let mut extra = ok;
        extra["user"] = "mallory".into();
        assert!(from_generic(&extra, &c).is_err());
    }

    // --- given/when/then on the request state machine, with the example catalog ---------

    use crate::{
        decide, Command, Identity, Justification, PrincipalArn, Rejection, RequestState, RoleName,
        Scope, Submit, UserId,
    };

    fn alert_submit(role: &str, service: &str, incident: &str) -> Command {
        Command::Submit(Box::new(Submit {
            accounts: vec![],
            id: RequestId::new(),
            // The on-call engineer, with no groups: the service entry is what allows it.
            requester: Identity::new(UserId::parse("bob@example.com").unwrap(), []),
            role: RoleName::parse(role).unwrap(),
            scope: Some(Scope::parse("orders").unwrap()),
            principal: PrincipalArn::parse("arn:aws:iam::123456789012:role/stint/oncall").unwrap(),
            duration: None,
            justification: Justification::parse("orders-5xx in ALARM").unwrap(),
            ticket: None,
            starts_at: None,
            source: Source::Alert {
                service: service.into(),
                alarm: "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:orders-5xx".into(),
                incident: incident.into(),
                authenticated: true,
            },
            break_glass: false,
        }))
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-29T10:00:30Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn given(commands: &[Command]) -> RequestState {
        let c = catalog();
        commands.iter().fold(RequestState::default(), |st, cmd| {
            let events = decide(&st, cmd, &c, now()).unwrap();
            RequestState::fold_from(st, &events)
        })
    }

    #[test]
    fn an_alert_request_is_allowed_by_its_service_and_approved_by_the_rule() {
        let st = given(&[alert_submit("db-read", "orders", "i-1")]);
        assert_eq!(st.status, Status::Approved);
        assert_eq!(st.approved_by_rule.as_deref(), Some("oncall-db-read"));
        // Another role than the service names is not allowed to an engineer without groups.
        assert_eq!(
            decide(
                &RequestState::default(),
                &alert_submit("db-write", "orders", "i-1"),
                &catalog(),
                now()
            ),
            Err(Rejection::NotAllowedToRequest(
                RoleName::parse("db-write").unwrap()
            ))
        );
        assert!(matches!(
            decide(
                &RequestState::default(),
                &alert_submit("db-read", "payments", "i-1"),
                &catalog(),
                now()
            ),
            Err(Rejection::NotAllowedToRequest(_))
        ));
    }

    #[test]
    fn an_incident_resolves_once_and_only_on_alert_requests() {
        let resolve = Command::ResolveIncident {
            incident: "i-1".into(),
        };
        let st = given(&[alert_submit("db-read", "orders", "i-1"), resolve.clone()]);
        assert!(st.incident_resolved_at.is_some());
        assert_eq!(
            st.status,
            Status::Approved,
            "recording it changes no status"
        );
        assert_eq!(decide(&st, &resolve, &catalog(), now()), Ok(vec![]));
    }

    #[test]
    fn joins_open_requests_and_recently_resolved_ones_of_the_same_alarm() {
        let Parsed::Alert(a) =
            from_cloudwatch(&alarm("ALARM", "2026-11-29T10:00:00Z"), &catalog()).unwrap()
        else {
            panic!()
        };
        let open = given(&[alert_submit("db-read", "orders", "another episode")]);
        let id = RequestId::new();
        let window = AccessDuration::parse("15m").unwrap();
        assert_eq!(joins(&a, &[(id, open.clone())], window, now()), Some(&id));
        let mut revoked = open;
        revoked.status = Status::Revoked;
        revoked.revocation = Some(crate::request::Revocation {
            at: now(),
            reason: RevokeReason::IncidentResolved,
            lag_seconds: 0,
        });
        assert_eq!(
            joins(&a, &[(id, revoked.clone())], window, now()),
            Some(&id)
        );
        let later = now() + chrono::TimeDelta::minutes(16);
        assert_eq!(joins(&a, &[(id, revoked.clone())], window, later), None);
        revoked.revocation.as_mut().unwrap().reason = RevokeReason::Expired;
        assert_eq!(joins(&a, &[(id, revoked)], window, now()), None);
    }
}
