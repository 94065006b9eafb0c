//! Expiry reminders: when a grant's requester is reminded that it ends (shortly before, and a
//! day before for grants longer than a day), and whether a reminder timer that fired is still
//! due for the grant as it stands. Pure.

use crate::catalog::Catalog;
use crate::duration::AccessDuration;
use crate::request::{RequestState, Status};
use crate::slack::extend_step;
use crate::timer::TimerKind;
use chrono::{DateTime, TimeDelta, Utc};

/// Grants longer than this are also reminded this long before they end.
pub fn day() -> TimeDelta {
    TimeDelta::days(1)
}

/// How long before the expiry a reminder of `kind` comes; none for a timer that is no reminder.
pub fn lead(kind: TimerKind, catalog: &Catalog) -> Option<TimeDelta> {
    match kind {
        TimerKind::RemindDay => Some(day()),
        TimerKind::RemindSoon => Some(catalog.settings.expiry_reminder.to_chrono()),
        TimerKind::Start | TimerKind::Expiry => None,
    }
}

/// The reminder timers a grant from `starts_at` to `expires_at` needs at `now`: each at the
/// expiry less its lead, when that is still ahead. The day-before one only when the grant is
/// longer than a day and it comes before the short one.
pub fn reminder_times(
    starts_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Vec<(TimerKind, DateTime<Utc>)> {
    let soon = catalog.settings.expiry_reminder.to_chrono();
    let mut out = Vec::new();
    if expires_at - starts_at > day() && day() > soon {
        out.push((TimerKind::RemindDay, expires_at - day()));
    }
    out.push((TimerKind::RemindSoon, expires_at - soon));
    out.retain(|(_, at)| *at > now);
    out
}

/// The reminder timers an active grant needs now (none otherwise).
pub fn timers_for(
    st: &RequestState,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Vec<(TimerKind, DateTime<Utc>)> {
    match (&st.grant, st.status) {
        (Some(g), Status::Active) => reminder_times(g.starts_at, g.expires_at, catalog, now),
        _ => vec![],
    }
}

/// A reminder that is due: which one, for which expiry, how long is left, and the extension
/// the requester may make themselves (none when the role does not let them, or the grant is
/// at its role's longest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryReminder {
    pub kind: TimerKind,
    pub expires_at: DateTime<Utc>,
    pub left: TimeDelta,
    pub extend_by: Option<AccessDuration>,
}

impl ExpiryReminder {
    /// Its key on the notice ledger: one per reminder and expiry, so a redelivered timer sends
    /// nothing twice, while an extension (a new expiry) gets reminders of its own.
    pub fn ledger_key(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.expires_at.timestamp())
    }
}

/// Whether the `kind` reminder is due at `now` for request `st`: only for access still active,
/// with the expiry it reminds of still ahead and its time come (a timer left from before an
/// extension fires early, and finds nothing due), and none already approved beyond it. The
/// day-before reminder gives way to the short one once that one's time has come.
pub fn due(
    st: &RequestState,
    kind: TimerKind,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Option<ExpiryReminder> {
    let lead = lead(kind, catalog)?;
    let grant = st.grant.as_ref().filter(|_| st.status == Status::Active)?;
    let expires_at = grant.expires_at;
    if expires_at <= now || now < expires_at - lead {
        return None;
    }
    if st.pending_extension.is_some_and(|p| p > expires_at) {
        return None; // extended already; the new expiry's reminders come with it
    }
    if kind == TimerKind::RemindDay {
        let soon = catalog.settings.expiry_reminder.to_chrono();
        if expires_at - grant.starts_at <= day() || now >= expires_at - soon {
            return None;
        }
    }
    let role = st
        .request
        .as_ref()
        .and_then(|r| catalog.role(&r.role))
        .filter(|r| r.self_extend);
    let extend_by = role.and_then(|role| {
        let step = extend_step(role);
        let total = expires_at + step.to_chrono() - grant.starts_at;
        (total <= role.max_total().to_chrono()).then_some(step)
    });
    Some(ExpiryReminder {
        kind,
        expires_at,
        left: expires_at - now,
        extend_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests_support::EXAMPLE;
    use crate::{
        apply, decide, Command, GroupName, Identity, Justification, PrincipalArn, RevokeReason,
        RoleName, Scope, Source, Submit, UserId,
    };
    use chrono::TimeZone;
    use serde_json::json;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, h, m, 0).unwrap()
    }

    fn catalog(self_extend: bool) -> Catalog {
        let mut c = Catalog::from_toml(EXAMPLE).unwrap();
        let role = c
            .roles
            .get_mut(&RoleName::parse("db-read").unwrap())
            .unwrap();
        role.self_extend = self_extend;
        role.approvers.required = 1;
        role.max_duration = AccessDuration::parse("2d").unwrap();
        role.max_total_duration = Some(AccessDuration::parse("3d").unwrap());
        c
    }

    fn alice() -> Identity {
        Identity::new(
            UserId::parse("alice@example.com").unwrap(),
            [GroupName::parse("sre").unwrap()],
        )
    }

    /// Given a db-read grant for `duration` made at 08:00.
    fn granted(c: &Catalog, duration: &str) -> RequestState {
        let s = Submit {
            accounts: vec![],
            id: crate::RequestId::new(),
            requester: alice(),
            role: RoleName::parse("db-read").unwrap(),
            scope: Some(Scope::parse("orders").unwrap()),
            principal: PrincipalArn::parse("arn:aws:iam::123456789012:role/stint/oncall").unwrap(),
            duration: Some(AccessDuration::parse(duration).unwrap()),
            justification: Justification::parse("investigate").unwrap(),
            ticket: None,
            starts_at: None,
            source: Source::Person,
            break_glass: false,
        };
        let role = &c.roles[&RoleName::parse("db-read").unwrap()];
        let bob = Identity::new(
            UserId::parse("bob@example.com").unwrap(),
            role.approvers.groups.clone(),
        );
        let mut st = RequestState::default();
        for cmd in [
            Command::Submit(Box::new(s)),
            Command::Approve {
                approver: bob,
                comment: None,
            },
            Command::RecordGrant {
                account: None,
                policy_name: "stint-x".into(),
                policy: json!({}),
            },
        ] {
            let evs = decide(&st, &cmd, c, t(8, 0)).unwrap();
            st = evs.iter().fold(st, apply);
        }
        assert_eq!(st.status, Status::Active);
        st
    }

    fn run(st: RequestState, c: &Catalog, cmd: Command, at: DateTime<Utc>) -> RequestState {
        let evs = decide(&st, &cmd, c, at).unwrap();
        evs.iter().fold(st, apply)
    }

    #[test]
    fn a_one_hour_grant_gets_one_reminder_ten_minutes_before_its_expiry() {
        let c = catalog(true);
        let st = granted(&c, "1h");
        assert_eq!(
            timers_for(&st, &c, t(8, 0)),
            vec![(TimerKind::RemindSoon, t(8, 50))]
        );
        // Not before its time; due from then until the expiry, offering the role's step.
        assert_eq!(due(&st, TimerKind::RemindSoon, &c, t(8, 49)), None);
        let r = due(&st, TimerKind::RemindSoon, &c, t(8, 50)).unwrap();
        assert_eq!(r.left, TimeDelta::minutes(10));
        assert_eq!(r.expires_at, t(9, 0));
        assert_eq!(
            r.extend_by,
            Some(extend_step(&c.roles[&RoleName::parse("db-read").unwrap()]))
        );
        assert_eq!(
            r.ledger_key(),
            format!("remind_soon:{}", t(9, 0).timestamp())
        );
        assert_eq!(due(&st, TimerKind::RemindSoon, &c, t(9, 0)), None);
        // A grant this short never gets the day-before one.
        assert_eq!(due(&st, TimerKind::RemindDay, &c, t(8, 55)), None);
    }

    #[test]
    fn a_grant_longer_than_a_day_is_also_reminded_the_day_before() {
        let c = catalog(false);
        let st = granted(&c, "36h");
        let expiry = t(8, 0) + TimeDelta::hours(36);
        assert_eq!(
            timers_for(&st, &c, t(8, 0)),
            vec![
                (TimerKind::RemindDay, expiry - TimeDelta::days(1)),
                (TimerKind::RemindSoon, expiry - TimeDelta::minutes(10)),
            ]
        );
        let r = due(&st, TimerKind::RemindDay, &c, expiry - TimeDelta::days(1)).unwrap();
        assert_eq!(r.left, TimeDelta::days(1));
        // The role does not let its requesters extend: nothing is offered.
        assert_eq!(r.extend_by, None);
        // Fired late, inside the short one's window: the short one speaks instead.
        assert_eq!(
            due(
                &st,
                TimerKind::RemindDay,
                &c,
                expiry - TimeDelta::minutes(5)
            ),
            None
        );
        // Exactly a day is not longer than a day.
        assert_eq!(timers_for(&granted(&c, "24h"), &c, t(8, 0)).len(), 1);
    }

    #[test]
    fn a_revoked_grant_is_not_reminded() {
        let c = catalog(true);
        let st = granted(&c, "1h");
        let st = run(
            st,
            &c,
            Command::Revoke {
                reason: RevokeReason::Manual,
                by: Some(alice()),
            },
            t(8, 30),
        );
        assert_eq!(due(&st, TimerKind::RemindSoon, &c, t(8, 50)), None);
        assert!(timers_for(&st, &c, t(8, 30)).is_empty());
    }

    #[test]
    fn an_extension_moves_the_reminders_and_an_old_timer_finds_nothing_due() {
        let c = catalog(true);
        let st = granted(&c, "1h");
        let step = extend_step(&c.roles[&RoleName::parse("db-read").unwrap()]);
        let st = run(
            st,
            &c,
            Command::Extend {
                by: alice(),
                by_duration: step,
                only_from: None,
            },
            t(8, 40),
        );
        // Approved but not yet in IAM: no reminder of the old expiry.
        assert_eq!(due(&st, TimerKind::RemindSoon, &c, t(8, 50)), None);
        let st = run(st, &c, Command::ApplyExtension, t(8, 41));
        let new_expiry = t(9, 0) + step.to_chrono();
        assert_eq!(
            timers_for(&st, &c, t(8, 41)),
            vec![(TimerKind::RemindSoon, new_expiry - TimeDelta::minutes(10))]
        );
        assert_eq!(due(&st, TimerKind::RemindSoon, &c, t(8, 50)), None);
        let r = due(
            &st,
            TimerKind::RemindSoon,
            &c,
            new_expiry - TimeDelta::minutes(10),
        )
        .unwrap();
        assert_eq!(r.expires_at, new_expiry);
    }

    #[test]
    fn no_extension_is_offered_past_the_roles_longest_total() {
        let c = catalog(true);
        // 3d total at most; a 2d grant plus one step of the default duration still fits.
        let st = granted(&c, "2d");
        let expiry = t(8, 0) + TimeDelta::days(2);
        let soon = expiry - TimeDelta::minutes(10);
        assert!(due(&st, TimerKind::RemindSoon, &c, soon)
            .unwrap()
            .extend_by
            .is_some());
        let mut tight = c.clone();
        tight
            .roles
            .get_mut(&RoleName::parse("db-read").unwrap())
            .unwrap()
            .max_total_duration = Some(AccessDuration::parse("2d").unwrap());
        assert_eq!(
            due(&st, TimerKind::RemindSoon, &tight, soon)
                .unwrap()
                .extend_by,
            None
        );
    }

    #[test]
    fn start_and_expiry_timers_are_no_reminders() {
        let c = catalog(true);
        let st = granted(&c, "1h");
        for kind in [TimerKind::Start, TimerKind::Expiry] {
            assert_eq!(due(&st, kind, &c, t(8, 55)), None);
            assert!(!kind.is_reminder());
        }
    }
}
