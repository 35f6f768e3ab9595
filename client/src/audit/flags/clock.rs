//! Clock rules: whether a record's claimed `time` fits the TSA anchors.
//! A record dated later than an anchor that already covers it (backdated
//! into a tree stamped before it claims to exist), or dated well before an
//! anchored tree that does not yet contain it (made or submitted later
//! than it claims). Both read the records' times against the anchors and
//! `max_clock_skew_secs`.

use causeway_records::Time;

use super::{Cx, FlagKind};

pub(super) fn backdated_record(cx: &mut Cx<'_>) {
    // The earliest genTime among the anchors covering each index: sort by
    // size, then take suffix minima, so unsorted input is handled too.
    let mut anchors: Vec<(u64, i64)> = cx.anchors.to_vec();
    anchors.sort();
    let mut earliest: Vec<(u64, i64)> = anchors.clone();
    let mut best: Option<(u64, i64)> = None;
    for slot in earliest.iter_mut().rev() {
        if best.is_none_or(|b| slot.1 <= b.1) {
            best = Some(*slot);
        }
        if let Some(b) = best {
            *slot = b;
        }
    }
    let skew = i64::from(cx.t.max_clock_skew_secs);
    let mut found = Vec::new();
    for (position, node) in cx.g.nodes.iter().enumerate() {
        let first = anchors.partition_point(|&(size, _)| size <= node.index);
        let Some(&(size, gen_time)) = earliest.get(first) else {
            continue;
        };
        let limit = gen_time.saturating_add(skew);
        let time = node.record.record_time();
        if time.seconds() > limit || (time.seconds() == limit && time.nanos() > 0) {
            let anchored = Time::new(gen_time, 0)
                .map_or_else(|_| format!("unix {gen_time}"), |t| t.to_string());
            found.push((
                position,
                format!(
                    "{}.time {time} is {}s after the TSA anchor of tree size {size} (genTime \
                     {anchored}) already covered it; at most {skew}s is allowed for clock skew",
                    node.record.kind(),
                    time.seconds().saturating_sub(gen_time)
                ),
            ));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::BackdatedRecord, detail);
    }
}

pub(super) fn record_predates_admission(cx: &mut Cx<'_>) {
    // For each index, the latest genTime among anchors of trees that do
    // not contain it (size <= index): sort by size, then prefix maxima.
    let mut anchors: Vec<(u64, i64)> = cx.anchors.to_vec();
    anchors.sort();
    let mut latest: Vec<(u64, i64)> = Vec::with_capacity(anchors.len());
    for &(size, gen_time) in &anchors {
        let best = latest.last().filter(|&&(_, g)| g >= gen_time).copied();
        latest.push(best.unwrap_or((size, gen_time)));
    }
    let skew = i64::from(cx.t.max_clock_skew_secs);
    let mut found = Vec::new();
    for (position, node) in cx.g.nodes.iter().enumerate() {
        let before = anchors.partition_point(|&(size, _)| size <= node.index);
        let Some(&(size, gen_time)) = before.checked_sub(1).and_then(|i| latest.get(i)) else {
            continue;
        };
        let time = node.record.record_time();
        if time.seconds() < gen_time.saturating_sub(skew) {
            let anchored = Time::new(gen_time, 0)
                .map_or_else(|_| format!("unix {gen_time}"), |t| t.to_string());
            found.push((
                position,
                format!(
                    "{}.time {time} is {}s before the TSA anchor of tree size {size} (genTime \
                     {anchored}), which does not contain entry {}: the record reached the log \
                     after that time, so it claims an earlier time than it was made; at most \
                     {skew}s is allowed for clock skew",
                    node.record.kind(),
                    gen_time.saturating_sub(time.seconds()),
                    node.index
                ),
            ));
        }
    }
    for (position, detail) in found {
        cx.flag(position, FlagKind::RecordPredatesAdmission, detail);
    }
}
