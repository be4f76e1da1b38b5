//! A short-lived cache bounded in bytes: what was read recently, so a burst of requests for one
//! app (the UI polls; a page shows the list, then a resource) reads each live object once.
//!
//! Entries expire after a fixed time to live and the oldest are evicted first once the total
//! weight passes the byte bound, so memory stays bounded whatever is asked for. Time is passed
//! in, so the rules are unit-tested with plain instants.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

pub struct ByteCache<K, V> {
    inner: Mutex<Inner<K, V>>,
    max_bytes: usize,
    ttl: Duration,
}

struct Inner<K, V> {
    entries: HashMap<K, Entry<V>>,
    /// Insertion order, with the generation of each insertion (a key re-inserted leaves a stale
    /// record behind, skipped on eviction).
    order: VecDeque<(K, u64)>,
    bytes: usize,
    generation: u64,
}

struct Entry<V> {
    value: V,
    weight: usize,
    expires: Instant,
    generation: u64,
}

impl<K: Clone + Eq + Hash, V: Clone> ByteCache<K, V> {
    pub fn new(max_bytes: usize, ttl: Duration) -> Self {
        ByteCache {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                order: VecDeque::new(),
                bytes: 0,
                generation: 0,
            }),
            max_bytes,
            ttl,
        }
    }

    /// The value, if present and not expired at `now`.
    pub fn get(&self, key: &K, now: Instant) -> Option<V> {
        let inner = self.lock();
        inner
            .entries
            .get(key)
            .filter(|e| e.expires > now)
            .map(|e| e.value.clone())
    }

    /// Stores `value` weighing `weight` bytes. A value heavier than the whole bound is not kept.
    pub fn insert(&self, key: K, value: V, weight: usize, now: Instant) {
        if weight > self.max_bytes || self.ttl.is_zero() {
            return;
        }
        let mut inner = self.lock();
        inner.generation += 1;
        let generation = inner.generation;
        if let Some(old) = inner.entries.insert(
            key.clone(),
            Entry {
                value,
                weight,
                expires: now + self.ttl,
                generation,
            },
        ) {
            inner.bytes -= old.weight;
        }
        inner.bytes += weight;
        inner.order.push_back((key, generation));
        // Expired entries first, then the oldest, until within the bound.
        while let Some((key, generation)) = inner.order.front().cloned() {
            let current = inner.entries.get(&key).map(|e| (e.generation, e.expires));
            match current {
                Some((g, expires)) if g == generation => {
                    if inner.bytes <= self.max_bytes && expires > now {
                        break;
                    }
                    if let Some(gone) = inner.entries.remove(&key) {
                        inner.bytes -= gone.weight;
                    }
                    inner.order.pop_front();
                }
                // Replaced or removed since: a stale record.
                _ => {
                    inner.order.pop_front();
                }
            }
        }
    }

    /// Entries held, and records in the eviction queue (stale ones included).
    pub fn len(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.entries.len(), inner.order.len())
    }

    /// Total weight held, for tests and metrics.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        // Only map and queue operations happen under the lock; a poisoned lock is consistent.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_their_time_to_live() {
        let cache = ByteCache::new(100, Duration::from_secs(5));
        let t0 = Instant::now();
        cache.insert("a", 1, 10, t0);
        assert_eq!(cache.get(&"a", t0 + Duration::from_secs(4)), Some(1));
        assert_eq!(cache.get(&"a", t0 + Duration::from_secs(5)), None);
    }

    #[test]
    fn the_oldest_entries_go_first_once_the_byte_bound_is_passed() {
        let cache = ByteCache::new(100, Duration::from_secs(60));
        let t0 = Instant::now();
        cache.insert("a", 1, 40, t0);
        cache.insert("b", 2, 40, t0);
        cache.insert("c", 3, 40, t0);
        assert_eq!(cache.get(&"a", t0), None);
        assert_eq!(cache.get(&"b", t0), Some(2));
        assert_eq!(cache.get(&"c", t0), Some(3));
        assert_eq!(cache.bytes(), 80);
        // Too heavy for the bound at all: not kept, nothing evicted for it.
        cache.insert("huge", 4, 101, t0);
        assert_eq!((cache.get(&"huge", t0), cache.bytes()), (None, 80));
    }

    #[test]
    fn re_inserting_a_key_replaces_its_weight_and_keeps_the_bound() {
        let cache = ByteCache::new(100, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..1000 {
            cache.insert("a", i, 30, t0);
            cache.insert("b", i, 30, t0);
        }
        assert_eq!(cache.bytes(), 60);
        assert_eq!(cache.get(&"a", t0), Some(999));
        let inner = cache.lock();
        assert!(
            inner.order.len() <= 3,
            "stale records are dropped as they reach the front"
        );
    }
}
