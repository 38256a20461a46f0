//! The crate's one error type. The extension maps [`ErrorKind`] to a SQLSTATE and raises
//! `to_string()` as the message, [`CoreError::detail`] as DETAIL and [`CoreError::hint`] as HINT,
//! so the texts here are what users read: the seed's words where the seed has them.

use crate::algorithm::Algorithm;

/// The seed's detail for every slug refusal.
pub const SLUG_RULES_DETAIL: &str =
    "Tenant slug must contain only lowercase letters, numbers, and hyphens";

/// Longest piece of caller-supplied text (kid, alg, claim name...) quoted in a message, in chars.
const MAX_QUOTED_CHARS: usize = 64;

/// What kind of failure this is; one SQLSTATE per kind in the extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The token does not verify or its claims are not acceptable.
    TokenRejected,
    /// The call needs an authenticated subject and there is none.
    Unauthenticated,
    /// The subject may not act for this tenant.
    AccessDenied,
    /// A slug (X-Tenant header, `tenant` claim, admin input) breaks the slug rules.
    InvalidSlug,
    /// A tenant claim has a value that cannot name a tenant.
    InvalidTenantClaim,
    /// Any other bad argument (key material, registration fields, ...).
    InvalidArgument,
    /// Multi-tenant mode and nothing names a tenant.
    MissingTenant,
    /// A configured limit is reached.
    LimitExceeded,
    /// The feature is switched off by configuration.
    NotAvailable,
}

/// Why a token was refused. Each variant's message is precise on purpose: operators debug
/// token problems from these texts alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed: {0}")]
    Malformed(String),
    #[error("token is too large ({0} bytes; the limit is {limit})", limit = crate::limits::MAX_TOKEN_BYTES)]
    TooLarge(usize),
    #[error("unsigned tokens (alg \"none\") are not accepted")]
    Unsigned,
    #[error("unsupported token algorithm \"{}\"", quote(.0))]
    UnsupportedAlgorithm(String),
    #[error("token uses critical header extensions (\"crit\"), which are not supported")]
    CriticalHeader,
    #[error("no key with kid \"{}\"", quote(.0))]
    UnknownKid(String),
    #[error("no key installed for algorithm {}", .0.as_str())]
    NoKeyForAlgorithm(Algorithm),
    #[error(
        "token algorithm {} does not match key \"{}\" installed for {}",
        .token_alg.as_str(), quote(.kid), .key_alg.as_str()
    )]
    AlgorithmMismatch {
        token_alg: Algorithm,
        kid: String,
        key_alg: Algorithm,
    },
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not yet valid")]
    NotYetValid,
    #[error("token has no expiry (\"exp\") and one is required")]
    MissingExpiry,
    #[error("token issuer is not accepted")]
    BadIssuer,
    #[error("token audience is not accepted")]
    BadAudience,
    #[error("token has no subject")]
    NoSubject,
    #[error("token claims must be a JSON object")]
    ClaimsNotObject,
    #[error("token claim \"{}\" {reason}", quote(.claim))]
    InvalidClaim { claim: String, reason: String },
}

/// The crate's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("{message}")]
    Unauthenticated { message: String },
    #[error("{message}")]
    AccessDenied {
        message: String,
        detail: Option<String>,
    },
    /// The X-Tenant header breaks the slug rules; `problem` says which one (the hint).
    #[error("Invalid X-Tenant header format")]
    InvalidXTenant { problem: String },
    /// A slug from a claim or an admin breaks the slug rules.
    #[error("Invalid tenant slug")]
    InvalidSlug { problem: String },
    /// `claim` is None when the value was not read from a claim (e.g. normalize_slug called
    /// directly).
    #[error("{}", tenant_claim_message(.claim.as_deref()))]
    InvalidTenantClaim {
        claim: Option<String>,
        problem: String,
    },
    #[error("{message}")]
    InvalidArgument {
        message: String,
        detail: Option<String>,
        hint: Option<String>,
    },
    #[error("Missing X-Tenant header")]
    MissingTenant,
    #[error("Tenant limit reached")]
    LimitExceeded { owned: u32, max: u32 },
    #[error("{message}")]
    NotAvailable { message: String },
}

impl CoreError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CoreError::Token(_) => ErrorKind::TokenRejected,
            CoreError::Unauthenticated { .. } => ErrorKind::Unauthenticated,
            CoreError::AccessDenied { .. } => ErrorKind::AccessDenied,
            CoreError::InvalidXTenant { .. } | CoreError::InvalidSlug { .. } => {
                ErrorKind::InvalidSlug
            }
            CoreError::InvalidTenantClaim { .. } => ErrorKind::InvalidTenantClaim,
            CoreError::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            CoreError::MissingTenant => ErrorKind::MissingTenant,
            CoreError::LimitExceeded { .. } => ErrorKind::LimitExceeded,
            CoreError::NotAvailable { .. } => ErrorKind::NotAvailable,
        }
    }

    /// The second line (the seed's "detail").
    pub fn detail(&self) -> Option<String> {
        match self {
            CoreError::InvalidXTenant { .. } | CoreError::InvalidSlug { .. } => {
                Some(SLUG_RULES_DETAIL.to_owned())
            }
            CoreError::MissingTenant => Some(
                "X-Tenant header is required in multi-tenant mode for this endpoint".to_owned(),
            ),
            CoreError::AccessDenied { detail, .. } => detail.clone(),
            CoreError::InvalidTenantClaim { problem, .. } => Some(problem.clone()),
            CoreError::InvalidArgument { detail, .. } => detail.clone(),
            CoreError::LimitExceeded { owned, max } => Some(format!(
                "This user already owns {owned} tenant(s); the limit is {max}"
            )),
            CoreError::Token(_)
            | CoreError::Unauthenticated { .. }
            | CoreError::NotAvailable { .. } => None,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            CoreError::InvalidXTenant { problem } | CoreError::InvalidSlug { problem } => {
                Some(problem.clone())
            }
            CoreError::MissingTenant => Some(
                "Add an X-Tenant header or use a token whose claims name the tenant".to_owned(),
            ),
            CoreError::InvalidArgument { hint, .. } => hint.clone(),
            CoreError::Token(TokenError::UnknownKid(_) | TokenError::NoKeyForAlgorithm(_)) => Some(
                "Install the issuer's key first (boards_jwt_add_key or boards_jwt_import_jwks)"
                    .to_owned(),
            ),
            _ => None,
        }
    }

    /// The seed's tenant isolation refusal: `Access denied` / `User does not belong to tenant`.
    pub fn access_denied() -> Self {
        CoreError::AccessDenied {
            message: "Access denied".to_owned(),
            detail: Some("User does not belong to tenant".to_owned()),
        }
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        CoreError::Unauthenticated {
            message: message.into(),
        }
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        CoreError::InvalidArgument {
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    pub fn not_available(message: impl Into<String>) -> Self {
        CoreError::NotAvailable {
            message: message.into(),
        }
    }

    /// Adds (or replaces) the detail of an InvalidArgument; other kinds are returned unchanged.
    pub fn with_detail(self, text: impl Into<String>) -> Self {
        match self {
            CoreError::InvalidArgument { message, hint, .. } => CoreError::InvalidArgument {
                message,
                detail: Some(text.into()),
                hint,
            },
            other => other,
        }
    }

    /// Adds (or replaces) the hint of an InvalidArgument; other kinds are returned unchanged.
    pub fn with_hint(self, text: impl Into<String>) -> Self {
        match self {
            CoreError::InvalidArgument {
                message, detail, ..
            } => CoreError::InvalidArgument {
                message,
                detail,
                hint: Some(text.into()),
            },
            other => other,
        }
    }
}

fn tenant_claim_message(claim: Option<&str>) -> String {
    match claim {
        Some(name) => format!("Invalid tenant claim \"{}\"", quote(name)),
        None => "Invalid tenant claim".to_owned(),
    }
}

/// Makes caller-supplied text safe to put in a message: control characters, quotes and
/// backslashes escaped (a kid must not forge log lines), cut to 64 chars.
pub(crate) fn quote(text: &str) -> String {
    escape(text, MAX_QUOTED_CHARS, true)
}

/// Like [`quote`] for longer free text from parsers (serde messages can echo input), cut to
/// `max_chars`; quotes are left alone since the text is not put between quotes.
pub(crate) fn sanitize(text: &str, max_chars: usize) -> String {
    escape(text, max_chars, false)
}

fn escape(text: &str, max_chars: usize, escape_quotes: bool) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == max_chars {
            out.push('…');
            break;
        }
        if c.is_control() || (escape_quotes && (c == '"' || c == '\\')) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_texts_for_x_tenant_errors() {
        let e = CoreError::InvalidXTenant {
            problem: "x".into(),
        };
        assert_eq!(e.to_string(), "Invalid X-Tenant header format");
        assert_eq!(e.detail().as_deref(), Some(SLUG_RULES_DETAIL));
        assert_eq!(e.kind(), ErrorKind::InvalidSlug);

        let e = CoreError::MissingTenant;
        assert_eq!(e.to_string(), "Missing X-Tenant header");
        assert_eq!(
            e.detail().as_deref(),
            Some("X-Tenant header is required in multi-tenant mode for this endpoint")
        );
        assert_eq!(e.kind(), ErrorKind::MissingTenant);
    }

    #[test]
    fn access_denied_uses_the_seed_texts() {
        let e = CoreError::access_denied();
        assert_eq!(e.to_string(), "Access denied");
        assert_eq!(
            e.detail().as_deref(),
            Some("User does not belong to tenant")
        );
        assert_eq!(e.kind(), ErrorKind::AccessDenied);
    }

    #[test]
    fn invalid_slug_message_and_detail() {
        let e = CoreError::InvalidSlug {
            problem: "p".into(),
        };
        assert_eq!(e.to_string(), "Invalid tenant slug");
        assert_eq!(e.detail().as_deref(), Some(SLUG_RULES_DETAIL));
        assert_eq!(e.hint().as_deref(), Some("p"));
    }

    #[test]
    fn token_errors_have_their_own_messages() {
        let cases: Vec<(TokenError, &str)> = vec![
            (
                TokenError::TooLarge(70000),
                "token is too large (70000 bytes; the limit is 65536)",
            ),
            (
                TokenError::Unsigned,
                "unsigned tokens (alg \"none\") are not accepted",
            ),
            (
                TokenError::UnsupportedAlgorithm("XX1".into()),
                "unsupported token algorithm \"XX1\"",
            ),
            (
                TokenError::NoKeyForAlgorithm(Algorithm::RS256),
                "no key installed for algorithm RS256",
            ),
            (
                TokenError::AlgorithmMismatch {
                    token_alg: Algorithm::HS256,
                    kid: "k1".into(),
                    key_alg: Algorithm::RS256,
                },
                "token algorithm HS256 does not match key \"k1\" installed for RS256",
            ),
            (TokenError::BadSignature, "token signature is invalid"),
            (TokenError::Expired, "token has expired"),
            (TokenError::NotYetValid, "token is not yet valid"),
            (TokenError::BadIssuer, "token issuer is not accepted"),
            (TokenError::BadAudience, "token audience is not accepted"),
            (TokenError::NoSubject, "token has no subject"),
            (
                TokenError::ClaimsNotObject,
                "token claims must be a JSON object",
            ),
        ];
        for (err, text) in cases {
            let core = CoreError::from(err);
            assert_eq!(core.to_string(), text);
            assert_eq!(core.kind(), ErrorKind::TokenRejected);
        }
    }

    #[test]
    fn quoted_kid_escapes_control_chars_and_is_cut_at_64_chars() {
        let msg = TokenError::UnknownKid("a\nb\"c\u{1b}".into()).to_string();
        assert_eq!(msg, "no key with kid \"a\\nb\\\"c\\u{1b}\"");
        let long = "k".repeat(100);
        let msg = TokenError::UnknownKid(long).to_string();
        assert_eq!(msg, format!("no key with kid \"{}…\"", "k".repeat(64)));
    }

    #[test]
    fn limit_detail_names_the_numbers() {
        let e = CoreError::LimitExceeded { owned: 3, max: 3 };
        assert_eq!(e.to_string(), "Tenant limit reached");
        assert_eq!(
            e.detail().as_deref(),
            Some("This user already owns 3 tenant(s); the limit is 3")
        );
    }

    #[test]
    fn with_detail_and_hint_only_touch_invalid_argument() {
        let e = CoreError::invalid_argument("m")
            .with_detail("d")
            .with_hint("h");
        assert_eq!(e.detail().as_deref(), Some("d"));
        assert_eq!(e.hint().as_deref(), Some("h"));
        assert_eq!(
            CoreError::MissingTenant.with_detail("x"),
            CoreError::MissingTenant
        );
    }
}
