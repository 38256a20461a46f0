//! Membership vocabulary and rules: the member roles, their order, and what an owner or admin
//! may do to other members of their own tenant (self-service membership, README "Members,
//! roles and invitations"). Also the invitation secret's encoding and digest: the secret is
//! handed out once, only its SHA-256 is stored.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::CoreError;

/// A member's role in a tenant, weakest first: the derived order is the privilege order
/// (`Owner > Admin > Member`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemberRole {
    Member,
    Admin,
    Owner,
}

impl MemberRole {
    pub const ALL: [MemberRole; 3] = [MemberRole::Owner, MemberRole::Admin, MemberRole::Member];

    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Owner => "owner",
            MemberRole::Admin => "admin",
            MemberRole::Member => "member",
        }
    }

    /// A role name as stored (exact spelling); `None` for anything else.
    pub fn from_stored(name: &str) -> Option<MemberRole> {
        MemberRole::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// A role name from a caller: case and surrounding blanks do not matter; anything but the
    /// three roles is 22023.
    pub fn parse(name: &str) -> Result<MemberRole, CoreError> {
        let wanted = name.trim();
        MemberRole::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| {
                CoreError::invalid_argument(format!(
                    "Invalid member role \"{}\"",
                    crate::error::quote(wanted)
                ))
                .with_detail("The role must be owner, admin or member")
            })
    }

    /// Whether this role may manage members and invitations of its tenant.
    pub fn manages_members(self) -> bool {
        self >= MemberRole::Admin
    }
}

impl fmt::Display for MemberRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an in-tenant membership change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MembershipRefusal {
    #[error("only an owner or admin of the tenant may manage its members and invitations")]
    NotAManager,
    #[error("a {actor} cannot grant the role {wanted}, which is above their own")]
    AboveOwnRole {
        actor: MemberRole,
        wanted: MemberRole,
    },
    #[error("a {actor} cannot change or remove a member whose role ({target}) is above their own")]
    TargetAboveOwnRole {
        actor: MemberRole,
        target: MemberRole,
    },
    #[error("this is the last owner of the tenant; make another member owner first")]
    LastOwner,
}

/// Why an invitation cannot be accepted (or managed). Each has its own SQLSTATE (README,
/// "Errors"); an unknown secret says nothing about any tenant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvitationRefusal {
    #[error("invitation not found")]
    Unknown,
    #[error("invitation has expired")]
    Expired,
    #[error("invitation was revoked")]
    Revoked,
    #[error("invitation was already used")]
    AlreadyUsed,
    #[error("invitation is for another email address than the token's")]
    EmailMismatch,
    #[error("the token's email address is not verified (email_verified is false)")]
    EmailUnverified,
}

/// A change of one member: to `Some(role)`, or removal (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberChange {
    pub actor: MemberRole,
    pub current: MemberRole,
    pub new: Option<MemberRole>,
    /// Owners of the tenant now, the target included.
    pub owners: u64,
}

/// May `actor` grant `wanted` (by invitation or role change)? Never above their own role.
pub fn may_grant(actor: MemberRole, wanted: MemberRole) -> Result<(), MembershipRefusal> {
    if !actor.manages_members() {
        return Err(MembershipRefusal::NotAManager);
    }
    if wanted > actor {
        return Err(MembershipRefusal::AboveOwnRole { actor, wanted });
    }
    Ok(())
}

/// May the change be made? The actor manages members, grants nothing above their own role,
/// touches nobody above it, and never leaves the tenant without an owner.
pub fn check_change(change: MemberChange) -> Result<(), MembershipRefusal> {
    let MemberChange {
        actor,
        current,
        new,
        owners,
    } = change;
    if !actor.manages_members() {
        return Err(MembershipRefusal::NotAManager);
    }
    if current > actor {
        return Err(MembershipRefusal::TargetAboveOwnRole {
            actor,
            target: current,
        });
    }
    if let Some(wanted) = new {
        may_grant(actor, wanted)?;
    }
    let loses_owner = current == MemberRole::Owner && new != Some(MemberRole::Owner);
    if loses_owner && owners <= 1 {
        return Err(MembershipRefusal::LastOwner);
    }
    Ok(())
}

/// Random bytes in an invitation secret: 256 bits, beyond guessing.
pub const SECRET_BYTES: usize = 32;
const SECRET_PREFIX: &str = "bti_";

/// The text handed to the invitee: a recognisable prefix and the random bytes, base64url.
pub fn encode_secret(random: &[u8; SECRET_BYTES]) -> String {
    format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(random))
}

/// The stored digest of a secret: SHA-256 of its text. `None` when the text cannot be a secret
/// (wrong prefix or length): such a text is answered exactly like an unknown secret.
pub fn secret_digest(secret: &str) -> Option<[u8; 32]> {
    let body = secret.trim().strip_prefix(SECRET_PREFIX)?;
    let decoded = URL_SAFE_NO_PAD.decode(body).ok()?;
    if decoded.len() != SECRET_BYTES {
        return None;
    }
    Some(Sha256::digest(secret.trim().as_bytes()).into())
}

/// An invitee's address as stored and compared: trimmed, lower case; it must look like one.
pub fn normalize_email(email: &str) -> Result<String, CoreError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 320
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(email)
    } else {
        Err(CoreError::invalid_argument(format!(
            "\"{}\" is not an email address",
            crate::error::quote(&email)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use MemberRole::*;

    #[test]
    fn roles_are_ordered_by_privilege() {
        assert!(Owner > Admin && Admin > Member);
        assert_eq!(MemberRole::parse(" Admin ").unwrap(), Admin);
        assert_eq!(MemberRole::parse("owner").unwrap(), Owner);
        assert!(MemberRole::parse("root").is_err());
        assert_eq!(MemberRole::from_stored("owner"), Some(Owner));
        assert_eq!(MemberRole::from_stored("Owner"), None);
    }

    #[test]
    fn nobody_grants_above_their_own_role() {
        assert_eq!(
            may_grant(Member, Member),
            Err(MembershipRefusal::NotAManager)
        );
        assert!(may_grant(Admin, Admin).is_ok());
        assert!(matches!(
            may_grant(Admin, Owner),
            Err(MembershipRefusal::AboveOwnRole { .. })
        ));
        assert!(may_grant(Owner, Owner).is_ok());
    }

    #[test]
    fn the_last_owner_stays() {
        let demote = MemberChange {
            actor: Owner,
            current: Owner,
            new: Some(Admin),
            owners: 1,
        };
        assert_eq!(check_change(demote), Err(MembershipRefusal::LastOwner));
        assert_eq!(
            check_change(MemberChange {
                new: None,
                ..demote
            }),
            Err(MembershipRefusal::LastOwner)
        );
        assert!(check_change(MemberChange {
            owners: 2,
            ..demote
        })
        .is_ok());
    }

    #[test]
    fn an_admin_cannot_touch_an_owner() {
        let change = MemberChange {
            actor: Admin,
            current: Owner,
            new: None,
            owners: 3,
        };
        assert!(matches!(
            check_change(change),
            Err(MembershipRefusal::TargetAboveOwnRole { .. })
        ));
    }

    #[test]
    fn secrets_round_trip_and_garbage_has_no_digest() {
        let secret = encode_secret(&[7; SECRET_BYTES]);
        assert!(secret.starts_with("bti_"));
        assert!(secret_digest(&secret).is_some());
        assert_ne!(
            secret_digest(&secret),
            secret_digest(&encode_secret(&[8; SECRET_BYTES]))
        );
        assert_eq!(secret_digest("bti_short"), None);
        assert_eq!(secret_digest("guess"), None);
    }

    #[test]
    fn emails_are_normalized() {
        assert_eq!(
            normalize_email(" Rita@Acme.Example ").unwrap(),
            "rita@acme.example"
        );
        assert!(normalize_email("rita").is_err());
        assert!(normalize_email("@acme.example").is_err());
        assert!(normalize_email("a b@acme.example").is_err());
    }

    fn role() -> impl Strategy<Value = MemberRole> {
        prop_oneof![Just(Owner), Just(Admin), Just(Member)]
    }

    proptest! {
        /// Whatever the change, an allowed one never leaves zero owners and never raises
        /// anyone above the actor.
        #[test]
        fn allowed_changes_keep_an_owner_and_stay_below_the_actor(
            actor in role(), current in role(), new in proptest::option::of(role()), owners in 0u64..4
        ) {
            let owners = if current == Owner { owners.max(1) } else { owners };
            if check_change(MemberChange { actor, current, new, owners }).is_ok() {
                prop_assert!(actor.manages_members());
                prop_assert!(current <= actor);
                prop_assert!(new.is_none_or(|n| n <= actor));
                let after = owners - u64::from(current == Owner) + u64::from(new == Some(Owner));
                prop_assert!(after >= 1 || owners == 0);
            }
        }
    }
}
