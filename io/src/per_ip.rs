//! Open connections per client address, for a per-address cap: one
//! client must not take all of a listener's connections.
//!
//! Unlike the listener's total cap ([`ConnectionCap`](crate::ConnectionCap)),
//! a connection over its address's cap has already been accepted; the
//! server decides how to refuse it (the log tells gRPC clients why in an
//! HTTP/2 GOAWAY).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// How many connections each client address has open, up to a cap.
#[derive(Clone, Debug, Default)]
pub struct PerIpCap {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max: usize,
}

impl PerIpCap {
    /// At most `max` connections per address; 0 sets no limit.
    pub fn new(max: usize) -> Self {
        PerIpCap {
            open: Arc::default(),
            max,
        }
    }

    /// The limit (0: none).
    pub fn max(&self) -> usize {
        self.max
    }

    /// Counts one more connection from `ip`, unless it has the most open.
    pub fn try_take(&self, ip: IpAddr) -> Option<IpSlot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(ip).or_insert(0);
        if self.max > 0 && *n >= self.max {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            ip,
            open: self.open.clone(),
        })
    }
}

/// One connection counted in a [`PerIpCap`], until dropped.
#[derive(Debug)]
pub struct IpSlot {
    ip: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_count_and_slots_are_given_back() {
        let cap = PerIpCap::new(2);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let a1 = cap.try_take(a).unwrap();
        let _a2 = cap.try_take(a).unwrap();
        assert!(cap.try_take(a).is_none());
        let _b1 = cap.try_take(b).expect("another address is not affected");
        drop(a1);
        assert!(cap.try_take(a).is_some());
    }

    #[test]
    fn zero_sets_no_limit_and_counts_are_forgotten_at_zero() {
        let cap = PerIpCap::new(0);
        let ip: IpAddr = "::1".parse().unwrap();
        let slots: Vec<_> = (0..100).map(|_| cap.try_take(ip).unwrap()).collect();
        drop(slots);
        assert!(cap.open.lock().unwrap().is_empty());
    }
}
