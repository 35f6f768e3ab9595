//! Approval rules: whether the humans' sign-offs are believable. Too many
//! approvals or reviews per hour, an approval outside the approver's
//! working hours, a review faster than the minimum, a review by the
//! authorization's own approver, an authorization without MFA. They read
//! the human records against the thresholds.

use std::collections::BTreeMap;

use causeway_records::{IdpBinding, Kind, Principal, Time};

use super::{Cx, FlagKind, bursts, claimed_subject, normalized};
use crate::audit::graph::{nanos_between, seconds_between};
use crate::audit::thresholds::local_day_minute;

/// Approvals and reviews, each against its own hourly threshold.
pub(super) fn implausible_approval_rate(cx: &mut Cx<'_>) {
    let mut by_human: BTreeMap<(Kind, String), Vec<(Time, usize)>> = BTreeMap::new();
    for (position, node) in cx.g.nodes.iter().enumerate() {
        let kind = node.record.kind();
        let Some(subject) = claimed_subject(&node.record) else {
            continue;
        };
        let who = node
            .signed_by
            .as_ref()
            .and_then(|k| cx.policy.principal(k))
            .map_or_else(
                || format!("subject {subject:?}"),
                |p| format!("principal {:?}", p.name),
            );
        by_human
            .entry((kind, who))
            .or_default()
            .push((node.record.record_time(), position));
    }
    let mut found = Vec::new();
    for ((kind, who), mut signed) in by_human {
        let (max, key, what) = if kind == Kind::Authorization {
            (
                cx.t.max_approvals_per_hour,
                "max_approvals_per_hour",
                "authorizations approved",
            )
        } else {
            (
                cx.t.max_reviews_per_hour,
                "max_reviews_per_hour",
                "reviews signed",
            )
        };
        signed.sort();
        for (position, count) in bursts(&signed, 3_600, max) {
            found.push((
                position,
                format!(
                    "{count} {what} by {who} within 60 minutes; more than {max} an hour \
                     ({key}) is not a considered human sign-off"
                ),
            ));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::ImplausibleApprovalRate, detail);
    }
}

pub(super) fn approval_outside_hours(cx: &mut Cx<'_>) {
    let days: Vec<&str> = cx.t.working_days.iter().map(|d| d.as_str()).collect();
    let mut found = Vec::new();
    for (position, node) in cx.g.nodes.iter().enumerate() {
        if !matches!(node.record.kind(), Kind::Authorization | Kind::Review) {
            continue;
        }
        let time = node.record.record_time();
        let human = cx.human(node);
        let tz = human.map_or(jiff::tz::TimeZone::UTC, |p| p.tz.clone());
        if !cx.t.is_working_time_in(time.seconds(), &tz) {
            let (day, minute) = local_day_minute(time.seconds(), &tz);
            let zone = human.map_or("UTC", Principal::tz_name);
            let whose = human.map_or_else(
                || String::from("no policy principal, so UTC"),
                |p| format!("the time zone of principal {:?}", p.name),
            );
            found.push((
                position,
                format!(
                    "{} at {time} is {day} {:02}:{:02} in {zone} ({whose}), outside working \
                     hours {} on {}",
                    node.record.kind(),
                    minute / 60,
                    minute % 60,
                    cx.t.working_hours,
                    if days.is_empty() {
                        String::from("no day")
                    } else {
                        days.join(", ")
                    }
                ),
            ));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::ApprovalOutsideHours, detail);
    }
}

pub(super) fn review_too_fast(cx: &mut Cx<'_>) {
    let min = cx.t.min_review_seconds_per_item;
    let mut found = Vec::new();
    for (position, node) in cx.g.nodes.iter().enumerate() {
        let Some(review) = node.review() else {
            continue;
        };
        // What the log shows the review covered: the actions of every
        // session under the reviewed authorization, logged before it. The
        // claimed `items` only ever raises the bar.
        let covered = node.chain.map_or(0, |auth| {
            cx.g.members_of_kind(auth, Kind::Action)
                .into_iter()
                .filter(|&a| a < position)
                .count()
        });
        let covered = u64::try_from(covered).unwrap_or(u64::MAX);
        let items = review.items.max(covered).max(1);
        let spent = nanos_between(review.started_at, review.finished_at);
        let needed = i128::from(min) * 1_000_000_000 * i128::from(items);
        if spent < needed {
            let seconds = seconds_between(review.started_at, review.finished_at);
            let basis = if covered > review.items {
                format!(
                    "{covered} action(s) of authorization {} before it (it claims {} item(s))",
                    node.chain.map_or(0, |a| cx.index(a)),
                    review.items
                )
            } else {
                format!("{} item(s)", review.items)
            };
            found.push((
                position,
                if spent < 0 {
                    format!(
                        "finished_at {} is before started_at {}",
                        review.finished_at, review.started_at
                    )
                } else {
                    format!(
                        "{basis} reviewed in {seconds:.0} s, {:.1} s per item; a considered \
                         review takes at least {min} s per item",
                        seconds / items as f64
                    )
                },
            ));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::ReviewTooFast, detail);
    }
}

pub(super) fn self_review(cx: &mut Cx<'_>) {
    let mut found = Vec::new();
    for (position, node) in cx.g.nodes.iter().enumerate() {
        let Some(review) = node.review() else {
            continue;
        };
        let Some(auth_position) = node.chain else {
            continue;
        };
        let Some(auth_node) = cx.g.node(auth_position) else {
            continue;
        };
        let Some(auth) = auth_node.authorization() else {
            continue;
        };
        let same = match (cx.human(node), cx.human(auth_node)) {
            (Some(reviewer), Some(approver)) => {
                (reviewer.name == approver.name).then(|| format!("principal {:?}", reviewer.name))
            }
            // Neither names a principal: compare the claimed names.
            (None, None) => (normalized(&review.reviewer.subject)
                == normalized(&auth.approver.subject))
            .then(|| format!("{:?}", review.reviewer.subject)),
            _ => None,
        };
        if let Some(who) = same {
            found.push((
                position,
                format!(
                    "the review (reviewer.subject {:?}) and authorization {} (approver.subject \
                     {:?}) are both by {who}: the approver reviewed their own change",
                    review.reviewer.subject, auth_node.index, auth.approver.subject
                ),
            ));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::SelfReview, detail);
    }
}

pub(super) fn authorization_not_idp_bound(cx: &mut Cx<'_>) {
    let required = cx.policy.require_idp();
    let mut found = Vec::new();
    for (position, node) in cx.g.nodes.iter().enumerate() {
        let detail = match &node.idp {
            Some(IdpBinding::Invalid { message, .. }) => message.clone(),
            Some(IdpBinding::Missing) if required => format!(
                "approver {:?}'s approval carries no ID token, and the policy requires one \
                 (require_idp): nothing but the signer's word says how they signed in",
                node.authorization()
                    .map_or("", |a| a.approver.subject.as_str())
            ),
            _ => continue,
        };
        found.push((position, detail));
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::AuthorizationNotIdpBound, detail);
    }
}

pub(super) fn authorization_without_mfa(cx: &mut Cx<'_>) {
    let mut found = Vec::new();
    for (position, node) in cx.g.nodes.iter().enumerate() {
        if let Some(auth) = node.authorization()
            && !auth.authn.mfa
        {
            found.push((
                position,
                format!(
                    "approver {:?} authenticated by {:?} without a second factor (authn.mfa \
                     false)",
                    auth.approver.subject, auth.authn.method
                ),
            ));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::AuthorizationWithoutMfa, detail);
    }
}
