//! The session's tenant context, serialised into the one setting the extension keeps it in.
//! Compact JSON with a version number, so a later release can read (or refuse) what an
//! earlier one wrote.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::CoreError;
use crate::json;

/// The format written by this release.
const CONTEXT_VERSION: u32 = 1;

/// Who is acting and for which tenant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    pub tenant_id: Option<Uuid>,
    pub tenant_slug: Option<String>,
    pub user_id: Option<Uuid>,
    pub subject: Option<String>,
    pub source: Option<String>,
    /// The key that verified the token behind the context (`KeyId::encode`: issuer and kid):
    /// the context lasts only while that key stays installed.
    pub kid: Option<String>,
    /// Shared with the verified token it came from: a repeated token's context is built
    /// without copying them, and compared with the cached one by pointer first.
    pub claims: Arc<Map<String, Value>>,
}

/// The wire form; unknown members are refused, so a context cannot carry more than its
/// reader understands.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant_slug: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(default)]
    claims: Map<String, Value>,
}

/// [`Wire`] borrowing the context's fields, for encoding: the same document (field for field,
/// in the same order, with the same omissions), without copying the claims first. A fresh
/// token's context is encoded once per call; the copy was a third of that cost.
#[derive(Serialize)]
struct WireRef<'a> {
    v: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_slug: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
    claims: &'a Map<String, Value>,
}

impl Context {
    pub fn encode(&self) -> String {
        let wire = WireRef {
            v: CONTEXT_VERSION,
            tenant_id: self.tenant_id,
            tenant_slug: self.tenant_slug.as_deref(),
            user_id: self.user_id,
            subject: self.subject.as_deref(),
            source: self.source.as_deref(),
            kid: self.kid.as_deref(),
            claims: &self.claims,
        };
        // Serialising this struct cannot fail (string keys, no custom serializers); should it
        // ever, an empty string decodes as an error, which fails closed.
        serde_json::to_string(&wire).unwrap_or_default()
    }

    pub fn decode(s: &str) -> Result<Context, CoreError> {
        let invalid =
            |why: String| CoreError::invalid_argument("invalid tenant context").with_detail(why);
        // Strict parse first: duplicate members would otherwise be resolved silently.
        // The claims sit one level down in the context document.
        let value =
            json::parse_strict_to_depth(s.as_bytes(), json::MAX_DEPTH + 1).map_err(invalid)?;
        let wire: Wire = serde_json::from_value(value)
            .map_err(|e| invalid(crate::error::sanitize(&e.to_string(), 160)))?;
        if wire.v != CONTEXT_VERSION {
            return Err(invalid(format!(
                "context version {} is not supported (expected {CONTEXT_VERSION})",
                wire.v
            )));
        }
        Ok(Context {
            tenant_id: wire.tenant_id,
            tenant_slug: wire.tenant_slug,
            user_id: wire.user_id,
            subject: wire.subject,
            source: wire.source,
            kid: wire.kid,
            claims: Arc::new(wire.claims),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Context {
        let claims = match json!({"sub":"u1","tenant":"acme","n":1.5,"nested":{"a":[1,null]}}) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Context {
            tenant_id: Some(Uuid::from_u128(1)),
            tenant_slug: Some("acme".into()),
            user_id: Some(Uuid::from_u128(2)),
            subject: Some("u1".into()),
            source: Some("claim:tenant".into()),
            kid: Some("k1".into()),
            claims: Arc::new(claims),
        }
    }

    #[test]
    fn round_trips() {
        let c = sample();
        assert_eq!(Context::decode(&c.encode()).unwrap(), c);
        let empty = Context::default();
        assert_eq!(empty.encode(), r#"{"v":1,"claims":{}}"#);
        assert_eq!(Context::decode(&empty.encode()).unwrap(), empty);
    }

    #[test]
    fn encoding_is_compact_and_versioned() {
        let s = sample().encode();
        assert!(s.starts_with(r#"{"v":1,"tenant_id":"00000000-0000-0000-0000-000000000001""#));
        assert!(!s.contains(' '));
    }

    #[test]
    fn refuses_garbage_other_versions_and_unknown_members() {
        for s in [
            "",
            "garbage",
            "[]",
            "{}",
            r#"{"v":2}"#,
            r#"{"v":1,"tenant_id":"nope"}"#,
            r#"{"v":1,"admin":true}"#,
            r#"{"v":1,"v":1}"#,
        ] {
            let err = Context::decode(s).unwrap_err();
            assert_eq!(err.to_string(), "invalid tenant context", "{s}");
        }
    }
}
