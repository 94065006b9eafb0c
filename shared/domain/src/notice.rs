//! Who hears about what: the notices an event calls for, the buttons each carries, and their
//! Slack messages (the webhook's, the bot's with buttons, and the one a decision leaves in
//! place). Pure. (Their email is rendered in stint-app's `render::notice`.)

use super::catalog::Catalog;
use super::event::{AccessRequested, Event, EventBody, Source};
use super::ids::{RequestId, RoleName};
use super::reminder::ExpiryReminder;
use super::request::{RequestState, Status};
use super::review::{PeriodReview, ReminderStep};
use super::slack::{extend_basis, extend_step, ActionKind, ButtonValue};
use super::UserId;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Everyone in the role's approver groups.
    Approvers,
    Requester,
}

impl Audience {
    pub fn key(self) -> &'static str {
        match self {
            Audience::Approvers => "approvers",
            Audience::Requester => "requester",
        }
    }
}

/// One message to one audience about one event (or, for a review reminder, one period).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The request it is about; none for a review reminder.
    pub request_id: Option<RequestId>,
    pub audience: Audience,
    pub title: String,
    /// Label and value pairs, in order.
    pub fields: Vec<(String, String)>,
    pub link: Option<String>,
    /// Break-glass: sent with more emphasis.
    pub urgent: bool,
    /// Buttons for a message posted with the bot token (the webhook's messages carry none).
    pub actions: Vec<NoticeAction>,
}

/// A button on a notice: what it asks for and what it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeAction {
    pub kind: ActionKind,
    pub value: ButtonValue,
    pub label: String,
}

/// The buttons an approver's or a requester's message carries, given the request now: Approve
/// and Deny while it is pending; I'm done while access is active, with Extend when the role lets
/// its requesters extend.
fn actions_for(
    id: RequestId,
    audience: Audience,
    state: &RequestState,
    catalog: &Catalog,
) -> Vec<NoticeAction> {
    let plain = |kind, label: &str| NoticeAction {
        kind,
        value: ButtonValue {
            request: id,
            expires_at: None,
        },
        label: label.to_owned(),
    };
    match (audience, state.status) {
        (Audience::Approvers, Status::Pending) => vec![
            plain(ActionKind::Approve, "Approve"),
            plain(ActionKind::Deny, "Deny"),
        ],
        (Audience::Requester, Status::Active) => {
            let mut out = Vec::new();
            let role = state
                .request
                .as_ref()
                .and_then(|r| catalog.role(&r.role))
                .filter(|r| r.self_extend);
            if let (Some(role), Some(basis)) = (role, extend_basis(state)) {
                out.push(NoticeAction {
                    kind: ActionKind::Extend,
                    value: ButtonValue {
                        request: id,
                        expires_at: Some(basis),
                    },
                    label: format!("Extend +{}", extend_step(role)),
                });
            }
            out.push(plain(ActionKind::Done, "I'm done"));
            out
        }
        _ => vec![],
    }
}

fn at(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The notices `event` calls for, given the request as it stands now. A request still pending
/// asks its approvers; decisions, grants and revokes go to the requester; break-glass goes to
/// every approver.
pub fn notices_for(
    id: RequestId,
    event: &Event,
    state: &RequestState,
    catalog: &Catalog,
) -> Vec<Notice> {
    let Some(req) = state.request.as_ref() else {
        return vec![];
    };
    let fields = request_fields(req);
    let link = catalog
        .notify
        .link
        .as_ref()
        .map(|l| l.replace("{id}", &id.to_string()));
    let notice = |audience, title: String, extra: Vec<(&str, String)>, urgent| {
        let mut f = fields.clone();
        f.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
        Notice {
            request_id: Some(id),
            audience,
            title,
            fields: f,
            link: link.clone(),
            urgent,
            actions: match &event.body {
                // Only the message about the request being asked for, or access being given,
                // carries buttons; the rest are news.
                EventBody::AccessRequested(_)
                | EventBody::AccessGranted { .. }
                | EventBody::AccessExtended { .. } => actions_for(id, audience, state, catalog),
                _ => vec![],
            },
        }
    };
    let role = &req.role;
    match &event.body {
        EventBody::AccessRequested(_) if state.status == Status::Pending => vec![notice(
            Audience::Approvers,
            format!("{} asks for {role}: awaiting your approval", req.requester),
            vec![],
            false,
        )],
        EventBody::AccessApproved { rule, approvers } if rule.as_deref() != Some("break-glass") => {
            let by = match rule {
                Some(r) => format!("rule {r}"),
                None => approvers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            vec![notice(
                Audience::Requester,
                format!("Your request for {role} was approved"),
                vec![("Approved by", by)],
                false,
            )]
        }
        EventBody::AccessDenied { approver, reason } => vec![notice(
            Audience::Requester,
            format!("Your request for {role} was denied"),
            vec![
                ("Denied by", approver.to_string()),
                (
                    "Reason",
                    reason.clone().unwrap_or_else(|| "none given".into()),
                ),
            ],
            false,
        )],
        EventBody::RequestLapsed { .. } => vec![notice(
            Audience::Requester,
            format!("Your request for {role} lapsed: nobody decided in time"),
            vec![],
            false,
        )],
        EventBody::AccessGranted { expires_at, .. } => vec![notice(
            Audience::Requester,
            format!("Access to {role} is granted"),
            vec![("Expires", at(expires_at))],
            false,
        )],
        EventBody::GrantFailed { error, .. } => vec![notice(
            Audience::Requester,
            format!("Access to {role} could not be granted"),
            vec![("Error", error.clone())],
            false,
        )],
        EventBody::AccessExtended { expires_at, .. } => vec![notice(
            Audience::Requester,
            format!("Access to {role} is extended"),
            vec![("Expires", at(expires_at))],
            false,
        )],
        EventBody::AccessRevoked { reason, .. } => vec![notice(
            Audience::Requester,
            format!("Access to {role} is revoked"),
            vec![("Reason", reason.to_string())],
            false,
        )],
        EventBody::BreakGlassUsed { review_by } => vec![notice(
            Audience::Approvers,
            format!(
                "BREAK-GLASS: {} took {role} without approval",
                req.requester
            ),
            vec![("Review by", at(review_by))],
            true,
        )],
        _ => vec![],
    }
}

/// What every message about a request shows: who, what, where, for how long, and why.
pub fn request_fields(req: &AccessRequested) -> Vec<(String, String)> {
    let mut fields = vec![
        ("Requester".to_owned(), req.requester.to_string()),
        ("Role".to_owned(), req.role.to_string()),
    ];
    if let Some(s) = &req.scope {
        fields.push(("Scope".into(), s.to_string()));
    }
    if req.is_multi() {
        // Approvers see every account they approve, not only the first.
        let pattern = req.principal.as_str().replacen(
            &format!(":{}:", req.principal.account()),
            ":{account}:",
            1,
        );
        fields.push(("Principal".into(), pattern));
        let accounts: Vec<&str> = req.accounts.iter().map(|a| a.as_str()).collect();
        fields.push((
            format!("Accounts ({})", accounts.len()),
            accounts.join(", "),
        ));
    } else {
        fields.push(("Principal".into(), req.principal.to_string()));
    }
    fields.push(("Duration".into(), req.duration.to_string()));
    fields.push((
        "Justification".into(),
        req.justification.as_str().to_owned(),
    ));
    if let Some(t) = &req.ticket {
        fields.push(("Ticket".into(), t.as_str().to_owned()));
    }
    match &req.source {
        Source::Person => {}
        Source::Alert {
            service, incident, ..
        } => {
            fields.push(("Service".into(), service.clone()));
            fields.push(("Incident".into(), incident.clone()));
        }
        Source::Pipeline {
            repository,
            git_ref,
            ..
        } => fields.push(("Pipeline".into(), format!("{repository} @ {git_ref}"))),
    }
    fields
}

/// The reminder to a role's approvers that `unreviewed` of its grants in a period still wait
/// for their review, at `step` of the period's deadline.
pub fn review_reminder(
    role: &RoleName,
    review: &PeriodReview,
    step: ReminderStep,
    unreviewed: u64,
) -> Notice {
    let (period, due) = (review.period, at(&review.deadline));
    let grants = review.coverage.get(role).map_or(0, |c| c.grants);
    let title = match step {
        ReminderStep::Opened => {
            format!(
                "Access review of {role} for {period}: {unreviewed} grant(s) to review by {due}"
            )
        }
        ReminderStep::DueSoon => {
            format!("Access review of {role} for {period} is due {due}: {unreviewed} grant(s) still to review")
        }
        ReminderStep::Overdue => {
            format!("Access review of {role} for {period} is OVERDUE since {due}: {unreviewed} grant(s) unreviewed")
        }
    };
    Notice {
        request_id: None,
        audience: Audience::Approvers,
        title,
        fields: vec![
            ("Role".into(), role.to_string()),
            ("Period".into(), period.to_string()),
            ("Unreviewed".into(), format!("{unreviewed} of {grants}")),
            ("Due".into(), due),
            (
                "Review with".into(),
                format!("stint review --period {period}"),
            ),
        ],
        link: None,
        // `urgent` is break-glass's emphasis; an overdue review says so in its title.
        urgent: false,
        actions: vec![],
    }
}

/// The reminder to a requester that their access ends soon: when, how long is left, and how to
/// extend it where the role lets them (the Extend button, the console's page, the CLI), with
/// I'm done to give it up early.
pub fn expiry_reminder(
    id: RequestId,
    state: &RequestState,
    reminder: &ExpiryReminder,
    catalog: &Catalog,
) -> Option<Notice> {
    let req = state.request.as_ref()?;
    let mut fields = request_fields(req);
    fields.push(("Expires".into(), at(&reminder.expires_at)));
    fields.push(("Time left".into(), span(reminder.left)));
    match reminder.extend_by {
        Some(step) => fields.push((
            "Extend with".into(),
            format!("stint extend {id} --for {step}"),
        )),
        None => fields.push((
            "Extension".into(),
            format!("ask an approver of {} to extend it", req.role),
        )),
    }
    let mut actions = actions_for(id, Audience::Requester, state, catalog);
    if reminder.extend_by.is_none() {
        actions.retain(|a| a.kind != ActionKind::Extend);
    }
    Some(Notice {
        request_id: Some(id),
        audience: Audience::Requester,
        title: format!(
            "Your access to {} expires in {}",
            req.role,
            span(reminder.left)
        ),
        fields,
        link: catalog
            .notify
            .link
            .as_ref()
            .map(|l| l.replace("{id}", &id.to_string())),
        urgent: false,
        actions,
    })
}

/// A time left in words: "1 day", "2 hours 5 minutes", "10 minutes".
fn span(d: chrono::TimeDelta) -> String {
    let secs = d.num_seconds().max(0);
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    let unit = |n: i64, one: &str| match n {
        0 => None,
        1 => Some(format!("1 {one}")),
        n => Some(format!("{n} {one}s")),
    };
    let parts: Vec<String> = [
        unit(days, "day"),
        unit(hours, "hour"),
        unit(minutes, "minute"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "less than a minute".into()
    } else {
        parts.join(" ")
    }
}

/// Slack's mrkdwn treats these three as markup.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Block Kit message: header, the fields, and a button to the request when there is a link.
/// This is what the incoming webhook posts: links only, nothing to click back.
pub fn slack_message(n: &Notice) -> Value {
    message(n, false)
}

/// The same message with its action buttons (Approve, Deny, Extend, I'm done) beside the link,
/// for posting with the bot token: clicks come back to `POST /slack/interactions`.
pub fn slack_message_with_buttons(n: &Notice) -> Value {
    message(n, true)
}

fn title_of(n: &Notice) -> String {
    if n.urgent {
        format!(":rotating_light: {}", n.title)
    } else {
        n.title.clone()
    }
}

fn header(title: &str) -> Value {
    json!({
        "type": "header",
        "text": { "type": "plain_text", "text": title.chars().take(150).collect::<String>() }
    })
}

fn field_blocks(fields: &[(String, String)]) -> Vec<Value> {
    let fields: Vec<Value> = fields
        .iter()
        .map(|(k, v)| {
            let v: String = v.chars().take(1_900).collect();
            json!({ "type": "mrkdwn", "text": format!("*{}*\n{}", slack_escape(k), slack_escape(&v)) })
        })
        .collect();
    // Slack allows at most 10 fields per section.
    fields
        .chunks(10)
        .map(|chunk| json!({ "type": "section", "fields": chunk }))
        .collect()
}

fn context_for(id: Option<RequestId>) -> Value {
    let context = match id {
        Some(id) => format!("Stint request `{id}`"),
        None => "Stint access review".to_owned(),
    };
    json!({
        "type": "context",
        "elements": [{ "type": "mrkdwn", "text": context }]
    })
}

fn button(a: &NoticeAction) -> Value {
    let mut button = json!({
        "type": "button",
        "action_id": a.kind.id(),
        "text": { "type": "plain_text", "text": a.label },
        "value": a.value.encode(),
    });
    match a.kind {
        ActionKind::Approve => button["style"] = json!("primary"),
        ActionKind::Deny => button["style"] = json!("danger"),
        ActionKind::Extend | ActionKind::Done => {}
    }
    button
}

fn message(n: &Notice, interactive: bool) -> Value {
    let title = title_of(n);
    let mut blocks = vec![header(&title)];
    blocks.extend(field_blocks(&n.fields));
    blocks.push(context_for(n.request_id));
    let mut elements = Vec::new();
    if interactive {
        elements.extend(n.actions.iter().map(button));
    }
    if let Some(link) = &n.link {
        // A link button: Slack opens the URL and still posts a click, which Stint ignores.
        elements.push(json!({
            "type": "button",
            "text": { "type": "plain_text", "text": "Open request" },
            "url": link,
            "style": if n.urgent { "danger" } else { "primary" }
        }));
    }
    if !elements.is_empty() {
        blocks.push(json!({ "type": "actions", "elements": elements }));
    }
    json!({ "text": title, "blocks": blocks })
}

/// What a decision made from Slack did, for updating the message it was made on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    /// "Approved", "Denied", "Extended", "Relinquished".
    pub verb: &'static str,
    pub by: UserId,
    pub at: DateTime<Utc>,
    pub status: Status,
    pub reason: Option<String>,
}

/// The buttons a message keeps after a decision: Approve and Deny while the request still
/// waits for more approvals; none otherwise.
pub fn still_open(id: RequestId, state: &RequestState, catalog: &Catalog) -> Vec<NoticeAction> {
    actions_for(id, Audience::Approvers, state, catalog)
}

/// The message a decision leaves behind, in place of the one with buttons: the request, who
/// decided, when, and the status now, with the console link as a plain link. Its only buttons
/// are `open` (see [`still_open`]).
pub fn decided_message(
    id: RequestId,
    req: &AccessRequested,
    decided: &Decided,
    link: Option<&str>,
    open: &[NoticeAction],
) -> Value {
    let title = format!(
        "{} asked for {}: {}",
        req.requester,
        req.role,
        decided.verb.to_lowercase()
    );
    let mut blocks = vec![header(&title)];
    blocks.extend(field_blocks(&request_fields(req)));
    let mut outcome = format!(
        "*{}* by {} at {}. Status: *{}*.",
        decided.verb,
        slack_escape(decided.by.as_str()),
        at(&decided.at),
        decided.status
    );
    if let Some(r) = &decided.reason {
        let r: String = r.chars().take(1_900).collect();
        outcome.push_str(&format!("\nReason: {}", slack_escape(&r)));
    }
    blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": outcome } }));
    let mut context = format!("Stint request `{id}`");
    if let Some(l) = link {
        // `|` and `>` would end a mrkdwn link early; the link template is the catalog's.
        if !l.contains(['|', '>', '<']) {
            context.push_str(&format!(" · <{}|Open request>", l.replace('&', "&amp;")));
        }
    }
    blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": context }] }));
    if !open.is_empty() {
        blocks.push(
            json!({ "type": "actions", "elements": open.iter().map(button).collect::<Vec<_>>() }),
        );
    }
    json!({ "text": title, "blocks": blocks })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests_support::EXAMPLE;
    use crate::{
        decide, Command, GroupName, Identity, Justification, PrincipalArn, RoleName, Scope, Submit,
        UserId,
    };
    use chrono::{TimeZone, Utc};

    fn submit(role: &str, break_glass: bool) -> (RequestId, Vec<Event>, Catalog) {
        let mut c = Catalog::from_toml(EXAMPLE).unwrap();
        c.notify.link = Some("https://stint.example.com/requests/{id}".into());
        let id = RequestId::new();
        let s = Submit {
            accounts: vec![],
            id,
            requester: Identity::new(
                UserId::parse("alice@example.com").unwrap(),
                [GroupName::parse("sre").unwrap()],
            ),
            role: RoleName::parse(role).unwrap(),
            scope: Some(Scope::parse("orders").unwrap()),
            principal: PrincipalArn::parse("arn:aws:iam::123456789012:role/stint/oncall").unwrap(),
            duration: None,
            justification: Justification::parse("orders <b>5xx</b> & more").unwrap(),
            ticket: None,
            starts_at: None,
            source: Source::Person,
            break_glass,
        };
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 10, 0, 0).unwrap();
        let ev = decide(
            &RequestState::default(),
            &Command::Submit(Box::new(s)),
            &c,
            now,
        )
        .unwrap();
        (id, ev, c)
    }

    #[test]
    fn a_pending_request_asks_its_approvers_once_and_escapes_slack_markup() {
        let (id, ev, c) = submit("db-read", false);
        let st = RequestState::fold(&ev);
        let n = notices_for(id, &ev[0], &st, &c);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].audience, Audience::Approvers);
        let msg = slack_message(&n[0]).to_string();
        assert!(msg.contains("&lt;b&gt;5xx&lt;/b&gt; &amp; more"), "{msg}");
        assert!(msg.contains(&format!("https://stint.example.com/requests/{id}")));
    }

    #[test]
    fn break_glass_tells_every_approver_and_not_the_requester_of_their_own_approval() {
        let (id, ev, c) = submit("db-write", true);
        let st = RequestState::fold(&ev);
        let all: Vec<Notice> = ev
            .iter()
            .flat_map(|e| notices_for(id, e, &st, &c))
            .collect();
        assert_eq!(all.len(), 1, "{all:?}");
        assert!(all[0].urgent);
        assert_eq!(all[0].audience, Audience::Approvers);
        assert!(all[0].title.starts_with("BREAK-GLASS"));
    }

    #[test]
    fn a_review_reminder_names_the_role_period_count_and_deadline() {
        use crate::review::{Period, PeriodReview, ReviewItem};
        let (id, ev, c) = submit("db-read", false);
        let mut st = RequestState::fold(&ev);
        let at = Utc.with_ymd_and_hms(2026, 11, 29, 10, 5, 0).unwrap();
        for cmd in [
            Command::Approve {
                approver: Identity::new(
                    UserId::parse("bob@example.com").unwrap(),
                    [GroupName::parse("db-owners").unwrap()],
                ),
                comment: None,
            },
            Command::RecordGrant {
                account: None,
                policy_name: "stint-x".into(),
                policy: json!({}),
            },
        ] {
            let evs = decide(&st, &cmd, &c, at).unwrap();
            st = evs.iter().fold(st, crate::apply);
        }
        let nov = Period::parse("2026-11").unwrap();
        let now = Utc.with_ymd_and_hms(2026, 12, 16, 8, 0, 0).unwrap();
        let mut review = PeriodReview::new(nov, c.settings.review_within, now);
        review.add(ReviewItem::from_state(id, &st).unwrap());
        let role = RoleName::parse("db-read").unwrap();
        let n = review_reminder(&role, &review, ReminderStep::Overdue, 1);
        assert_eq!(
            n.title,
            "Access review of db-read for 2026-11 is OVERDUE since 2026-12-15T00:00:00Z: 1 grant(s) unreviewed"
        );
        assert!(!n.urgent && n.request_id.is_none());
        assert_eq!(n.audience, Audience::Approvers);
        assert!(n.fields.contains(&("Unreviewed".into(), "1 of 1".into())));
        assert!(n
            .fields
            .contains(&("Review with".into(), "stint review --period 2026-11".into())));
        let msg = slack_message(&n).to_string();
        assert!(msg.contains("Stint access review"), "{msg}");
        let opened = review_reminder(&role, &review, ReminderStep::Opened, 1);
        assert!(!opened.urgent);
        assert!(opened.title.contains("to review by 2026-12-15T00:00:00Z"));
    }

    fn buttons(msg: &Value) -> Vec<(String, String)> {
        msg["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| b["elements"].as_array().unwrap().clone())
            .map(|e| {
                (
                    e["action_id"].as_str().unwrap_or("link").to_owned(),
                    e["value"]
                        .as_str()
                        .or(e["url"].as_str())
                        .unwrap()
                        .to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn approvers_get_approve_and_deny_beside_the_link_and_the_webhook_gets_the_link_only() {
        let (id, ev, c) = submit("db-read", false);
        let st = RequestState::fold(&ev);
        let n = &notices_for(id, &ev[0], &st, &c)[0];
        let link = format!("https://stint.example.com/requests/{id}");
        assert_eq!(
            buttons(&slack_message_with_buttons(n)),
            vec![
                ("stint_approve".into(), id.to_string()),
                ("stint_deny".into(), id.to_string()),
                ("link".into(), link.clone()),
            ]
        );
        assert_eq!(buttons(&slack_message(n)), vec![("link".into(), link)]);
        let with = slack_message_with_buttons(n).to_string();
        assert!(with.contains("&lt;b&gt;5xx&lt;/b&gt; &amp; more"), "{with}");
    }

    /// `role`'s request (self-extension as given, one approver) approved by bob and granted at
    /// `at`: its id, every event, the state and the catalog.
    fn granted(
        role: &str,
        self_extend: bool,
        at: DateTime<Utc>,
    ) -> (RequestId, Vec<Event>, RequestState, Catalog) {
        let (id, ev, mut c) = submit(role, false);
        let name = RoleName::parse(role).unwrap();
        c.roles.get_mut(&name).unwrap().self_extend = self_extend;
        c.roles.get_mut(&name).unwrap().approvers.required = 1;
        let mut st = RequestState::fold(&ev);
        let mut all = ev;
        for cmd in [
            Command::Approve {
                approver: Identity::new(
                    UserId::parse("bob@example.com").unwrap(),
                    c.roles[&name].approvers.groups.clone(),
                ),
                comment: None,
            },
            Command::RecordGrant {
                account: None,
                policy_name: "stint-x".into(),
                policy: json!({}),
            },
        ] {
            let evs = decide(&st, &cmd, &c, at).unwrap();
            st = evs.iter().fold(st, crate::apply);
            all.extend(evs);
        }
        (id, all, st, c)
    }

    #[test]
    fn the_requester_gets_extend_only_when_the_role_allows_it_and_done_only_while_active() {
        let at = Utc.with_ymd_and_hms(2026, 11, 29, 10, 5, 0).unwrap();
        for (role, self_extend) in [("db-read", true), ("db-write", false)] {
            let (id, all, st, c) = granted(role, self_extend, at);
            let granted = all.last().unwrap();
            let n = &notices_for(id, granted, &st, &c)[0];
            let got: Vec<String> = buttons(&slack_message_with_buttons(n))
                .into_iter()
                .map(|(a, _)| a)
                .collect();
            let want: Vec<&str> = if self_extend {
                vec!["stint_extend", "stint_done", "link"]
            } else {
                vec!["stint_done", "link"]
            };
            assert_eq!(got, want, "{role}");
            if self_extend {
                let expiry = st.grant.as_ref().unwrap().expires_at;
                assert_eq!(
                    n.actions[0].value.encode(),
                    format!("{id}|{}", expiry.timestamp())
                );
            }
            // Once revoked, a later notice about the same grant offers nothing to click.
            let revoked = decide(
                &st,
                &Command::Revoke {
                    reason: crate::RevokeReason::Manual,
                    by: Some(Identity::new(
                        UserId::parse("alice@example.com").unwrap(),
                        [],
                    )),
                },
                &c,
                at,
            )
            .unwrap();
            let st = revoked.iter().fold(st, crate::apply);
            assert!(notices_for(id, granted, &st, &c)[0].actions.is_empty());
        }
    }

    #[test]
    fn an_expiry_reminder_tells_the_requester_when_and_offers_the_extension_the_role_allows() {
        let at = Utc.with_ymd_and_hms(2026, 11, 29, 10, 5, 0).unwrap();
        for (role, self_extend) in [("db-read", true), ("db-write", false)] {
            let (id, _, st, c) = granted(role, self_extend, at);
            let name = RoleName::parse(role).unwrap();
            let expiry = st.grant.as_ref().unwrap().expires_at;
            let soon = expiry - chrono::TimeDelta::minutes(10);
            let r =
                crate::reminder::due(&st, crate::timer::TimerKind::RemindSoon, &c, soon).unwrap();
            let n = expiry_reminder(id, &st, &r, &c).unwrap();
            assert_eq!(n.audience, Audience::Requester);
            assert_eq!(
                n.title,
                format!("Your access to {role} expires in 10 minutes")
            );
            assert_eq!(
                n.link.as_deref(),
                Some(format!("https://stint.example.com/requests/{id}").as_str())
            );
            let got: Vec<String> = buttons(&slack_message_with_buttons(&n))
                .into_iter()
                .map(|(a, _)| a)
                .collect();
            if self_extend {
                assert_eq!(got, ["stint_extend", "stint_done", "link"]);
                let step = c.roles[&name].default_duration;
                assert!(n.fields.contains(&(
                    "Extend with".into(),
                    format!("stint extend {id} --for {step}")
                )));
            } else {
                assert_eq!(got, ["stint_done", "link"]);
                assert!(n.fields.iter().any(|(k, v)| k == "Extension"
                    && v == &format!("ask an approver of {role} to extend it")));
            }
        }
        assert_eq!(span(chrono::TimeDelta::days(1)), "1 day");
        assert_eq!(span(chrono::TimeDelta::minutes(125)), "2 hours 5 minutes");
        assert_eq!(span(chrono::TimeDelta::seconds(20)), "less than a minute");
    }

    #[test]
    fn a_decided_message_says_who_when_and_the_status_escaped_and_without_buttons() {
        let (id, ev, _) = submit("db-read", false);
        let st = RequestState::fold(&ev);
        let decided = Decided {
            verb: "Denied",
            by: UserId::parse("bob@example.com").unwrap(),
            at: Utc.with_ymd_and_hms(2026, 11, 29, 10, 7, 0).unwrap(),
            status: Status::Denied,
            reason: Some("<!channel> not now & not <here>".into()),
        };
        let link = "https://stint.example.com/requests/x?a=1&b=2";
        let msg = decided_message(id, st.request.as_ref().unwrap(), &decided, Some(link), &[]);
        let text = msg.to_string();
        assert!(buttons(&msg).is_empty(), "{text}");
        assert!(
            text.contains("*Denied* by bob@example.com at 2026-11-29T10:07:00Z. Status: *denied*."),
            "{text}"
        );
        assert!(
            text.contains("Reason: &lt;!channel&gt; not now &amp; not &lt;here&gt;"),
            "{text}"
        );
        assert!(!text.contains("<!channel>"), "{text}");
        assert!(
            text.contains("<https://stint.example.com/requests/x?a=1&amp;b=2|Open request>"),
            "{text}"
        );
        assert!(text.contains("&lt;b&gt;5xx&lt;/b&gt;"), "{text}");
    }
}
