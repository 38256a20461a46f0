//! A bounded LRU of verified tokens, keyed by the exact token string, so a connection that
//! presents the same token again skips the signature check. Only the signature result is
//! cached: callers re-run `check_claims` on every hit, and must `clear` when keys change.
//! Each entry also remembers the key generation (the load of the key set) that verified it:
//! a lookup under another generation is a miss, so a cached token never outlives its key, even
//! if a `clear` were missed.
//!
//! A hit runs for every repeated request, so it allocates nothing: the token is held once
//! (shared by the map and the recency list) and the verification is handed out shared, not
//! copied; the map hashes with foldhash rather than SipHash (~1,100 instructions for a
//! 300-byte token with SipHash, callgrind). SipHash's flooding resistance buys nothing here:
//! only tokens whose signature verified are inserted, and a client cannot mint those.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use serde_json::Value;

use crate::jwt::VerifiedToken;

/// The hash map of the per-backend caches (this one, and the tenant, membership and block caches
/// of the extension): foldhash, randomly seeded per process. Their keys (tokens, subjects, tenant
/// ids and slugs) come from verified tokens and the catalog, and every cache is bounded, so
/// SipHash's flooding resistance is not what protects them; its cost is paid per request.
pub type FastHashMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// What a bounded per-backend cache does with a new entry: the rule the extension's caches of
/// tenants, memberships and subject blocks share. Past its entry or byte bound the cache
/// restarts empty rather than evicting entry by entry (cheap, and the working set refills it);
/// an entry larger than the whole budget is not kept at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// Empty the cache before taking the entry.
    pub restart: bool,
    /// Keep the entry (after the restart, if any).
    pub keep: bool,
}

impl Admission {
    pub fn of(
        entries: usize,
        max_entries: usize,
        used_bytes: usize,
        bytes: usize,
        budget: usize,
    ) -> Self {
        Admission {
            restart: entries >= max_entries || used_bytes.saturating_add(bytes) > budget,
            keep: bytes <= budget,
        }
    }

    /// Empties the cache (`forget`) if it must restart; whether to keep the entry.
    pub fn apply(self, forget: impl FnOnce()) -> bool {
        if self.restart {
            forget();
        }
        self.keep
    }
}

/// Rough per-value overhead of a parsed JSON value (enum tag, allocation headers, map slot).
const VALUE_OVERHEAD: usize = 32;

struct Entry {
    verified: Rc<VerifiedToken>,
    bytes: usize,
    /// Recency stamp: the key of this entry in `TokenCache::order`.
    stamp: u64,
    /// The key generation that verified it.
    generation: u64,
}

/// Bounded LRU; both `max_entries` and `max_bytes` always hold.
pub struct TokenCache {
    max_entries: usize,
    max_bytes: usize,
    entries: FastHashMap<Rc<str>, Entry>,
    /// stamp -> token, oldest first.
    order: BTreeMap<u64, Rc<str>>,
    next_stamp: u64,
    bytes: usize,
}

impl TokenCache {
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        TokenCache {
            max_entries,
            max_bytes,
            entries: HashMap::default(),
            order: BTreeMap::new(),
            next_stamp: 0,
            bytes: 0,
        }
    }

    /// The cached verification of `token` under key generation `generation`, marking it most
    /// recently used; an entry of another generation is dropped.
    pub fn get(&mut self, token: &str, generation: u64) -> Option<Rc<VerifiedToken>> {
        let newest = self.next_stamp.checked_sub(1);
        let entry = self.entries.get_mut(token)?;
        if entry.generation != generation {
            let (old_stamp, bytes) = (entry.stamp, entry.bytes);
            self.order.remove(&old_stamp);
            self.bytes = self.bytes.saturating_sub(bytes);
            self.entries.remove(token);
            return None;
        }
        let verified = Rc::clone(&entry.verified);
        // Already the most recent (one client presenting its token again): nothing to move.
        if Some(entry.stamp) != newest {
            let stamp = self.next_stamp;
            self.next_stamp = self.next_stamp.saturating_add(1);
            let old = std::mem::replace(&mut entry.stamp, stamp);
            if let Some(key) = self.order.remove(&old) {
                self.order.insert(stamp, key);
            }
        }
        Some(verified)
    }

    /// Caches `verified` for `token`, evicting the least recently used entries until both
    /// bounds hold. An entry larger than `max_bytes` on its own is not cached.
    pub fn insert(&mut self, token: &str, verified: Rc<VerifiedToken>, generation: u64) {
        self.remove(token);
        let bytes = entry_bytes(token, &verified);
        if self.max_entries == 0 || bytes > self.max_bytes {
            return;
        }
        while self.entries.len() >= self.max_entries
            || self.bytes.saturating_add(bytes) > self.max_bytes
        {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some(old) = self.entries.remove(&oldest) {
                self.bytes = self.bytes.saturating_sub(old.bytes);
            }
        }
        let stamp = self.take_stamp();
        let key: Rc<str> = Rc::from(token);
        self.order.insert(stamp, Rc::clone(&key));
        self.entries.insert(
            key,
            Entry {
                verified,
                bytes,
                stamp,
                generation,
            },
        );
        self.bytes = self.bytes.saturating_add(bytes);
    }

    /// Changes the byte bound, evicting the least recently used entries until it holds.
    pub fn set_max_bytes(&mut self, max_bytes: usize) {
        self.max_bytes = max_bytes;
        while self.bytes > self.max_bytes {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some(old) = self.entries.remove(&oldest) {
                self.bytes = self.bytes.saturating_sub(old.bytes);
            }
        }
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.bytes = 0;
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Estimated memory held by the cached entries.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn remove(&mut self, token: &str) {
        if let Some(old) = self.entries.remove(token) {
            self.order.remove(&old.stamp);
            self.bytes = self.bytes.saturating_sub(old.bytes);
        }
    }

    fn take_stamp(&mut self) -> u64 {
        let stamp = self.next_stamp;
        self.next_stamp = self.next_stamp.saturating_add(1);
        stamp
    }
}

/// The token (held once, shared by the map key and the recency list) plus an estimate of the
/// claims.
fn entry_bytes(token: &str, verified: &VerifiedToken) -> usize {
    let strings = verified
        .subject
        .len()
        .saturating_add(verified.key.kid.len())
        .saturating_add(verified.key.issuer.as_ref().map_or(0, String::len));
    token
        .len()
        .saturating_add(strings)
        .saturating_add(claims_bytes(&verified.claims))
}

/// Walks the claims with an explicit stack (no recursion, whatever the nesting).
fn claims_bytes(claims: &serde_json::Map<String, Value>) -> usize {
    let mut total = 0usize;
    let mut stack: Vec<&Value> = Vec::new();
    for (name, value) in claims {
        total = total
            .saturating_add(name.len())
            .saturating_add(VALUE_OVERHEAD);
        stack.push(value);
    }
    while let Some(value) = stack.pop() {
        total = total.saturating_add(VALUE_OVERHEAD);
        match value {
            Value::String(s) => total = total.saturating_add(s.len()),
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                for (name, v) in map {
                    total = total
                        .saturating_add(name.len())
                        .saturating_add(VALUE_OVERHEAD);
                    stack.push(v);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_restarts_past_either_bound_and_refuses_what_no_budget_holds() {
        let take = Admission {
            restart: false,
            keep: true,
        };
        assert_eq!(Admission::of(0, 10, 0, 5, 100), take);
        assert_eq!(Admission::of(9, 10, 95, 5, 100), take);
        let restart = Admission {
            restart: true,
            keep: true,
        };
        assert_eq!(Admission::of(10, 10, 0, 5, 100), restart);
        assert_eq!(Admission::of(1, 10, 96, 5, 100), restart);
        assert_eq!(Admission::of(0, 10, usize::MAX, 5, 100), restart);
        assert_eq!(
            Admission::of(0, 10, 0, 101, 100),
            Admission {
                restart: true,
                keep: false
            }
        );
    }
    use crate::algorithm::Algorithm;
    use serde_json::{json, Map};

    fn verified(sub: &str, claims: Value) -> Rc<VerifiedToken> {
        let claims: Map<String, Value> = match claims {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Rc::new(VerifiedToken {
            claims: claims.into(),
            subject: sub.to_owned(),
            key: crate::jwt::KeyId {
                issuer: None,
                kid: "k".to_owned(),
            },
            tenants: None,
            alg: Algorithm::HS256,
            exp: None,
            nbf: None,
        })
    }

    #[test]
    fn returns_what_was_inserted() {
        let mut cache = TokenCache::new(10, 1 << 20);
        cache.insert("t1", verified("a", json!({"sub":"a"})), 0);
        assert_eq!(
            cache.get("t1", 0).map(|v| v.subject.clone()),
            Some("a".to_owned())
        );
        assert!(cache.get("t2", 0).is_none());
        assert_eq!(cache.len(), 1);
        assert!(cache.bytes() > 0);
    }

    #[test]
    fn evicts_the_least_recently_used() {
        let mut cache = TokenCache::new(2, 1 << 20);
        cache.insert("t1", verified("a", json!({})), 0);
        cache.insert("t2", verified("b", json!({})), 0);
        cache.get("t1", 0);
        cache.insert("t3", verified("c", json!({})), 0);
        assert!(cache.get("t1", 0).is_some());
        assert!(cache.get("t2", 0).is_none());
        assert!(cache.get("t3", 0).is_some());
    }

    #[test]
    fn byte_bound_evicts_and_oversized_entries_are_skipped() {
        let mut cache = TokenCache::new(100, 400);
        cache.insert("t1", verified("a", json!({"x": "y".repeat(100)})), 0);
        cache.insert("t2", verified("b", json!({"x": "y".repeat(100)})), 0);
        assert!(cache.bytes() <= 400);
        cache.insert("big", verified("c", json!({"x": "y".repeat(1000)})), 0);
        assert!(cache.get("big", 0).is_none());
        assert!(cache.bytes() <= 400);
    }

    #[test]
    fn reinserting_replaces_and_clear_empties() {
        let mut cache = TokenCache::new(10, 1 << 20);
        cache.insert("t1", verified("a", json!({})), 0);
        cache.insert("t1", verified("b", json!({})), 0);
        assert_eq!(cache.len(), 1);
        assert_eq!(
            cache.get("t1", 0).map(|v| v.subject.clone()),
            Some("b".to_owned())
        );
        cache.clear();
        assert_eq!((cache.len(), cache.bytes()), (0, 0));
        assert!(cache.is_empty());
    }

    #[test]
    fn another_key_generation_is_a_miss() {
        let mut cache = TokenCache::new(10, 1 << 20);
        cache.insert("t1", verified("a", json!({})), 1);
        assert!(cache.get("t1", 2).is_none());
        assert!(cache.get("t1", 1).is_none(), "the stale entry is gone");
        assert_eq!((cache.len(), cache.bytes()), (0, 0));
    }

    #[test]
    fn lowering_the_byte_bound_evicts() {
        let mut cache = TokenCache::new(10, 1 << 20);
        cache.insert("t1", verified("a", json!({"x": "y".repeat(100)})), 0);
        cache.insert("t2", verified("b", json!({"x": "y".repeat(100)})), 0);
        cache.set_max_bytes(300);
        assert_eq!(cache.len(), 1);
        assert!(cache.get("t2", 0).is_some());
        assert!(cache.bytes() <= 300);
    }

    #[test]
    fn repeated_hits_on_the_newest_keep_the_recency_order() {
        let mut cache = TokenCache::new(2, 1 << 20);
        cache.insert("t1", verified("a", json!({})), 0);
        cache.insert("t2", verified("b", json!({})), 0);
        assert!(cache.get("t2", 0).is_some());
        assert!(cache.get("t2", 0).is_some());
        assert!(cache.get("t1", 0).is_some());
        assert!(cache.get("t1", 0).is_some());
        cache.insert("t3", verified("c", json!({})), 0);
        assert!(
            cache.get("t2", 0).is_none(),
            "t2 was the least recently used"
        );
        assert!(cache.get("t1", 0).is_some());
        assert!(cache.get("t3", 0).is_some());
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let mut cache = TokenCache::new(0, 1 << 20);
        cache.insert("t1", verified("a", json!({})), 0);
        assert_eq!(cache.len(), 0);
    }
}
