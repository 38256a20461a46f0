//! Synchronising the keys of one issuer with its published JWKS: what to add, keep, replace,
//! retire and remove. Pure: the database layer (`src/keys.rs`) reads the issuer's synced keys,
//! applies the plan in one transaction and never touches keys of other issuers or keys added
//! by hand.

use std::collections::HashMap;

use crate::algorithm::Algorithm;
use crate::jwks::JwkImport;

/// What a sync does to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncAction {
    /// New in the document: installed.
    Added,
    /// In the document and installed with the same algorithm and material.
    Kept,
    /// Back in the document while retiring: verifies again with no end date.
    Revived,
    /// Same kid, another algorithm or material: the installed key is replaced (the old
    /// material verifies nothing from the transaction's commit on).
    Replaced,
    /// Gone from the document: keeps verifying until the grace period ends.
    Retiring,
    /// Gone from the document for longer than the grace period: removed.
    Removed,
}

impl SyncAction {
    pub fn as_str(&self) -> &'static str {
        match self {
            SyncAction::Added => "added",
            SyncAction::Kept => "kept",
            SyncAction::Revived => "revived",
            SyncAction::Replaced => "replaced",
            SyncAction::Retiring => "retiring",
            SyncAction::Removed => "removed",
        }
    }
}

/// A key installed by an earlier sync of the same issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedKey {
    pub kid: String,
    pub alg: Algorithm,
    pub material: String,
    /// When it left the document (seconds since 1970), if it did.
    pub retired_at: Option<i64>,
}

/// One step of a sync; `import` is the document's key for added, revived and replaced keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStep {
    pub kid: String,
    pub action: SyncAction,
    pub import: Option<JwkImport>,
}

/// The steps that bring `installed` (the issuer's synced keys) to `document` at `now_unix`:
/// one per key of either, document keys first in document order, then the vanished keys in
/// installed order. Idempotent: planning again after applying yields only kept and retiring
/// steps (and removals once the grace period has passed).
pub fn plan_sync(
    installed: &[SyncedKey],
    document: &[JwkImport],
    now_unix: i64,
    grace_secs: i64,
) -> Vec<SyncStep> {
    let by_kid: HashMap<&str, &SyncedKey> = installed.iter().map(|k| (k.kid.as_str(), k)).collect();
    let mut steps = Vec::with_capacity(installed.len().saturating_add(document.len()));
    for import in document {
        let action = match by_kid.get(import.kid.as_str()) {
            None => SyncAction::Added,
            Some(key) if key.alg != import.alg || key.material != import.material => {
                SyncAction::Replaced
            }
            Some(key) if key.retired_at.is_some() => SyncAction::Revived,
            Some(_) => SyncAction::Kept,
        };
        steps.push(SyncStep {
            kid: import.kid.clone(),
            action,
            import: (action != SyncAction::Kept).then(|| import.clone()),
        });
    }
    for key in installed {
        if document.iter().any(|i| i.kid == key.kid) {
            continue;
        }
        let action = match key.retired_at {
            Some(retired) if now_unix.saturating_sub(retired) >= grace_secs => SyncAction::Removed,
            _ => SyncAction::Retiring,
        };
        steps.push(SyncStep {
            kid: key.kid.clone(),
            action,
            import: None,
        });
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import(kid: &str, alg: Algorithm, material: &str) -> JwkImport {
        JwkImport {
            kid: kid.into(),
            alg,
            material: material.into(),
        }
    }

    fn synced(kid: &str, material: &str, retired_at: Option<i64>) -> SyncedKey {
        SyncedKey {
            kid: kid.into(),
            alg: Algorithm::RS256,
            material: material.into(),
            retired_at,
        }
    }

    fn actions(steps: &[SyncStep]) -> Vec<(&str, SyncAction)> {
        steps.iter().map(|s| (s.kid.as_str(), s.action)).collect()
    }

    #[test]
    fn rotation_adds_the_new_key_and_retires_the_old_one() {
        let installed = [synced("a", "A", None)];
        let document = [import("b", Algorithm::RS256, "B")];
        let steps = plan_sync(&installed, &document, 1000, 86400);
        assert_eq!(
            actions(&steps),
            [("b", SyncAction::Added), ("a", SyncAction::Retiring)]
        );
    }

    #[test]
    fn a_retired_key_is_removed_only_after_the_grace_period() {
        let document = [import("b", Algorithm::RS256, "B")];
        let retired = [synced("a", "A", Some(1000)), synced("b", "B", None)];
        let within = plan_sync(&retired, &document, 1000 + 59, 60);
        assert_eq!(
            actions(&within),
            [("b", SyncAction::Kept), ("a", SyncAction::Retiring)]
        );
        let after = plan_sync(&retired, &document, 1000 + 60, 60);
        assert_eq!(
            actions(&after),
            [("b", SyncAction::Kept), ("a", SyncAction::Removed)]
        );
    }

    #[test]
    fn a_key_that_comes_back_is_revived() {
        let installed = [synced("a", "A", Some(5))];
        let steps = plan_sync(&installed, &[import("a", Algorithm::RS256, "A")], 10, 60);
        assert_eq!(actions(&steps), [("a", SyncAction::Revived)]);
    }

    #[test]
    fn another_algorithm_or_material_under_the_same_kid_is_a_replacement() {
        let installed = [synced("a", "A", None)];
        for doc in [
            import("a", Algorithm::ES256, "A"),
            import("a", Algorithm::RS256, "A2"),
        ] {
            let steps = plan_sync(&installed, std::slice::from_ref(&doc), 10, 60);
            assert_eq!(actions(&steps), [("a", SyncAction::Replaced)]);
            assert_eq!(steps[0].import.as_ref(), Some(&doc));
        }
    }

    #[test]
    fn unchanged_documents_keep_everything() {
        let installed = [synced("a", "A", None), synced("b", "B", None)];
        let document = [
            import("a", Algorithm::RS256, "A"),
            import("b", Algorithm::RS256, "B"),
        ];
        let steps = plan_sync(&installed, &document, 10, 60);
        assert!(steps
            .iter()
            .all(|s| s.action == SyncAction::Kept && s.import.is_none()));
    }
}
