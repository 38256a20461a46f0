//! Pure logic of `boards_tenant`: JWT verification, claim-to-tenant resolution, slugs,
//! registration rules and the session context. No Postgres here, so all of it is unit- and
//! property-tested without a database. Nothing in this crate may panic on any input: a panic
//! inside a Postgres backend is an outage, so panicking constructs are denied outside tests.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::string_slice,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod algorithm;
pub mod audit;
pub mod bounded;
pub mod cache;
pub mod claims;
pub mod context;
pub mod error;
mod hmac_verifier;
mod json;
mod jwk;
pub mod jwks;
pub mod jwks_sync;
pub mod jwt;
mod key_material;
pub mod limits;
pub mod membership;
pub mod registration;
pub mod seal;
pub mod slug;
pub mod tenant_status;

pub use algorithm::{Algorithm, KeyFamily};
pub use cache::TokenCache;
pub use claims::{
    email_domain, organisation_email_domain, parse_domain_list, resolve, tenant_from_claims,
    ClaimTenant, Resolution, ResolveConfig, Source, TenantRef, DEFAULT_PUBLIC_EMAIL_DOMAINS,
};
pub use context::Context;
pub use error::{CoreError, ErrorKind, TokenError, SLUG_RULES_DETAIL};
pub use jwks::{parse_jwks, JwkImport};
pub use jwt::{
    check_claims, decode_header, fingerprint, may_join_tenant_created_at, verify, verify_signature,
    KeyBinding, KeyFormat, KeyId, TokenHeader, VerificationKey, VerifiedToken, VerifyOptions,
};
pub use limits::{MAX_CLAIMS_BYTES, MAX_SUBJECT_BYTES, MAX_TOKEN_BYTES};
pub use membership::{InvitationRefusal, MemberRole, MembershipRefusal};
pub use registration::{
    check_tenant_limit, registration_response, validate_registration, validate_tenant_name,
    RegistrationPolicy, RegistrationRequest, ValidatedRegistration,
};
pub use slug::{
    normalize_slug, slug_from_org_name, slug_with_suffix, validate_slug, validate_x_tenant,
    MAX_SLUG_LEN,
};
pub use tenant_status::TenantStatus;
