//! Which tenant a request is for, from verified claims and the X-Tenant header (DESIGN
//! section 4). Only names are resolved here; the extension looks the tenant up, checks
//! membership and compares the header with the claims' tenant.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::CoreError;
use crate::json::{is_empty_value, type_name};
use crate::slug::{normalize_slug, validate_slug, validate_x_tenant};

/// Big free-mail providers: an address there says nothing about the organisation.
pub const DEFAULT_PUBLIC_EMAIL_DOMAINS: &str = "gmail.com,googlemail.com,\
yahoo.com,yahoo.co.uk,yahoo.co.jp,yahoo.fr,yahoo.de,yahoo.es,yahoo.it,yahoo.ca,yahoo.com.au,\
yahoo.co.in,yahoo.com.br,ymail.com,rocketmail.com,\
outlook.com,hotmail.com,hotmail.co.uk,hotmail.fr,hotmail.de,hotmail.it,hotmail.es,live.com,\
msn.com,\
icloud.com,me.com,mac.com,\
proton.me,protonmail.com,protonmail.ch,pm.me,\
aol.com,gmx.com,gmx.de,gmx.net,web.de,mail.com,zoho.com,yandex.com,yandex.ru,mail.ru,\
qq.com,163.com,126.com,fastmail.com,tutanota.com,hey.com";

/// Second-level labels under which registrations happen (acme.co.uk, acme.com.au, ...).
const SECOND_LEVEL_LABELS: &[&str] = &["co", "com", "org", "net", "ac", "gov", "edu"];

const ORG_CLAIMS: &[&str] = &["org", "organization", "org_slug", "org_name"];
const NAMESPACE_CLAIMS: &[&str] = &["namespace", "group", "team", "workspace"];
const OBJECT_MEMBERS: &[&str] = &["slug", "id", "name"];

/// How a claim names a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TenantRef {
    Slug(String),
    Id(Uuid),
}

/// Which strategy chose the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    ClaimTenant,
    ClaimOrg,
    ClaimCustom,
    EmailDomain,
    ClaimNamespace,
    XTenant,
    Default,
}

impl Source {
    pub fn as_str(&self) -> &'static str {
        match self {
            Source::ClaimTenant => "claim:tenant",
            Source::ClaimOrg => "claim:org",
            Source::ClaimCustom => "claim:custom",
            Source::EmailDomain => "email_domain",
            Source::ClaimNamespace => "claim:namespace",
            Source::XTenant => "x_tenant",
            Source::Default => "default",
        }
    }
}

/// Settings that change resolution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolveConfig {
    pub multi_tenant_mode: bool,
    pub custom_claim: Option<String>,
    /// Lowercase domains (see [`parse_domain_list`]).
    pub public_email_domains: Vec<String>,
}

/// A tenant named by the claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimTenant {
    pub tenant: TenantRef,
    pub source: Source,
    /// The claim name used.
    pub claim: String,
}

/// The outcome of resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The claims name a tenant; `x_tenant` is the validated header when also given (the
    /// caller compares it with the claims' tenant after looking both up).
    Claims {
        claim: ClaimTenant,
        x_tenant: Option<String>,
    },
    /// Only the header names a tenant: membership required, never JIT.
    XTenant { slug: String },
    /// Single-tenant mode and nothing named: the `default` tenant.
    Default,
}

/// How a string claim is read.
#[derive(Clone, Copy)]
enum StringRule {
    /// Must already be a valid slug (`tenant`).
    Strict,
    /// Normalised (`org`, custom, `namespace`, ...).
    Normalize,
}

/// The tenant the claims name, trying the strategies in order; None when none yields one.
pub fn tenant_from_claims(
    claims: &Map<String, Value>,
    cfg: &ResolveConfig,
) -> Result<Option<ClaimTenant>, CoreError> {
    if let Some(found) = first_claim(claims, &["tenant"], Source::ClaimTenant, StringRule::Strict)?
    {
        return Ok(Some(found));
    }
    if let Some(found) = first_claim(claims, ORG_CLAIMS, Source::ClaimOrg, StringRule::Normalize)? {
        return Ok(Some(found));
    }
    if let Some(custom) = cfg.custom_claim.as_deref().filter(|c| !c.is_empty()) {
        if let Some(found) = first_claim(
            claims,
            &[custom],
            Source::ClaimCustom,
            StringRule::Normalize,
        )? {
            return Ok(Some(found));
        }
    }
    if cfg.multi_tenant_mode {
        if let Some(slug) = email_tenant(claims, &cfg.public_email_domains) {
            return Ok(Some(ClaimTenant {
                tenant: TenantRef::Slug(slug),
                source: Source::EmailDomain,
                claim: "email".to_owned(),
            }));
        }
    }
    first_claim(
        claims,
        NAMESPACE_CLAIMS,
        Source::ClaimNamespace,
        StringRule::Normalize,
    )
}

/// Resolves the request's tenant. The header is validated first, so a malformed X-Tenant is
/// an error even when the claims name a tenant.
pub fn resolve(
    claims: &Map<String, Value>,
    x_tenant: Option<&str>,
    cfg: &ResolveConfig,
) -> Result<Resolution, CoreError> {
    let x_tenant = x_tenant.map(validate_x_tenant).transpose()?;
    if let Some(claim) = tenant_from_claims(claims, cfg)? {
        return Ok(Resolution::Claims { claim, x_tenant });
    }
    match x_tenant {
        Some(slug) => Ok(Resolution::XTenant { slug }),
        None if !cfg.multi_tenant_mode => Ok(Resolution::Default),
        None => Err(CoreError::MissingTenant),
    }
}

/// The first of `names` whose value is not empty.
fn first_claim(
    claims: &Map<String, Value>,
    names: &[&str],
    source: Source,
    rule: StringRule,
) -> Result<Option<ClaimTenant>, CoreError> {
    for name in names {
        let Some(value) = claims.get(*name).filter(|v| !is_empty_value(v)) else {
            continue;
        };
        let tenant = claim_value(value, rule).map_err(|problem| problem.into_error(name))?;
        if let Some(tenant) = tenant {
            return Ok(Some(ClaimTenant {
                tenant,
                source,
                claim: (*name).to_owned(),
            }));
        }
    }
    Ok(None)
}

/// Why a claim value was refused, before the claim name is attached.
enum ClaimProblem {
    /// Breaks the strict slug rules (reported as `Invalid tenant slug`).
    Slug(CoreError),
    /// Anything else (reported as an invalid tenant claim).
    Value(String),
}

impl ClaimProblem {
    fn into_error(self, claim: &str) -> CoreError {
        match self {
            ClaimProblem::Slug(CoreError::InvalidSlug { problem }) => CoreError::InvalidSlug {
                problem: format!("claim \"{}\": {problem}", crate::error::quote(claim)),
            },
            ClaimProblem::Slug(other) => other,
            ClaimProblem::Value(problem) => CoreError::InvalidTenantClaim {
                claim: Some(claim.to_owned()),
                problem,
            },
        }
    }
}

/// Reads one non-empty claim value; Ok(None) for an object whose members are all empty.
fn claim_value(value: &Value, rule: StringRule) -> Result<Option<TenantRef>, ClaimProblem> {
    match value {
        Value::String(s) => string_value(s, rule).map(Some),
        Value::Object(obj) => {
            if !OBJECT_MEMBERS.iter().any(|m| obj.contains_key(*m)) {
                return Err(ClaimProblem::Value(
                    "A tenant object needs a \"slug\", \"id\" or \"name\" member".to_owned(),
                ));
            }
            let present = OBJECT_MEMBERS
                .iter()
                .find_map(|m| obj.get(*m).filter(|v| !is_empty_value(v)).map(|v| (*m, v)));
            match present {
                None => Ok(None),
                Some((member, Value::String(s))) => object_member(member, s).map(Some),
                Some((member, other)) => Err(ClaimProblem::Value(format!(
                    "The \"{member}\" member must be a string, not {}",
                    type_name(other)
                ))),
            }
        }
        other => Err(ClaimProblem::Value(format!(
            "A tenant claim must be a string or an object with slug, id or name, not {}",
            type_name(other)
        ))),
    }
}

fn string_value(s: &str, rule: StringRule) -> Result<TenantRef, ClaimProblem> {
    match rule {
        StringRule::Strict => strict_slug(s),
        StringRule::Normalize => normalized(s),
    }
}

fn object_member(member: &str, s: &str) -> Result<TenantRef, ClaimProblem> {
    match member {
        "slug" => strict_slug(s),
        "id" => Uuid::parse_str(s.trim())
            .map(TenantRef::Id)
            .map_err(|_| ClaimProblem::Value("The \"id\" member must be a UUID".to_owned())),
        _ => normalized(s),
    }
}

fn strict_slug(s: &str) -> Result<TenantRef, ClaimProblem> {
    validate_slug(s).map_err(ClaimProblem::Slug)?;
    Ok(TenantRef::Slug(s.to_owned()))
}

fn normalized(s: &str) -> Result<TenantRef, ClaimProblem> {
    match normalize_slug(s) {
        Ok(slug) => Ok(TenantRef::Slug(slug)),
        Err(CoreError::InvalidTenantClaim { problem, .. }) => Err(ClaimProblem::Value(problem)),
        Err(other) => Err(ClaimProblem::Slug(other)),
    }
}

/// The domain of the token's `email` when it can speak for an organisation: the address is
/// not marked unverified and is not at a public mail provider. Used to pick a tenant and to
/// decide which tenants a subject may join through its email domain.
pub fn organisation_email_domain(
    claims: &Map<String, Value>,
    public_domains: &[String],
) -> Option<String> {
    let unverified = match claims.get("email_verified") {
        Some(Value::Bool(false)) => true,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("false"),
        _ => false,
    };
    if unverified {
        return None;
    }
    let domain = email_domain(claims.get("email")?.as_str()?)?;
    let label = registrable_label(&domain)?;
    let is_public = public_domains.iter().any(|public| {
        // Subdomains of a public provider are public too; so is the same provider under
        // another TLD not in the list (yahoo.co.nz -> "yahoo").
        domain == *public
            || domain.ends_with(&format!(".{public}"))
            || registrable_label(public).is_some_and(|l| l == label)
    });
    (!is_public).then_some(domain)
}

/// The slug an `email` claim implies, or None when the strategy does not apply.
fn email_tenant(claims: &Map<String, Value>, public_domains: &[String]) -> Option<String> {
    let domain = organisation_email_domain(claims, public_domains)?;
    normalize_slug(&registrable_label(&domain)?).ok()
}

/// The label an organisation registered: drop the TLD, then a second-level label such as
/// "co" when more labels remain; the last label left. `acme-corp.com` -> `acme-corp`,
/// `eu.acme.co.uk` -> `acme`.
fn registrable_label(domain: &str) -> Option<String> {
    let mut labels: Vec<&str> = domain.split('.').collect();
    labels.pop()?;
    if labels.len() > 1
        && labels
            .last()
            .is_some_and(|l| SECOND_LEVEL_LABELS.contains(l))
    {
        labels.pop();
    }
    labels.last().map(|l| (*l).to_owned())
}

/// Splits on ',' and whitespace, lowercases, trims (also a trailing '.'), drops empties.
pub fn parse_domain_list(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect()
}

/// The domain of an address: after the last '@', lowercased, trailing '.' removed. None when
/// the address is malformed (no local part, whitespace or control characters, a domain that
/// is not dot-separated ASCII labels).
pub fn email_domain(email: &str) -> Option<String> {
    let (local, domain) = email.rsplit_once('@')?;
    if local.is_empty() || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let domain = domain
        .strip_suffix('.')
        .unwrap_or(domain)
        .to_ascii_lowercase();
    let labels_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if !labels_ok || !domain.contains('.') || domain.len() > 253 {
        return None;
    }
    Some(domain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn multi() -> ResolveConfig {
        ResolveConfig {
            multi_tenant_mode: true,
            custom_claim: None,
            public_email_domains: parse_domain_list(DEFAULT_PUBLIC_EMAIL_DOMAINS),
        }
    }

    fn slug_of(c: &Map<String, Value>, cfg: &ResolveConfig) -> Option<(String, Source, String)> {
        let found = tenant_from_claims(c, cfg).unwrap()?;
        match found.tenant {
            TenantRef::Slug(s) => Some((s, found.source, found.claim)),
            TenantRef::Id(_) => None,
        }
    }

    #[test]
    fn seed_strategy_1_tenant_claim() {
        let c = claims(json!({"sub":"user123","tenant":"acme-corp","email":"user@acme-corp.com"}));
        assert_eq!(
            slug_of(&c, &multi()),
            Some(("acme-corp".into(), Source::ClaimTenant, "tenant".into()))
        );
    }

    #[test]
    fn seed_strategy_2_org_claims_in_order() {
        let c = claims(
            json!({"sub":"u","org":"acme-corp","organization":"Acme Corporation","org_slug":"acme-corp"}),
        );
        assert_eq!(
            slug_of(&c, &multi()),
            Some(("acme-corp".into(), Source::ClaimOrg, "org".into()))
        );
        let c = claims(json!({"sub":"u","organization":"Acme Corporation"}));
        assert_eq!(
            slug_of(&c, &multi()).map(|t| t.0),
            Some("acme-corporation".into())
        );
        let c = claims(json!({"sub":"u","org_name":"Acme Corp"}));
        assert_eq!(slug_of(&c, &multi()).map(|t| t.2), Some("org_name".into()));
    }

    #[test]
    fn seed_strategy_3_custom_claim() {
        let cfg = ResolveConfig {
            custom_claim: Some("company".into()),
            ..multi()
        };
        let c = claims(json!({"sub":"user123","company":"acme-corp","email":"user@other.com"}));
        assert_eq!(
            slug_of(&c, &cfg),
            Some(("acme-corp".into(), Source::ClaimCustom, "company".into()))
        );
    }

    #[test]
    fn seed_strategy_4_email_domain() {
        let c = claims(json!({"sub":"user123","email":"user@acme-corp.com"}));
        assert_eq!(
            slug_of(&c, &multi()),
            Some(("acme-corp".into(), Source::EmailDomain, "email".into()))
        );
        let c = claims(json!({"sub":"u","email":"a@eu.acme.co.uk"}));
        assert_eq!(slug_of(&c, &multi()).map(|t| t.0), Some("acme".into()));
    }

    #[test]
    fn organisation_email_domain_is_the_verified_non_public_domain() {
        let public = parse_domain_list(DEFAULT_PUBLIC_EMAIL_DOMAINS);
        let domain = |v: Value| organisation_email_domain(&claims(v), &public);
        assert_eq!(
            domain(json!({"email": "Ann@Acme-Corp.com"})),
            Some("acme-corp.com".into())
        );
        assert_eq!(
            domain(json!({"email": "ann@acme.com", "email_verified": true})),
            Some("acme.com".into())
        );
        assert_eq!(
            domain(json!({"email": "ann@acme.com", "email_verified": false})),
            None
        );
        assert_eq!(
            domain(json!({"email": "ann@acme.com", "email_verified": "false"})),
            None
        );
        assert_eq!(domain(json!({"email": "ann@gmail.com"})), None);
        assert_eq!(domain(json!({"email": "ann@mail.yahoo.co.nz"})), None);
        assert_eq!(domain(json!({"email": "not an address"})), None);
        assert_eq!(domain(json!({"email": 7})), None);
        assert_eq!(domain(json!({})), None);
    }

    #[test]
    fn email_strategy_skips_public_unverified_malformed_and_single_tenant_mode() {
        for email in [
            "u@gmail.com",
            "u@GMAIL.COM",
            "u@mail.yahoo.com",
            "u@yahoo.co.nz",
        ] {
            let c = claims(json!({"sub":"u","email":email}));
            assert_eq!(slug_of(&c, &multi()), None, "{email}");
        }
        let c = claims(json!({"sub":"u","email":"u@acme.com","email_verified":false}));
        assert_eq!(slug_of(&c, &multi()), None);
        let c = claims(json!({"sub":"u","email":"u@acme.com","email_verified":"false"}));
        assert_eq!(slug_of(&c, &multi()), None);
        for bad in [
            "acme.com",
            "@acme.com",
            "u@acme",
            "u@ac me.com",
            "u@acme..com",
        ] {
            let c = claims(json!({"sub":"u","email":bad}));
            assert_eq!(slug_of(&c, &multi()), None, "{bad}");
        }
        let c = claims(json!({"sub":"u","email":"u@acme.com"}));
        let single = ResolveConfig {
            multi_tenant_mode: false,
            ..multi()
        };
        assert_eq!(slug_of(&c, &single), None);
        let c = claims(json!({"sub":"u","email":"u@acme.com","email_verified":true}));
        assert_eq!(slug_of(&c, &multi()).map(|t| t.0), Some("acme".into()));
    }

    #[test]
    fn strategy_5_namespace_claims() {
        let c = claims(json!({"sub":"u","team":"Blue Team","workspace":"ws"}));
        assert_eq!(
            slug_of(&c, &multi()),
            Some(("blue-team".into(), Source::ClaimNamespace, "team".into()))
        );
    }

    #[test]
    fn earlier_strategies_win() {
        let cfg = ResolveConfig {
            custom_claim: Some("company".into()),
            ..multi()
        };
        let c = claims(
            json!({"sub":"u","namespace":"ns","email":"u@mail-co.com","company":"co","org":"o","tenant":"t"}),
        );
        assert_eq!(slug_of(&c, &cfg).map(|t| t.0), Some("t".into()));
        let c = claims(
            json!({"sub":"u","namespace":"ns","email":"u@mail-co.com","company":"co","org":"o"}),
        );
        assert_eq!(slug_of(&c, &cfg).map(|t| t.0), Some("o".into()));
        let c = claims(json!({"sub":"u","namespace":"ns","email":"u@mail-co.com","company":"co"}));
        assert_eq!(slug_of(&c, &cfg).map(|t| t.0), Some("co".into()));
        let c = claims(json!({"sub":"u","namespace":"ns","email":"u@mail-co.com"}));
        assert_eq!(slug_of(&c, &cfg).map(|t| t.0), Some("mail-co".into()));
    }

    #[test]
    fn empty_values_fall_through() {
        let c = claims(
            json!({"sub":"u","tenant":null,"org":"","organization":{},"org_slug":false,"org_name":[],"team":"t"}),
        );
        assert_eq!(slug_of(&c, &multi()).map(|t| t.0), Some("t".into()));
        let c = claims(json!({"sub":"u","tenant":{"slug":null,"name":""},"team":"t"}));
        assert_eq!(slug_of(&c, &multi()).map(|t| t.0), Some("t".into()));
    }

    #[test]
    fn tenant_string_is_strict() {
        let c = claims(json!({"sub":"u","tenant":"Acme Corp"}));
        let err = tenant_from_claims(&c, &multi()).unwrap_err();
        assert_eq!(err.to_string(), "Invalid tenant slug");
        assert_eq!(err.kind(), ErrorKind::InvalidSlug);
        assert!(err.hint().unwrap().contains("claim \"tenant\""));
    }

    #[test]
    fn object_claims_use_slug_then_id_then_name() {
        let id = "550e8400-e29b-41d4-a716-446655440001";
        let c = claims(json!({"sub":"u","org":{"id":id,"name":"Acme"}}));
        let found = tenant_from_claims(&c, &multi()).unwrap().unwrap();
        assert_eq!(found.tenant, TenantRef::Id(Uuid::parse_str(id).unwrap()));
        let c = claims(json!({"sub":"u","org":{"slug":"acme","id":id}}));
        assert_eq!(slug_of(&c, &multi()).map(|t| t.0), Some("acme".into()));
        let c = claims(json!({"sub":"u","tenant":{"name":"Acme Inc"}}));
        assert_eq!(slug_of(&c, &multi()).map(|t| t.0), Some("acme-inc".into()));
        let c = claims(json!({"sub":"u","org":{"slug":"Not A Slug"}}));
        assert_eq!(
            tenant_from_claims(&c, &multi()).unwrap_err().kind(),
            ErrorKind::InvalidSlug
        );
        let c = claims(json!({"sub":"u","org":{"id":"nope"}}));
        assert_eq!(
            tenant_from_claims(&c, &multi()).unwrap_err().kind(),
            ErrorKind::InvalidTenantClaim
        );
    }

    #[test]
    fn wrong_types_are_errors_naming_the_claim() {
        for v in [
            json!(42),
            json!(true),
            json!(["a"]),
            json!({"foo":"bar"}),
            json!({"slug": 5}),
        ] {
            let c = claims(json!({"sub":"u","org": v}));
            let err = tenant_from_claims(&c, &multi()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidTenantClaim, "{v}");
            assert_eq!(err.to_string(), "Invalid tenant claim \"org\"");
        }
    }

    #[test]
    fn non_ascii_names_are_refused() {
        let c = claims(json!({"sub":"u","org":"\u{430}cme"}));
        let err = tenant_from_claims(&c, &multi()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidTenantClaim);
    }

    #[test]
    fn resolve_prefers_claims_and_keeps_the_header() {
        let c = claims(json!({"sub":"u","tenant":"acme"}));
        match resolve(&c, Some("other"), &multi()).unwrap() {
            Resolution::Claims { claim, x_tenant } => {
                assert_eq!(claim.tenant, TenantRef::Slug("acme".into()));
                assert_eq!(x_tenant.as_deref(), Some("other"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn resolve_uses_the_header_then_default_then_fails() {
        let c = claims(json!({"sub":"u"}));
        assert_eq!(
            resolve(&c, Some("acme"), &multi()).unwrap(),
            Resolution::XTenant {
                slug: "acme".into()
            }
        );
        let single = ResolveConfig::default();
        assert_eq!(resolve(&c, None, &single).unwrap(), Resolution::Default);
        assert_eq!(
            resolve(&c, None, &multi()).unwrap_err(),
            CoreError::MissingTenant
        );
    }

    #[test]
    fn a_bad_header_wins_even_when_claims_name_a_tenant() {
        let c = claims(json!({"sub":"u","tenant":"acme"}));
        let err = resolve(&c, Some("Acme!"), &multi()).unwrap_err();
        assert_eq!(err.to_string(), "Invalid X-Tenant header format");
    }

    #[test]
    fn domain_lists_parse() {
        assert_eq!(
            parse_domain_list(" Gmail.com, ,yahoo.com\nexample.org. "),
            vec!["gmail.com", "yahoo.com", "example.org"]
        );
        let defaults = parse_domain_list(DEFAULT_PUBLIC_EMAIL_DOMAINS);
        assert!(defaults.len() >= 40);
        assert!(defaults
            .iter()
            .all(|d| email_domain(&format!("u@{d}")).as_deref() == Some(d)));
    }

    #[test]
    fn email_domains() {
        assert_eq!(email_domain("User@Acme.COM.").as_deref(), Some("acme.com"));
        assert_eq!(
            email_domain("\"a@b\"@acme.com").as_deref(),
            Some("acme.com")
        );
        assert_eq!(email_domain("u@localhost"), None);
        assert_eq!(email_domain("u@acmé.com"), None);
    }

    #[test]
    fn registrable_labels() {
        assert_eq!(
            registrable_label("acme-corp.com").as_deref(),
            Some("acme-corp")
        );
        assert_eq!(registrable_label("eu.acme.co.uk").as_deref(), Some("acme"));
        assert_eq!(registrable_label("acme.co").as_deref(), Some("acme"));
        assert_eq!(registrable_label("com.au").as_deref(), Some("com"));
        assert_eq!(registrable_label("localhost"), None);
    }
}
