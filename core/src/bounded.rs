//! Bounded maps for the per-backend caches whose entries are cheap to rebuild and pure
//! functions of their key (a context's text and its decoded form), or true only for one
//! invalidation state (a context's verdict, its row).
//!
//! Why maps and not the single "last one" slot they replace: a pooled connection serves many
//! tenants in turn, and with one slot every request of another tenant than the previous one
//! missed: the context encoded again, its verdict and row rebuilt. Through the gateway
//! (`bench/gateway.sh`, 2 tenants alternating on one connection) that was ~12,000 instructions
//! of a ~165,000-instruction request, callgrind.
//!
//! Past a bound a map restarts empty ([`Admission`]), the rule the tenant, membership and block
//! caches follow: cheaper than eviction order, and the working set refills it.

use std::borrow::Borrow;
use std::hash::Hash;

use crate::cache::{Admission, FastHashMap};

/// A hash map bounded in entries and (estimated) bytes.
pub struct BoundedMap<K, V> {
    max_entries: usize,
    entries: FastHashMap<K, V>,
    bytes: usize,
}

impl<K: Hash + Eq, V> BoundedMap<K, V> {
    pub fn new(max_entries: usize) -> Self {
        BoundedMap {
            max_entries,
            entries: FastHashMap::default(),
            bytes: 0,
        }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get(key)
    }

    /// Keeps `value` (of about `bytes`) unless it alone exceeds `budget`; restarts empty first
    /// when either bound would not hold. Whether it was kept.
    pub fn insert(&mut self, key: K, value: V, bytes: usize, budget: usize) -> bool {
        let admission = Admission::of(
            self.entries.len(),
            self.max_entries,
            self.bytes,
            bytes,
            budget,
        );
        if !admission.apply(|| self.clear()) {
            return false;
        }
        // A replaced entry's bytes stay counted until the next restart: conservative.
        self.entries.insert(key, value);
        self.bytes = self.bytes.saturating_add(bytes);
        true
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

/// What the tests read back: the entries and the estimated bytes held.
#[cfg(test)]
impl<K, V> BoundedMap<K, V> {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn bytes(&self) -> usize {
        self.bytes
    }
}

/// A [`BoundedMap`] whose entries are true only in the state (`G`, an invalidation generation)
/// they were found in: the first use under another state empties it.
pub struct GenerationalMap<G, K, V> {
    generation: Option<G>,
    map: BoundedMap<K, V>,
}

impl<G: Copy + Eq, K: Hash + Eq, V> GenerationalMap<G, K, V> {
    pub fn new(max_entries: usize) -> Self {
        GenerationalMap {
            generation: None,
            map: BoundedMap::new(max_entries),
        }
    }

    /// The entry of `key` found in state `generation`, if that is still the state.
    pub fn get<Q>(&mut self, generation: G, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.follow(generation);
        self.map.get(key)
    }

    /// Keeps `value`, found in state `generation` (see [`BoundedMap::insert`]).
    pub fn insert(&mut self, generation: G, key: K, value: V, bytes: usize, budget: usize) -> bool {
        self.follow(generation);
        self.map.insert(key, value, bytes, budget)
    }

    fn follow(&mut self, generation: G) {
        if self.generation != Some(generation) {
            self.map.clear();
            self.generation = Some(generation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keeps_entries_until_a_bound_then_restarts_empty() {
        let mut map = BoundedMap::new(2);
        assert!(map.insert("a", 1, 10, 100));
        assert!(map.insert("b", 2, 10, 100));
        assert_eq!((map.get("a"), map.get("b")), (Some(&1), Some(&2)));
        // The third entry is past the entry bound: the map restarts with it alone.
        assert!(map.insert("c", 3, 10, 100));
        assert_eq!((map.get("a"), map.get("c"), map.len()), (None, Some(&3), 1));
        // Past the byte bound too.
        assert!(map.insert("d", 4, 95, 100));
        assert_eq!(
            (map.get("c"), map.get("d"), map.bytes()),
            (None, Some(&4), 95)
        );
    }

    #[test]
    fn an_entry_larger_than_the_budget_is_not_kept() {
        let mut map = BoundedMap::new(8);
        assert!(map.insert("a", 1, 10, 100));
        assert!(!map.insert("huge", 2, 101, 100));
        assert_eq!(map.get("huge"), None);
        assert_eq!(map.len(), 0, "making room for it emptied the map");
    }

    #[test]
    fn a_generational_entry_answers_only_in_its_generation() {
        let mut map = GenerationalMap::new(8);
        assert!(map.insert(1u64, "ctx", true, 8, 100));
        assert_eq!(map.get(1, "ctx"), Some(&true));
        assert_eq!(
            map.get(2, "ctx"),
            None,
            "an invalidation was processed since"
        );
        assert_eq!(
            map.get(1, "ctx"),
            None,
            "and the old state never comes back"
        );
        // Found in an older state than the map's: the map follows the insert's state.
        assert!(map.insert(3, "other", false, 8, 100));
        assert_eq!(map.get(3, "other"), Some(&false));
        assert_eq!(map.map.len(), 1);
    }

    proptest! {
        // Whatever the sequence, both bounds hold after every insert, and a kept entry reads
        // back until the next restart.
        #[test]
        fn bounds_always_hold(
            ops in proptest::collection::vec((0u8..40, 0usize..300), 1..200),
            max_entries in 1usize..16,
            budget in 1usize..1000,
        ) {
            let mut map = BoundedMap::new(max_entries);
            for (key, bytes) in ops {
                let kept = map.insert(key, bytes, bytes, budget);
                prop_assert!(map.len() <= max_entries);
                prop_assert!(map.bytes() <= budget);
                prop_assert_eq!(kept, bytes <= budget);
                if kept {
                    prop_assert_eq!(map.get(&key), Some(&bytes));
                }
            }
        }
    }
}
