//! How much of a long list the page shows. One change may have a million
//! actions, and a page that lists them all cannot be opened; so each list
//! shows its first and last rows and its notable (flagged) rows up to a
//! cap, and a row in place of each run it leaves out says how many and
//! where they all are (`actions.jsonl` and `findings.jsonl` beside the
//! page, `report.json` for the rest). The page then stays a few MB
//! whatever the log's size.

/// The rows one list shows.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    /// Its first rows.
    pub(super) head: usize,
    /// Its last rows.
    pub(super) tail: usize,
    /// Notable rows between those, at most.
    pub(super) notable: usize,
}

/// A change's actions, exceptions, outcomes and red flags, and the
/// actions no change shows.
pub(super) const LIST: Limits = Limits {
    head: 20,
    tail: 10,
    notable: 100,
};

/// One row of a shown list.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Row<'a, T> {
    /// An item, shown.
    Shown(&'a T),
    /// This many consecutive items, left out.
    Omitted(usize),
}

/// The rows of `items` to show under `limits`, in order.
pub(super) fn sample<'a, T>(
    items: &'a [T],
    limits: Limits,
    notable: impl Fn(&T) -> bool,
) -> Vec<Row<'a, T>> {
    let n = items.len();
    let mut rows = Vec::new();
    let mut notable_left = limits.notable;
    let mut omitted = 0;
    for (i, item) in items.iter().enumerate() {
        let edge = i < limits.head || i + limits.tail >= n;
        let keep = edge || (notable_left > 0 && notable(item));
        if !keep {
            omitted += 1;
            continue;
        }
        if !edge {
            notable_left -= 1;
        }
        if omitted > 0 {
            rows.push(Row::Omitted(omitted));
            omitted = 0;
        }
        rows.push(Row::Shown(item));
    }
    if omitted > 0 {
        rows.push(Row::Omitted(omitted));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits {
        head: 2,
        tail: 1,
        notable: 2,
    };

    fn shown(rows: &[Row<'_, u32>]) -> Vec<String> {
        rows.iter()
            .map(|r| match r {
                Row::Shown(i) => i.to_string(),
                Row::Omitted(n) => format!("-{n}"),
            })
            .collect()
    }

    #[test]
    fn a_short_list_is_shown_whole() {
        let items = [1, 2, 3];
        assert_eq!(shown(&sample(&items, SMALL, |_| false)), ["1", "2", "3"]);
    }

    #[test]
    fn a_long_list_keeps_head_tail_and_notable_rows_and_counts_the_rest() {
        let items: Vec<u32> = (0..20).collect();
        // 7, 9 and 11 are notable; only two fit; 0 and 1 are head anyway.
        let rows = sample(&items, SMALL, |i| [0, 7, 9, 11].contains(i));
        assert_eq!(shown(&rows), ["0", "1", "-5", "7", "-1", "9", "-9", "19"]);
        let total: usize = rows
            .iter()
            .map(|r| match r {
                Row::Shown(_) => 1,
                Row::Omitted(n) => *n,
            })
            .sum();
        assert_eq!(total, items.len());
    }

    #[test]
    fn a_head_only_limit_cuts_the_end() {
        let items: Vec<u32> = (0..5).collect();
        let head = Limits {
            head: 2,
            tail: 0,
            notable: 0,
        };
        assert_eq!(shown(&sample(&items, head, |_| true)), ["0", "1", "-3"]);
    }
}
