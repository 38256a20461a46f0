//! Self-service tenant registration: validating a request against the policy (the seed's
//! BOARDS_TENANT_REGISTRATION_* settings), the per-user tenant limit, and the response.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::{quote, CoreError};
use crate::slug::{slug_from_org_name, validate_slug};
use crate::tenant_status::TenantStatus;

const ORGANIZATION_SIZES: [&str; 4] = ["small", "medium", "large", "enterprise"];
const MAX_TENANT_NAME_CHARS: usize = 255;
/// RFC 5321's limit on a forward path.
const MAX_EMAIL_LEN: usize = 254;
const MAX_USE_CASE_CHARS: usize = 500;

/// What the caller asked for (the seed's POST /api/tenants/register body).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrationRequest {
    pub organization_name: String,
    pub admin_email: String,
    pub use_case: Option<String>,
    pub organization_size: Option<String>,
    pub organization_slug: Option<String>,
}

/// The settings registration obeys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrationPolicy {
    pub multi_tenant_mode: bool,
    pub requires_approval: bool,
    /// Lowercase domains; empty = any.
    pub allowed_domains: Vec<String>,
    pub max_tenants_per_user: Option<u32>,
}

/// A request that passed every rule, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedRegistration {
    pub organization_name: String,
    /// Lowercased.
    pub admin_email: String,
    pub use_case: Option<String>,
    /// Lowercased.
    pub organization_size: Option<String>,
    pub slug: String,
    /// True when the caller chose the slug (a taken slug is then an error, never a suffix).
    pub slug_was_requested: bool,
    /// "active" | "pending_approval"
    pub status: TenantStatus,
}

/// Checks a registration request. `token_email` / `token_email_verified` come from the
/// caller's verified token; with allowed domains set, they must prove an address in one.
pub fn validate_registration(
    req: &RegistrationRequest,
    policy: &RegistrationPolicy,
    token_email: Option<&str>,
    token_email_verified: Option<bool>,
) -> Result<ValidatedRegistration, CoreError> {
    if !policy.multi_tenant_mode {
        return Err(CoreError::not_available(
            "Tenant registration is only available in multi-tenant mode",
        ));
    }
    let organization_name = validate_tenant_name(&req.organization_name)?;
    let admin_email = validate_email(&req.admin_email)?;
    let organization_size = non_blank(req.organization_size.as_deref())
        .map(validate_organization_size)
        .transpose()?;
    let use_case = non_blank(req.use_case.as_deref())
        .map(validate_use_case)
        .transpose()?;
    let (slug, slug_was_requested) = match non_blank(req.organization_slug.as_deref()) {
        Some(requested) => {
            validate_slug(requested)?;
            (requested.to_owned(), true)
        }
        None => (slug_from_org_name(&organization_name)?, false),
    };
    check_allowed_domains(&admin_email, policy, token_email, token_email_verified)?;
    Ok(ValidatedRegistration {
        organization_name,
        admin_email,
        use_case,
        organization_size,
        slug,
        slug_was_requested,
        status: if policy.requires_approval {
            TenantStatus::PendingApproval
        } else {
            TenantStatus::Active
        },
    })
}

fn non_blank(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// `^[^@\s]+@[^@\s]+\.[^@\s]+$`, at most 254 chars, no control characters; lowercased.
fn validate_email(email: &str) -> Result<String, CoreError> {
    let email = email.trim();
    let invalid = || {
        CoreError::invalid_argument("Invalid admin email address")
            .with_detail("Use an address like admin@example.com")
    };
    if email.chars().count() > MAX_EMAIL_LEN
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    // A '.' with something on both sides somewhere in the domain.
    let dotted = domain
        .char_indices()
        .any(|(i, c)| c == '.' && i > 0 && i.saturating_add(1) < domain.len());
    if local.is_empty() || domain.contains('@') || !dotted {
        return Err(invalid());
    }
    Ok(email.to_lowercase())
}

fn validate_organization_size(size: &str) -> Result<String, CoreError> {
    let size = size.to_ascii_lowercase();
    if ORGANIZATION_SIZES.contains(&size.as_str()) {
        Ok(size)
    } else {
        Err(
            CoreError::invalid_argument(format!("Invalid organization size \"{}\"", quote(&size)))
                .with_detail("Use small, medium, large or enterprise"),
        )
    }
}

fn validate_use_case(use_case: &str) -> Result<String, CoreError> {
    let chars = use_case.chars().count();
    if chars > MAX_USE_CASE_CHARS {
        return Err(
            CoreError::invalid_argument("Use case is too long").with_detail(format!(
                "It has {chars} characters; the limit is {MAX_USE_CASE_CHARS}"
            )),
        );
    }
    Ok(use_case.to_owned())
}

fn domain_of(email: &str) -> String {
    email
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
        .unwrap_or_default()
}

/// With allowed domains set, both the admin address and the token's own verified address
/// must be in one: the token's address is what proves the caller works there.
fn check_allowed_domains(
    admin_email: &str,
    policy: &RegistrationPolicy,
    token_email: Option<&str>,
    token_email_verified: Option<bool>,
) -> Result<(), CoreError> {
    if policy.allowed_domains.is_empty() {
        return Ok(());
    }
    let allowed = |domain: &str| {
        policy
            .allowed_domains
            .iter()
            .any(|a| a.eq_ignore_ascii_case(domain))
    };
    let admin_domain = domain_of(admin_email);
    if !allowed(&admin_domain) {
        return Err(domain_not_allowed(
            &admin_domain,
            "The admin email must be in one of the allowed registration domains",
        ));
    }
    let Some(token_email) = token_email.map(str::trim).filter(|e| !e.is_empty()) else {
        return Err(CoreError::AccessDenied {
            message: "A verified email address is required for registration".to_owned(),
            detail: Some(
                "Registration is limited to allowed email domains, and the token carries no email"
                    .to_owned(),
            ),
        });
    };
    let token_domain = domain_of(token_email);
    if token_email_verified == Some(false) {
        return Err(domain_not_allowed(
            &token_domain,
            "The token's email address is not verified",
        ));
    }
    if !allowed(&token_domain) {
        return Err(domain_not_allowed(
            &token_domain,
            "The token's email must be in one of the allowed registration domains",
        ));
    }
    Ok(())
}

fn domain_not_allowed(domain: &str, detail: &str) -> CoreError {
    CoreError::AccessDenied {
        message: format!(
            "Email domain '{}' is not allowed for registration",
            quote(domain)
        ),
        detail: Some(detail.to_owned()),
    }
}

/// `owned` is how many tenants the caller already owns.
pub fn check_tenant_limit(owned: u32, policy: &RegistrationPolicy) -> Result<(), CoreError> {
    match policy.max_tenants_per_user {
        Some(max) if owned >= max => Err(CoreError::LimitExceeded { owned, max }),
        _ => Ok(()),
    }
}

/// The registration result, shaped like the seed's response.
pub fn registration_response(
    tenant_id: Uuid,
    slug: &str,
    organization_name: &str,
    status: TenantStatus,
    frontend_base_url: Option<&str>,
) -> Value {
    let dashboard_url = frontend_base_url
        .map(|base| base.trim().trim_end_matches('/'))
        .filter(|base| !base.is_empty())
        .map(|base| format!("{base}/?tenant={}", url_component(slug)));
    let tenant_header = format!("X-Tenant: {slug}");
    let next_steps: Vec<String> = if status == TenantStatus::PendingApproval {
        vec![
            "Wait for an administrator to approve your organization; the tenant cannot be used until then".to_owned(),
            format!("Once approved, send \"{tenant_header}\" with every API request"),
        ]
    } else {
        let mut steps = vec![format!(
            "Send \"{tenant_header}\" with every API request (or use a token whose claims name this tenant)"
        )];
        if let Some(url) = &dashboard_url {
            steps.push(format!("Open your dashboard: {url}"));
        }
        steps.push("Invite your team members".to_owned());
        steps.push("Create your first board".to_owned());
        steps
    };
    json!({
        "tenant_id": tenant_id.to_string(),
        "tenant_slug": slug,
        "organization_name": organization_name,
        "status": status.as_str(),
        "dashboard_url": dashboard_url,
        "api_access": {
            "tenant_header": tenant_header,
            "graphql_endpoint": "/graphql",
        },
        "next_steps": next_steps,
    })
}

/// Percent-encodes everything but slug characters (slugs need nothing; this keeps a bad
/// value from breaking the URL).
fn url_component(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Trimmed, 1..=255 chars, no control characters.
pub fn validate_tenant_name(name: &str) -> Result<String, CoreError> {
    let name = name.trim();
    let invalid =
        |detail: String| CoreError::invalid_argument("Invalid tenant name").with_detail(detail);
    if name.is_empty() {
        return Err(invalid("The name is empty".to_owned()));
    }
    let chars = name.chars().count();
    if chars > MAX_TENANT_NAME_CHARS {
        return Err(invalid(format!(
            "The name has {chars} characters; the limit is {MAX_TENANT_NAME_CHARS}"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("The name contains control characters".to_owned()));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn seed_request() -> RegistrationRequest {
        RegistrationRequest {
            organization_name: "New Startup Inc".into(),
            admin_email: "ceo@new-startup.com".into(),
            use_case: Some("AI content creation for marketing".into()),
            organization_size: Some("small".into()),
            organization_slug: None,
        }
    }

    fn open_policy() -> RegistrationPolicy {
        RegistrationPolicy {
            multi_tenant_mode: true,
            ..RegistrationPolicy::default()
        }
    }

    #[test]
    fn seed_example_registers_new_startup() {
        let v = validate_registration(&seed_request(), &open_policy(), None, None).unwrap();
        assert_eq!(v.slug, "new-startup");
        assert!(!v.slug_was_requested);
        assert_eq!(v.status, TenantStatus::Active);
        assert_eq!(v.organization_size.as_deref(), Some("small"));
    }

    #[test]
    fn only_in_multi_tenant_mode() {
        let err =
            validate_registration(&seed_request(), &RegistrationPolicy::default(), None, None)
                .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotAvailable);
        assert_eq!(
            err.to_string(),
            "Tenant registration is only available in multi-tenant mode"
        );
    }

    #[test]
    fn approval_makes_the_tenant_pending() {
        let policy = RegistrationPolicy {
            requires_approval: true,
            ..open_policy()
        };
        let v = validate_registration(&seed_request(), &policy, None, None).unwrap();
        assert_eq!(v.status, TenantStatus::PendingApproval);
    }

    #[test]
    fn normalises_email_and_size() {
        let req = RegistrationRequest {
            admin_email: " CEO@New-Startup.COM ".into(),
            organization_size: Some("Enterprise".into()),
            ..seed_request()
        };
        let v = validate_registration(&req, &open_policy(), None, None).unwrap();
        assert_eq!(v.admin_email, "ceo@new-startup.com");
        assert_eq!(v.organization_size.as_deref(), Some("enterprise"));
    }

    #[test]
    fn refuses_bad_fields() {
        let long_email = format!("{}@example.com", "a".repeat(250));
        let cases = vec![
            RegistrationRequest {
                organization_name: "  ".into(),
                ..seed_request()
            },
            RegistrationRequest {
                admin_email: "ceo".into(),
                ..seed_request()
            },
            RegistrationRequest {
                admin_email: "ceo@startup".into(),
                ..seed_request()
            },
            RegistrationRequest {
                admin_email: "ceo@.com".into(),
                ..seed_request()
            },
            RegistrationRequest {
                admin_email: "c eo@startup.com".into(),
                ..seed_request()
            },
            RegistrationRequest {
                admin_email: "a@b@startup.com".into(),
                ..seed_request()
            },
            RegistrationRequest {
                admin_email: long_email,
                ..seed_request()
            },
            RegistrationRequest {
                organization_size: Some("huge".into()),
                ..seed_request()
            },
            RegistrationRequest {
                use_case: Some("x".repeat(501)),
                ..seed_request()
            },
        ];
        for req in cases {
            let err = validate_registration(&req, &open_policy(), None, None).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{req:?}");
        }
        let ok = RegistrationRequest {
            use_case: Some("é".repeat(500)),
            ..seed_request()
        };
        assert!(validate_registration(&ok, &open_policy(), None, None).is_ok());
    }

    #[test]
    fn requested_slug_is_strict() {
        let req = RegistrationRequest {
            organization_slug: Some("my-org".into()),
            ..seed_request()
        };
        let v = validate_registration(&req, &open_policy(), None, None).unwrap();
        assert_eq!(v.slug, "my-org");
        assert!(v.slug_was_requested);
        let req = RegistrationRequest {
            organization_slug: Some("My Org".into()),
            ..seed_request()
        };
        let err = validate_registration(&req, &open_policy(), None, None).unwrap_err();
        assert_eq!(err.to_string(), "Invalid tenant slug");
    }

    #[test]
    fn allowed_domains_need_admin_and_verified_token_email_in_the_list() {
        let policy = RegistrationPolicy {
            allowed_domains: vec!["company1.com".into(), "new-startup.com".into()],
            ..open_policy()
        };
        let ok = validate_registration(
            &seed_request(),
            &policy,
            Some("me@New-Startup.com"),
            Some(true),
        );
        assert!(ok.is_ok());
        let ok = validate_registration(&seed_request(), &policy, Some("me@new-startup.com"), None);
        assert!(ok.is_ok());

        let req = RegistrationRequest {
            admin_email: "ceo@evil.com".into(),
            ..seed_request()
        };
        let err = validate_registration(&req, &policy, Some("me@new-startup.com"), Some(true))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Email domain 'evil.com' is not allowed for registration"
        );
        assert_eq!(err.kind(), ErrorKind::AccessDenied);

        let err = validate_registration(&seed_request(), &policy, Some("me@evil.com"), Some(true))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Email domain 'evil.com' is not allowed for registration"
        );

        let err = validate_registration(
            &seed_request(),
            &policy,
            Some("me@new-startup.com"),
            Some(false),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AccessDenied);

        let err = validate_registration(&seed_request(), &policy, None, None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AccessDenied);
    }

    #[test]
    fn tenant_limit() {
        let policy = RegistrationPolicy {
            max_tenants_per_user: Some(3),
            ..open_policy()
        };
        assert!(check_tenant_limit(2, &policy).is_ok());
        let err = check_tenant_limit(3, &policy).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded);
        assert_eq!(err.to_string(), "Tenant limit reached");
        assert!(check_tenant_limit(1000, &open_policy()).is_ok());
        let none = RegistrationPolicy {
            max_tenants_per_user: Some(0),
            ..open_policy()
        };
        assert!(check_tenant_limit(0, &none).is_err());
    }

    #[test]
    fn response_matches_the_seed() {
        let id = Uuid::parse_str("550e8400-e29b-41d4-a716-446655440001").unwrap();
        let r = registration_response(
            id,
            "new-startup",
            "New Startup Inc",
            TenantStatus::Active,
            Some("https://boards.example.com/"),
        );
        assert_eq!(r["tenant_id"], "550e8400-e29b-41d4-a716-446655440001");
        assert_eq!(r["tenant_slug"], "new-startup");
        assert_eq!(r["organization_name"], "New Startup Inc");
        assert_eq!(r["status"], "active");
        assert_eq!(
            r["dashboard_url"],
            "https://boards.example.com/?tenant=new-startup"
        );
        assert_eq!(r["api_access"]["tenant_header"], "X-Tenant: new-startup");
        assert_eq!(r["api_access"]["graphql_endpoint"], "/graphql");
        assert!(r["next_steps"].as_array().is_some_and(|s| !s.is_empty()));
    }

    #[test]
    fn response_without_base_url_has_null_dashboard_and_pending_steps_say_wait() {
        let r = registration_response(
            Uuid::nil(),
            "s",
            "S",
            TenantStatus::PendingApproval,
            Some(""),
        );
        assert_eq!(r["dashboard_url"], Value::Null);
        let r2 = registration_response(Uuid::nil(), "s", "S", TenantStatus::PendingApproval, None);
        assert_eq!(r2["dashboard_url"], Value::Null);
        let first = r["next_steps"][0].as_str().unwrap();
        assert!(first.contains("approve"), "{first}");
        let active = registration_response(Uuid::nil(), "s", "S", TenantStatus::Active, None);
        assert_ne!(active["next_steps"], r["next_steps"]);
    }

    #[test]
    fn dashboard_url_encodes_odd_slugs() {
        let r = registration_response(
            Uuid::nil(),
            "a&b",
            "S",
            TenantStatus::Active,
            Some("https://x"),
        );
        assert_eq!(r["dashboard_url"], "https://x/?tenant=a%26b");
    }

    #[test]
    fn tenant_names() {
        assert_eq!(validate_tenant_name("  Acme  ").unwrap(), "Acme");
        assert!(validate_tenant_name("").is_err());
        assert!(validate_tenant_name("a\u{0}b").is_err());
        assert!(validate_tenant_name(&"é".repeat(255)).is_ok());
        assert!(validate_tenant_name(&"é".repeat(256)).is_err());
    }
}
