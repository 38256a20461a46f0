//! The lifecycle states of a tenant: the vocabulary of `boards.tenants.status` (its check
//! constraint lists exactly `TenantStatus::ALL`, proven by `tests/tests/foundation.rs`).

use std::fmt;
use std::str::FromStr;

use crate::error::{quote, CoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TenantStatus {
    /// Requests may act for the tenant.
    Active,
    /// Registered, waiting for `boards_tenant_approve()`.
    PendingApproval,
    /// Stopped by an administrator; its data stays.
    Suspended,
}

impl TenantStatus {
    pub const ALL: [TenantStatus; 3] = [
        TenantStatus::Active,
        TenantStatus::PendingApproval,
        TenantStatus::Suspended,
    ];

    /// The spelling stored in `boards.tenants.status`.
    pub fn as_str(&self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::PendingApproval => "pending_approval",
            TenantStatus::Suspended => "suspended",
        }
    }
}

impl fmt::Display for TenantStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TenantStatus {
    type Err = CoreError;

    /// Exact stored spellings only (22023 otherwise).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TenantStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                CoreError::invalid_argument(format!("Invalid tenant status \"{}\"", quote(s)))
                    .with_detail("The status must be active, pending_approval or suspended")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn statuses_round_trip() {
        for status in TenantStatus::ALL {
            assert_eq!(status.as_str().parse::<TenantStatus>().unwrap(), status);
            assert_eq!(status.to_string(), status.as_str());
        }
    }

    #[test]
    fn unknown_or_misspelt_statuses_are_invalid_arguments() {
        for s in ["deleted", "Active", "active ", "pending", ""] {
            let err = s.parse::<TenantStatus>().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{s:?}");
        }
    }

    #[test]
    fn the_detail_lists_every_status() {
        let err = "x".parse::<TenantStatus>().unwrap_err();
        let detail = err.detail().unwrap_or_default();
        for status in TenantStatus::ALL {
            assert!(detail.contains(status.as_str()), "{detail}");
        }
    }
}
