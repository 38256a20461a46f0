//! Tenant slugs: the strict rules (`^[a-z0-9-]+$`, 1..=63, no '-' at either end) and the
//! ways other text becomes a slug.

use crate::error::CoreError;

/// 63 so a slug fits a DNS label and a Postgres identifier.
pub const MAX_SLUG_LEN: usize = 63;

/// Trailing words of an organisation name that say only what legal form it has.
const LEGAL_FORMS: &[&str] = &[
    "inc",
    "incorporated",
    "llc",
    "ltd",
    "limited",
    "plc",
    "gmbh",
    "ag",
    "sa",
    "sas",
    "bv",
    "nv",
    "pty",
    "pte",
    "srl",
    "oy",
    "ab",
    "kk",
];

/// Why `s` is not a valid slug, or None when it is.
fn slug_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("The slug is empty".to_owned());
    }
    if s.len() > MAX_SLUG_LEN {
        return Some(format!(
            "The slug is {} bytes long; the limit is {MAX_SLUG_LEN}",
            s.len()
        ));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Some("Use only a-z, 0-9 and '-'".to_owned());
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Some("A slug cannot start or end with '-'".to_owned());
    }
    None
}

/// Strict check for slugs given by claims and admins.
pub fn validate_slug(s: &str) -> Result<(), CoreError> {
    match slug_problem(s) {
        None => Ok(()),
        Some(problem) => Err(CoreError::InvalidSlug { problem }),
    }
}

/// Strict check of the X-Tenant header: no trimming, no lowercasing, so one tenant has
/// exactly one spelling. Returns the slug.
pub fn validate_x_tenant(s: &str) -> Result<String, CoreError> {
    match slug_problem(s) {
        None => Ok(s.to_owned()),
        Some(problem) => Err(CoreError::InvalidXTenant { problem }),
    }
}

/// Turns a claim value or name into a slug. Any non-ASCII character is refused: look-alike
/// letters (Cyrillic 'а' for 'a', ...) must never map onto another tenant's slug.
pub fn normalize_slug(value: &str) -> Result<String, CoreError> {
    let trimmed = value.trim();
    if !trimmed.is_ascii() {
        return Err(CoreError::InvalidTenantClaim {
            claim: None,
            problem: "Tenant names must be ASCII; look-alike letters could name another tenant"
                .to_owned(),
        });
    }
    slugify(trimmed.chars()).ok_or_else(|| CoreError::InvalidTenantClaim {
        claim: None,
        problem: "The value has no letters or digits to make a tenant slug from".to_owned(),
    })
}

/// A slug for a new organisation: drops trailing legal-form words ("New Startup Inc" ->
/// "new-startup"); non-ASCII letters act as separators, since a name is not an identity claim.
pub fn slug_from_org_name(name: &str) -> Result<String, CoreError> {
    let mut words: Vec<&str> = name
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    // Keep at least one word: an organisation called "Limited" still gets a slug.
    while words.len() > 1 && words.last().is_some_and(|w| is_legal_form(w)) {
        words.pop();
    }
    let joined = words.join(" ");
    slugify(joined.chars()).ok_or_else(|| {
        CoreError::invalid_argument("Cannot derive a tenant slug from the organization name")
            .with_detail("The name has no ASCII letters or digits")
            .with_hint("Pass organization_slug explicitly")
    })
}

/// `base-n` for the n-th registration of the same name (n >= 2), the base cut so the whole
/// stays within 63 chars. A base that is not a slug is slugified first (empty -> "tenant"),
/// so the result is always a valid slug.
pub fn slug_with_suffix(base: &str, n: u32) -> String {
    let base = match slug_problem(base) {
        None => base.to_owned(),
        Some(_) => slugify(base.chars()).unwrap_or_else(|| "tenant".to_owned()),
    };
    if n < 2 {
        return base;
    }
    let suffix = format!("-{n}");
    let room = MAX_SLUG_LEN.saturating_sub(suffix.len());
    // base is ASCII here, so a byte count is a char count.
    let cut: String = base.chars().take(room).collect();
    format!("{}{suffix}", cut.trim_end_matches('-'))
}

/// Compared on letters and digits only, so "L.L.C.", "(Pty)" and "Inc," match too.
fn is_legal_form(word: &str) -> bool {
    let bare: String = word
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    LEGAL_FORMS.contains(&bare.as_str())
}

/// Shared core of the normalisers: ASCII letters and digits are kept (lowercased), every run of
/// anything else becomes one '-', '-' is trimmed from both ends, and the result is cut to 63.
/// None when nothing is left.
fn slugify(chars: impl Iterator<Item = char>) -> Option<String> {
    let mut out = String::new();
    let mut pending_dash = false;
    for c in chars {
        if c.is_ascii_alphanumeric() {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending_dash = true;
        }
        if out.len() >= MAX_SLUG_LEN {
            break;
        }
    }
    let cut: String = out.chars().take(MAX_SLUG_LEN).collect();
    let slug = cut.trim_end_matches('-');
    (!slug.is_empty()).then(|| slug.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn accepts_valid_slugs() {
        for s in ["a", "acme-corp", "0", "a-b-c", "x1", &"a".repeat(63)] {
            assert_eq!(validate_slug(s), Ok(()), "{s}");
        }
    }

    #[test]
    fn refuses_invalid_slugs() {
        for s in [
            "",
            "Acme",
            "acme corp",
            "-acme",
            "acme-",
            "-",
            "acme_corp",
            "ａcme",
            "acme\n",
            &"a".repeat(64),
        ] {
            let e = validate_slug(s).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidSlug, "{s:?}");
            assert_eq!(e.to_string(), "Invalid tenant slug");
        }
    }

    #[test]
    fn x_tenant_is_strict_and_uses_the_seed_message() {
        assert_eq!(validate_x_tenant("acme-corp").unwrap(), "acme-corp");
        for s in [" acme", "ACME", "acme.com", ""] {
            let e = validate_x_tenant(s).unwrap_err();
            assert_eq!(e.to_string(), "Invalid X-Tenant header format");
            assert_eq!(
                e.detail().as_deref(),
                Some("Tenant slug must contain only lowercase letters, numbers, and hyphens")
            );
        }
    }

    #[test]
    fn normalize_lowercases_and_collapses_separators() {
        assert_eq!(normalize_slug("  Acme Corp  ").unwrap(), "acme-corp");
        assert_eq!(normalize_slug("Acme__Corp!!").unwrap(), "acme-corp");
        assert_eq!(normalize_slug("--acme--").unwrap(), "acme");
        assert_eq!(
            normalize_slug("acme.example.com").unwrap(),
            "acme-example-com"
        );
    }

    #[test]
    fn normalize_refuses_non_ascii_look_alikes() {
        // Cyrillic 'а' would otherwise become "acme" or "cme".
        let e = normalize_slug("\u{430}cme").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidTenantClaim);
        assert!(normalize_slug("acmé").is_err());
    }

    #[test]
    fn normalize_refuses_values_without_letters_or_digits() {
        for s in ["", "   ", "!!!", "---"] {
            assert_eq!(
                normalize_slug(s).unwrap_err().kind(),
                ErrorKind::InvalidTenantClaim
            );
        }
    }

    #[test]
    fn normalize_cuts_at_63_and_trims_the_trailing_dash() {
        let long = format!("{}-{}", "a".repeat(62), "b".repeat(10));
        assert_eq!(normalize_slug(&long).unwrap(), "a".repeat(62));
        assert_eq!(normalize_slug(&"b".repeat(100)).unwrap(), "b".repeat(63));
    }

    #[test]
    fn org_name_drops_trailing_legal_forms() {
        assert_eq!(
            slug_from_org_name("New Startup Inc").unwrap(),
            "new-startup"
        );
        assert_eq!(slug_from_org_name("Acme, Inc.").unwrap(), "acme");
        assert_eq!(slug_from_org_name("Foo Pty Ltd").unwrap(), "foo");
        assert_eq!(slug_from_org_name("Bar L.L.C.").unwrap(), "bar");
        assert_eq!(slug_from_org_name("Baz S.A.").unwrap(), "baz");
        assert_eq!(slug_from_org_name("Qux GmbH").unwrap(), "qux");
        assert_eq!(slug_from_org_name("Quux (Pty) Ltd").unwrap(), "quux");
    }

    #[test]
    fn org_name_keeps_corp_and_co_and_a_lone_legal_word() {
        assert_eq!(slug_from_org_name("Acme Corp").unwrap(), "acme-corp");
        assert_eq!(slug_from_org_name("Acme Co").unwrap(), "acme-co");
        assert_eq!(slug_from_org_name("Limited").unwrap(), "limited");
        // Only trailing words are legal forms.
        assert_eq!(slug_from_org_name("Inc Magazine").unwrap(), "inc-magazine");
    }

    #[test]
    fn org_name_drops_non_ascii_letters_as_separators() {
        assert_eq!(slug_from_org_name("Café Müller").unwrap(), "caf-m-ller");
        let e = slug_from_org_name("株式会社").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn suffix_appends_and_keeps_within_63() {
        assert_eq!(slug_with_suffix("acme", 2), "acme-2");
        assert_eq!(slug_with_suffix("acme", 1), "acme");
        let long = "a".repeat(63);
        let s = slug_with_suffix(&long, 12345);
        assert_eq!(s.len(), 63);
        assert!(s.ends_with("-12345"));
        // The cut lands just after a '-', which must not end up doubled before the suffix.
        let dashy = format!("{}-{}", "a".repeat(58), "b".repeat(4));
        assert_eq!(
            slug_with_suffix(&dashy, 100),
            format!("{}-100", "a".repeat(58))
        );
    }

    #[test]
    fn suffix_slugifies_a_bad_base() {
        assert_eq!(slug_with_suffix("Acme Corp", 3), "acme-corp-3");
        assert_eq!(slug_with_suffix("", 3), "tenant-3");
        assert_eq!(slug_with_suffix("ß", 0), "tenant");
    }
}
