//! Addresses of perfect subtrees.
//!
//! A node `(level, index)` is the root of the perfect subtree of `2^level`
//! leaves that starts at leaf `index · 2^level`. Leaves are level 0.
//!
//! ```text
//! level 2:             (2,0)
//!                   /         \
//! level 1:       (1,0)        (1,1)
//!               /    \       /    \
//! level 0:   (0,0) (0,1)  (0,2) (0,3)  (0,4) ...
//! ```
//!
//! Only perfect subtrees have addresses; the hash of any other range (the
//! right edge of a tree whose size is not a power of two) is folded from the
//! perfect subtrees that cover it (see [`range_nodes`]).

use std::ops::Range;

/// The address of a perfect subtree: `2^level` leaves starting at leaf
/// `index << level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves; leaves are level 0. At most 63.
    pub level: u8,
    /// Position among the nodes of the same level, from the left.
    pub index: u64,
}

impl NodeId {
    /// The node at `(level, index)`.
    pub const fn new(level: u8, index: u64) -> Self {
        NodeId { level, index }
    }

    /// The leaf at `index`.
    pub const fn leaf(index: u64) -> Self {
        NodeId { level: 0, index }
    }

    /// The node directly above this one.
    pub const fn parent(self) -> Self {
        NodeId {
            level: self.level + 1,
            index: self.index >> 1,
        }
    }

    /// The other child of this node's parent.
    pub const fn sibling(self) -> Self {
        NodeId {
            level: self.level,
            index: self.index ^ 1,
        }
    }

    /// The leaves under this node, `[begin, end)`. Saturates at `u64::MAX`
    /// for nodes whose coverage would not fit.
    pub fn coverage(self) -> Range<u64> {
        let begin = self
            .index
            .checked_shl(u32::from(self.level))
            .unwrap_or(u64::MAX);
        let width = 1u64.checked_shl(u32::from(self.level)).unwrap_or(u64::MAX);
        begin..begin.saturating_add(width)
    }
}

/// The perfect subtrees that exactly cover the leaves `[begin, end)`, from
/// left to right. Each is the largest aligned subtree that starts where the
/// previous one ended and fits; levels first grow, then shrink.
///
/// For `[0, n)` this is one node per set bit of `n`, largest first: the
/// compact range of a tree of size `n`.
pub fn range_nodes(begin: u64, end: u64) -> Vec<NodeId> {
    let mut nodes = Vec::with_capacity(2 * 64);
    let mut at = begin;
    while at < end {
        // A subtree starting at `at` must be aligned to its own size...
        let align = at.trailing_zeros(); // 64 when at == 0
        // ...and must not run past `end`.
        let fit = 63 - (end - at).leading_zeros();
        let level = align.min(fit);
        nodes.push(NodeId::new(level as u8, at >> level));
        at += 1u64 << level;
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family() {
        let n = NodeId::new(2, 5);
        assert_eq!(n.parent(), NodeId::new(3, 2));
        assert_eq!(n.sibling(), NodeId::new(2, 4));
        assert_eq!(n.coverage(), 20..24);
        assert_eq!(NodeId::leaf(7).coverage(), 7..8);
    }

    #[test]
    fn ranges_cover_exactly() {
        for begin in 0..70u64 {
            for end in begin..140u64 {
                let nodes = range_nodes(begin, end);
                let mut at = begin;
                for n in &nodes {
                    let c = n.coverage();
                    assert_eq!(c.start, at, "gap in [{begin},{end})");
                    assert!(c.end <= end);
                    at = c.end;
                }
                assert_eq!(at, end);
                // Maximality: no two neighbours could merge into their parent.
                for w in nodes.windows(2) {
                    assert!(!(w[0].level == w[1].level && w[0].sibling() == w[1]));
                }
            }
        }
    }

    #[test]
    fn compact_range_of_prefix_has_one_node_per_bit() {
        let nodes = range_nodes(0, 0b1011_0100);
        let levels: Vec<u8> = nodes.iter().map(|n| n.level).collect();
        assert_eq!(levels, vec![7, 5, 4, 2]);
        assert_eq!(range_nodes(0, 0), vec![]);
        assert_eq!(range_nodes(0, u64::MAX).len(), 64);
    }
}
