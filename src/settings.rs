//! The `boards.*` settings (GUCs). Every one is superuser-only (`PGC_SUSET`): a setting that
//! changes how a tenant is chosen or checked is part of the security boundary, so the app role
//! can neither `SET` it, `set_config` it, nor pass it in the startup packet. The one exception
//! is `boards.sealed_context`, which anyone may set because nobody can forge what it holds
//! (`seal.rs`): a value whose MAC does not verify is no context.

use std::ffi::{CStr, CString};

use pgrx::{pg_sys, GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};

use boards_tenant_core::claims::DEFAULT_PUBLIC_EMAIL_DOMAINS;

/// Name of the setting that carries the session's tenant context (see `context.rs`).
pub const CONTEXT_SETTING: &CStr = c"boards.context";

static MULTI_TENANT_MODE: GucSetting<bool> = GucSetting::<bool>::new(false);
static JWT_TENANT_CLAIM: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static REGISTRATION_REQUIRES_APPROVAL: GucSetting<bool> = GucSetting::<bool>::new(false);
static REGISTRATION_ALLOWED_DOMAINS: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);
static MAX_TENANTS_PER_USER: GucSetting<i32> = GucSetting::<i32>::new(0);
static FRONTEND_BASE_URL: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static DEBUG: GucSetting<bool> = GucSetting::<bool>::new(false);
static LOG_LEVEL: GucSetting<LogLevel> = GucSetting::<LogLevel>::new(LogLevel::Info);
static JWT_ISSUER: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static JWT_AUDIENCE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static JWT_LEEWAY: GucSetting<i32> = GucSetting::<i32>::new(30);
static JWT_REQUIRE_EXP: GucSetting<bool> = GucSetting::<bool>::new(false);
static PUBLIC_EMAIL_DOMAINS: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static AUTO_PROTECT: GucSetting<bool> = GucSetting::<bool>::new(true);
static REQUIRE_LOCAL_CONTEXT: GucSetting<bool> = GucSetting::<bool>::new(false);
static CONTEXT: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Name of the setting a sealed context travels in (`seal.rs`).
pub const SEALED_CONTEXT_SETTING: &CStr = c"boards.sealed_context";
static SEALED_CONTEXT: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// The per-cluster secret that seals contexts; unset: nothing is sealed or unsealed.
static SEAL_SECRET: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// How long a sealed context lasts at most, in seconds (never beyond its token's `exp`).
static SEAL_LIFETIME: GucSetting<i32> = GucSetting::<i32>::new(300);
/// The byte budget of all the extension's per-backend caches together, in kB.
static CACHE_BUDGET_KB: GucSetting<i32> = GucSetting::<i32>::new(DEFAULT_CACHE_BUDGET_KB);
pub const DEFAULT_CACHE_BUDGET_KB: i32 = 16 * 1024;

/// `boards.cache_budget` in bytes. Shared out as: verified tokens 3/8, memberships 1/4,
/// tenants 1/8, keys 1/8, subject blocks 1/16, installed contexts 1/16 (README, "Settings").
pub fn cache_budget_bytes() -> usize {
    usize::try_from(CACHE_BUDGET_KB.get())
        .unwrap_or(0)
        .saturating_mul(1024)
}

/// Minimum level of the extension's own diagnostic messages while `boards.debug` is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, PostgresGucEnum)]
pub enum LogLevel {
    #[name = c"debug"]
    Debug,
    #[name = c"info"]
    Info,
    #[name = c"warning"]
    Warning,
    #[name = c"error"]
    Error,
}

fn bool_setting(
    name: &'static CStr,
    short: &'static CStr,
    long: &'static CStr,
    s: &'static GucSetting<bool>,
) {
    GucRegistry::define_bool_guc(name, short, long, s, GucContext::Suset, GucFlags::default());
}

fn string_setting(
    name: &'static CStr,
    short: &'static CStr,
    long: &'static CStr,
    s: &'static GucSetting<Option<CString>>,
    flags: GucFlags,
) {
    GucRegistry::define_string_guc(name, short, long, s, GucContext::Suset, flags);
}

fn int_setting(
    name: &'static CStr,
    short: &'static CStr,
    s: &'static GucSetting<i32>,
    (min, max): (i32, i32),
    flags: GucFlags,
) {
    GucRegistry::define_int_guc(name, short, c"", s, min, max, GucContext::Suset, flags);
}

/// Registers every setting. Called once per backend from `_PG_init`.
pub fn register() {
    let plain = GucFlags::default();
    bool_setting(
        c"boards.multi_tenant_mode",
        c"Require a tenant on every request (BOARDS_MULTI_TENANT_MODE).",
        c"Off: requests that name no tenant use the 'default' tenant. On: they are refused.",
        &MULTI_TENANT_MODE,
    );
    string_setting(
        c"boards.jwt_tenant_claim",
        c"Custom JWT claim that names the tenant (BOARDS_JWT_TENANT_CLAIM).",
        c"Consulted after the tenant and organisation claims, before the email domain.",
        &JWT_TENANT_CLAIM,
        plain,
    );
    bool_setting(
        c"boards.tenant_registration_requires_approval",
        c"New self-service tenants start as pending_approval.",
        c"A pending tenant cannot be used until boards_tenant_approve() activates it.",
        &REGISTRATION_REQUIRES_APPROVAL,
    );
    string_setting(
        c"boards.tenant_registration_allowed_domains",
        c"Comma-separated email domains allowed to self-register tenants; unset allows any.",
        c"Checked against admin_email and the token's verified email.",
        &REGISTRATION_ALLOWED_DOMAINS,
        plain,
    );
    int_setting(
        c"boards.max_tenants_per_user",
        c"How many tenants one subject may own through registration; 0 means unlimited.",
        &MAX_TENANTS_PER_USER,
        (0, 1_000_000),
        plain,
    );
    string_setting(
        c"boards.frontend_base_url",
        c"Base URL of the Boards frontend, for dashboard_url in registration responses.",
        c"",
        &FRONTEND_BASE_URL,
        plain,
    );
    bool_setting(
        c"boards.debug",
        c"Log how each request's tenant was resolved (BOARDS_DEBUG).",
        c"Messages go to the server log at LOG level, filtered by boards.log_level.",
        &DEBUG,
    );
    GucRegistry::define_enum_guc(
        c"boards.log_level",
        c"Minimum level of boards_tenant diagnostic messages (BOARDS_LOG_LEVEL).",
        c"",
        &LOG_LEVEL,
        GucContext::Suset,
        plain,
    );
    string_setting(
        c"boards.jwt_issuer",
        c"Accepted token issuers (iss), comma-separated; unset accepts any.",
        c"",
        &JWT_ISSUER,
        plain,
    );
    string_setting(
        c"boards.jwt_audience",
        c"Accepted token audiences (aud), comma-separated; unset accepts any.",
        c"",
        &JWT_AUDIENCE,
        plain,
    );
    int_setting(
        c"boards.jwt_leeway",
        c"Clock skew allowed when checking exp and nbf.",
        &JWT_LEEWAY,
        (0, 3600),
        GucFlags::UNIT_S,
    );
    bool_setting(
        c"boards.jwt_require_exp",
        c"Refuse tokens that carry no exp claim.",
        c"",
        &JWT_REQUIRE_EXP,
    );
    // The boot value must outlive the backend; the list itself lives in the core crate.
    let boot = CString::new(DEFAULT_PUBLIC_EMAIL_DOMAINS).unwrap_or_default();
    unsafe { *PUBLIC_EMAIL_DOMAINS.as_ptr() = boot.into_raw() };
    string_setting(
        c"boards.public_email_domains",
        c"Public mail domains never used to derive a tenant from an email address.",
        c"",
        &PUBLIC_EMAIL_DOMAINS,
        plain,
    );
    bool_setting(
        c"boards.auto_protect",
        c"Protect new tables that have a tenant_id uuid column automatically.",
        c"",
        &AUTO_PROTECT,
    );
    bool_setting(
        c"boards.require_local_context",
        c"Refuse session-scoped tenant contexts (is_local => false).",
        c"Turn on for roles that connect through a transaction-pooling PgBouncer.",
        &REQUIRE_LOCAL_CONTEXT,
    );
    GucRegistry::define_int_guc(
        c"boards.cache_budget",
        c"Memory budget of all boards_tenant caches of one backend together.",
        c"Verified tokens get half, memberships a quarter, tenants and keys an eighth each; a cache past its share restarts or evicts.",
        &CACHE_BUDGET_KB,
        64,
        1024 * 1024,
        GucContext::Suset,
        GucFlags::UNIT_KB,
    );
    string_setting(
        c"boards.seal_secret",
        c"Secret that seals tenant contexts for other backends (at least 32 bytes; the same on every node).",
        c"Unset: boards_context_seal() refuses and boards.sealed_context is ignored. Only superusers can read it.",
        &SEAL_SECRET,
        GucFlags::NO_SHOW_ALL | GucFlags::SUPERUSER_ONLY,
    );
    int_setting(
        c"boards.seal_lifetime",
        c"How long a sealed tenant context lasts at most (never beyond its token's exp).",
        &SEAL_LIFETIME,
        (1, 86_400),
        GucFlags::UNIT_S,
    );
    // The one setting the app role may set: what it holds must verify (seal.rs).
    GucRegistry::define_string_guc(
        SEALED_CONTEXT_SETTING,
        c"A sealed tenant context, as boards_context_seal() returned it (SET LOCAL it in another backend).",
        c"Only a value sealed with boards.seal_secret and not expired yields a context.",
        &SEALED_CONTEXT,
        GucContext::Userset,
        GucFlags::NO_SHOW_ALL | GucFlags::DISALLOW_IN_FILE | GucFlags::DISALLOW_IN_AUTO_FILE,
    );
    string_setting(
        CONTEXT_SETTING,
        c"The verified tenant context of this session (internal).",
        c"Written only by boards_set_tenant_from_jwt and friends; read through boards_current_*().",
        &CONTEXT,
        GucFlags::NO_SHOW_ALL | GucFlags::DISALLOW_IN_FILE | GucFlags::DISALLOW_IN_AUTO_FILE,
    );

    // Any other boards.* name is an error from now on, so nobody can park a look-alike
    // placeholder in the namespace (PostgreSQL 15+; older versions only warn about them).
    #[cfg(not(any(feature = "pg13", feature = "pg14")))]
    unsafe {
        pg_sys::MarkGUCPrefixReserved(c"boards".as_ptr())
    };
    #[cfg(any(feature = "pg13", feature = "pg14"))]
    unsafe {
        pg_sys::EmitWarningsOnPlaceholders(c"boards".as_ptr())
    };
}

/// A string setting as an owned Rust string; unset and empty are both `None`.
fn string(setting: &GucSetting<Option<CString>>) -> Option<String> {
    setting
        .get()
        .and_then(|c| c.into_string().ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// A comma-separated list setting.
fn list(setting: &GucSetting<Option<CString>>) -> Vec<String> {
    string(setting)
        .map(|s| boards_tenant_core::claims::parse_domain_list(&s))
        .unwrap_or_default()
}

/// A string setting's value borrowed from the GUC machinery, without a copy; `None` when unset
/// or empty. For the per-statement readers: the value stays valid until the setting changes,
/// so the caller uses it at once and keeps nothing of it but a copy.
fn borrowed<'a>(setting: &GucSetting<Option<CString>>) -> Option<&'a CStr> {
    // SAFETY: the GUC machinery owns the pointer and keeps it valid until the next change of
    // the setting; it is only read here and by the caller, at once.
    let raw = unsafe { *setting.as_ptr() };
    if raw.is_null() {
        return None;
    }
    let value = unsafe { CStr::from_ptr(raw) };
    (!value.is_empty()).then_some(value)
}

// ---- accessors: the only way the rest of the extension reads a setting ----

/// `boards.multi_tenant_mode`.
pub fn multi_tenant_mode() -> bool {
    MULTI_TENANT_MODE.get()
}

/// `boards.jwt_tenant_claim`: the custom claim that names the tenant, if any.
pub fn jwt_tenant_claim() -> Option<String> {
    string(&JWT_TENANT_CLAIM)
}

/// `boards.public_email_domains`, parsed.
pub fn public_email_domains() -> Vec<String> {
    list(&PUBLIC_EMAIL_DOMAINS)
}

/// The settings tenant resolution depends on, as set (for a cache keyed by them: comparing
/// these is cheaper than parsing the domain list again).
#[derive(PartialEq)]
pub struct ResolutionInputs {
    multi_tenant_mode: bool,
    custom_claim: Option<CString>,
    public_email_domains: Option<CString>,
}

pub fn resolution_inputs() -> ResolutionInputs {
    ResolutionInputs {
        multi_tenant_mode: MULTI_TENANT_MODE.get(),
        custom_claim: JWT_TENANT_CLAIM.get(),
        public_email_domains: PUBLIC_EMAIL_DOMAINS.get(),
    }
}

/// `boards.registration_requires_approval`.
pub fn registration_requires_approval() -> bool {
    REGISTRATION_REQUIRES_APPROVAL.get()
}

/// `boards.registration_allowed_domains`, parsed (empty: any domain).
pub fn registration_allowed_domains() -> Vec<String> {
    list(&REGISTRATION_ALLOWED_DOMAINS)
}

/// `boards.max_tenants_per_user` (0: no limit).
pub fn max_tenants_per_user() -> i32 {
    MAX_TENANTS_PER_USER.get()
}

/// `boards.frontend_base_url`, if set.
pub fn frontend_base_url() -> Option<String> {
    string(&FRONTEND_BASE_URL)
}

/// The level from which the extension's own diagnostics are logged: `None` while
/// `boards.debug` is off, else `boards.log_level`.
pub fn diagnostics_level() -> Option<LogLevel> {
    DEBUG.get().then(|| LOG_LEVEL.get())
}

/// `boards.jwt_issuer`, parsed: the issuers every token must name one of (empty: any).
pub fn jwt_issuers() -> Vec<String> {
    list(&JWT_ISSUER)
}

/// `boards.jwt_audience`, parsed.
pub fn jwt_audiences() -> Vec<String> {
    list(&JWT_AUDIENCE)
}

/// `boards.jwt_leeway` in seconds (a negative value counts as none).
pub fn jwt_leeway_secs() -> u64 {
    u64::try_from(JWT_LEEWAY.get()).unwrap_or(0)
}

/// `boards.jwt_require_exp`.
pub fn jwt_require_exp() -> bool {
    JWT_REQUIRE_EXP.get()
}

/// `boards.auto_protect`.
pub fn auto_protect() -> bool {
    AUTO_PROTECT.get()
}

/// `boards.require_local_context`.
pub fn require_local_context() -> bool {
    REQUIRE_LOCAL_CONTEXT.get()
}

/// `boards.context`, borrowed (see [`borrowed`]): read by every policy's context reader.
pub fn context_text<'a>() -> Option<&'a CStr> {
    borrowed(&CONTEXT)
}

/// `boards.sealed_context`, borrowed.
pub fn sealed_context_text<'a>() -> Option<&'a CStr> {
    borrowed(&SEALED_CONTEXT)
}

/// `boards.seal_secret`, borrowed: read once per sealed-context read.
pub fn seal_secret_text<'a>() -> Option<&'a CStr> {
    borrowed(&SEAL_SECRET)
}

/// `boards.seal_secret` as set, byte for byte; `None` when unset or empty.
pub fn seal_secret() -> Option<CString> {
    SEAL_SECRET.get().filter(|s| !s.is_empty())
}

/// `boards.seal_lifetime` in seconds.
pub fn seal_lifetime_secs() -> i64 {
    i64::from(SEAL_LIFETIME.get())
}

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn every_boards_setting_is_superuser_only() {
        let loose = Spi::get_one::<i64>(
            "SELECT count(*) FROM pg_settings WHERE name LIKE 'boards.%' AND context <> 'superuser'",
        )
        .unwrap();
        assert_eq!(loose, Some(0));
        let defined =
            Spi::get_one::<i64>("SELECT count(*) FROM pg_settings WHERE name LIKE 'boards.%'")
                .unwrap();
        // boards.context, boards.sealed_context and boards.seal_secret are hidden from
        // pg_settings (GUC_NO_SHOW_ALL).
        assert_eq!(defined, Some(17));
    }

    #[pg_test]
    fn the_public_domain_list_default_is_the_core_list() {
        let shown = Spi::get_one::<String>("SELECT current_setting('boards.public_email_domains')")
            .unwrap();
        assert_eq!(
            shown.as_deref(),
            Some(boards_tenant_core::claims::DEFAULT_PUBLIC_EMAIL_DOMAINS)
        );
    }
}
