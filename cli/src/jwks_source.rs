//! Fetching a JWKS: from its URL, or through OpenID Connect discovery
//! (`ISSUER/.well-known/openid-configuration` names `jwks_uri` and the `issuer`, which must be
//! the URL asked, modulo a trailing slash). Only the bytes are fetched and checked for being
//! a JSON object here; the keys are validated by the database (`boards_jwt_sync_jwks`), in
//! the transaction that installs them.

use std::time::Duration;

use serde_json::Value;

use crate::error::CliError;

/// How long one request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The shortest and longest wait between two fetches with --watch.
pub const MAX_REFRESH: Duration = Duration::from_secs(24 * 3600);

/// What to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A JWKS URL, and the issuer its keys are bound to.
    Jwks { url: String, issuer: String },
    /// An OpenID Connect issuer.
    Discovery { issuer: String },
}

/// A fetched JWKS.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub document: Value,
    /// The issuer the keys are bound to.
    pub issuer: String,
    /// The JWKS response's `Cache-Control: max-age`, if any.
    pub max_age: Option<Duration>,
}

/// Key material travels over HTTPS: a JWKS over plain HTTP lets anyone on the path install
/// keys. Plain HTTP is accepted only to this machine (tests, a local sidecar).
pub fn check_url(url: &str) -> Result<(), CliError> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Ok(());
    }
    let local = ["http://localhost", "http://127.0.0.1", "http://[::1]"]
        .iter()
        .any(|prefix| {
            lower
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
        });
    if local {
        Ok(())
    } else {
        Err(CliError::new(format!("refusing to fetch keys from {url}"))
            .with_hint("use an https:// URL (plain http only for localhost)"))
    }
}

/// `max-age` of a Cache-Control header value (`no-cache`/`no-store` count as 0).
pub fn max_age(cache_control: &str) -> Option<Duration> {
    let mut found = None;
    for directive in cache_control.split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-cache" || directive == "no-store" {
            return Some(Duration::ZERO);
        }
        if let Some(value) = directive.strip_prefix("max-age=") {
            found = value
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    found
}

/// The wait before the next fetch after a success: the document's max-age, clamped.
pub fn refresh_after(max_age: Option<Duration>, min: Duration) -> Duration {
    max_age.unwrap_or(min).clamp(min, MAX_REFRESH.max(min))
}

/// The wait after `failures` consecutive failed cycles: doubling from `min`, capped at an
/// hour (or `min`, if larger), so a provider's outage is retried soon but not hammered.
pub fn backoff(failures: u32, min: Duration) -> Duration {
    let cap = Duration::from_secs(3600).max(min);
    let factor = 1u32
        .checked_shl(failures.saturating_sub(1).min(16))
        .unwrap_or(u32::MAX);
    min.saturating_mul(factor).min(cap)
}

/// Whether `found` is the issuer asked for, modulo a trailing slash.
pub fn same_issuer(asked: &str, found: &str) -> bool {
    asked.trim_end_matches('/') == found.trim_end_matches('/')
}

fn get(url: &str) -> Result<(Value, Option<Duration>), CliError> {
    check_url(url)?;
    let response = ureq::get(url)
        .timeout(REQUEST_TIMEOUT)
        .set("Accept", "application/json")
        .call()
        .map_err(|e| match e {
            ureq::Error::Status(code, _) => {
                CliError::new(format!("fetching {url}: the server answered HTTP {code}"))
            }
            other => CliError::new(format!("fetching {url}: {other}")),
        })?;
    let max_age = response.header("Cache-Control").and_then(max_age);
    let body = response
        .into_string()
        .map_err(|e| CliError::new(format!("reading {url}: {e}")))?;
    let document: Value = serde_json::from_str(&body)
        .map_err(|e| CliError::new(format!("{url} is not JSON: {e}")))?;
    if !document.is_object() {
        return Err(CliError::new(format!("{url} is not a JSON object")));
    }
    Ok((document, max_age))
}

pub fn fetch(source: &Source) -> Result<Fetched, CliError> {
    match source {
        Source::Jwks { url, issuer } => {
            let (document, max_age) = get(url)?;
            Ok(Fetched {
                document,
                issuer: issuer.clone(),
                max_age,
            })
        }
        Source::Discovery { issuer } => {
            let discovery_url = format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            );
            let (configuration, _) = get(&discovery_url)?;
            let found = configuration
                .get("issuer")
                .and_then(Value::as_str)
                .ok_or_else(|| CliError::new(format!("{discovery_url} names no issuer")))?;
            if !same_issuer(issuer, found) {
                return Err(CliError::new(format!(
                    "{discovery_url} is for issuer {found}, not {issuer}"
                )));
            }
            let jwks_uri = configuration
                .get("jwks_uri")
                .and_then(Value::as_str)
                .ok_or_else(|| CliError::new(format!("{discovery_url} names no jwks_uri")))?;
            let (document, max_age) = get(jwks_uri)?;
            Ok(Fetched {
                document,
                // Tokens carry the issuer exactly as the provider spells it.
                issuer: found.to_owned(),
                max_age,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_localhost() {
        for ok in [
            "https://idp.example/jwks",
            "http://localhost:8080/jwks",
            "http://127.0.0.1/x",
            "http://[::1]:1/x",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://idp.example/jwks",
            "http://localhost.evil.example/jwks",
            "ftp://x",
            "file:///etc/passwd",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(max_age("max-age=\"5\""), Some(Duration::from_secs(5)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }

    #[test]
    fn refresh_is_clamped() {
        let min = Duration::from_secs(60);
        assert_eq!(refresh_after(Some(Duration::from_secs(1)), min), min);
        assert_eq!(refresh_after(None, min), min);
        assert_eq!(
            refresh_after(Some(Duration::from_secs(900)), min),
            Duration::from_secs(900)
        );
        assert_eq!(
            refresh_after(Some(Duration::from_secs(u64::MAX)), min),
            MAX_REFRESH
        );
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let min = Duration::from_secs(60);
        assert_eq!(backoff(1, min), min);
        assert_eq!(backoff(2, min), Duration::from_secs(120));
        assert_eq!(backoff(3, min), Duration::from_secs(240));
        assert_eq!(backoff(100, min), Duration::from_secs(3600));
    }

    #[test]
    fn issuers_compare_modulo_a_trailing_slash() {
        assert!(same_issuer("https://a.example/", "https://a.example"));
        assert!(!same_issuer("https://a.example", "https://b.example"));
    }
}
