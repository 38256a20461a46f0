//! Strict JSON parsing for untrusted documents (token header and payload, key material, JWKS,
//! the session context). Duplicate member names are refused at every level: parsers disagree
//! on which duplicate wins, and a token with two `tenant` claims must not mean one tenant here
//! and another in the application. Nesting is capped well below serde_json's own recursion
//! limit (128), so any value parsed here still parses when wrapped in the context document.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Deepest nesting of arrays/objects accepted.
pub(crate) const MAX_DEPTH: usize = 64;

/// Longest parser message passed on to users, in chars.
const MAX_ERROR_CHARS: usize = 160;

/// Parses one JSON value with no trailing data. The error is a short, sanitised reason.
pub(crate) fn parse_strict(bytes: &[u8]) -> Result<Value, String> {
    parse_strict_to_depth(bytes, MAX_DEPTH)
}

/// [`parse_strict`] with another depth cap: a document that embeds values parsed with
/// `MAX_DEPTH` (the session context holds the claims one level down) needs one more.
pub(crate) fn parse_strict_to_depth(bytes: &[u8], max_depth: usize) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue {
        depth: 0,
        max_depth,
    }
    .deserialize(&mut de)
    .map_err(|e| crate::error::sanitize(&e.to_string(), MAX_ERROR_CHARS))?;
    de.end()
        .map_err(|e| crate::error::sanitize(&e.to_string(), MAX_ERROR_CHARS))?;
    Ok(value)
}

/// Parses a JSON object (see [`parse_strict`]).
pub(crate) fn parse_strict_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    match parse_strict(bytes)? {
        Value::Object(map) => Ok(map),
        _ => Err("expected a JSON object".to_owned()),
    }
}

/// A value is "nothing" when it names nothing: null, false, "", whitespace, {} or [].
pub(crate) fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Bool(true) | Value::Number(_) => false,
    }
}

/// What a value is, for messages ("a number", "an array", ...).
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

struct StrictValue {
    depth: usize,
    max_depth: usize,
}

impl StrictValue {
    fn nested<E: de::Error>(&self) -> Result<StrictValue, E> {
        if self.depth >= self.max_depth {
            return Err(E::custom(format!(
                "JSON nested deeper than {} levels",
                self.max_depth
            )));
        }
        Ok(StrictValue {
            depth: self.depth.saturating_add(1),
            max_depth: self.max_depth,
        })
    }
}

/// Postgres text cannot hold U+0000, and strings that differ only after one compare equal in
/// some collations: a NUL has no business in a token, a key or a context.
fn refuse_nul<E: de::Error>(s: &str) -> Result<(), E> {
    if s.contains('\0') {
        return Err(E::custom("NUL character (\\u0000) in a string"));
    }
    Ok(())
}

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON cannot spell NaN or infinity, so from_f64 only fails on input we never get;
        // null is the same mapping serde_json itself uses.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        refuse_nul(v)?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        refuse_nul(&v)?;
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.nested()?)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            refuse_nul(&key)?;
            if map.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate member \"{}\"",
                    crate::error::quote(&key)
                )));
            }
            let value = access.next_value_seed(self.nested()?)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_ordinary_json() {
        let v = parse_strict(br#"{"a":[1,2.5,"x",null,true],"b":{"c":-3}}"#).unwrap();
        assert_eq!(v, json!({"a":[1,2.5,"x",null,true],"b":{"c":-3}}));
    }

    #[test]
    fn refuses_duplicate_members_at_any_depth() {
        let err = parse_strict(br#"{"tenant":"a","tenant":"b"}"#).unwrap_err();
        assert!(err.contains("duplicate member \"tenant\""), "{err}");
        assert!(parse_strict(br#"{"org":{"slug":"a","slug":"b"}}"#).is_err());
    }

    #[test]
    fn refuses_nesting_past_the_limit() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_strict(ok.as_bytes()).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(parse_strict(deep.as_bytes())
            .unwrap_err()
            .contains("nested"));
        let bomb = "[".repeat(100_000);
        assert!(parse_strict(bomb.as_bytes()).is_err());
    }

    #[test]
    fn refuses_nul_characters_in_strings_and_member_names() {
        assert!(parse_strict(br#"{"sub": "alice\u0000evil"}"#).is_err());
        assert!(parse_strict(br#"{"a\u0000b": 1}"#).is_err());
        assert!(parse_strict(br#"["x", ["\u0000"]]"#).is_err());
        assert!(parse_strict(br#"{"sub": "alice\u0001"}"#).is_ok());
    }

    #[test]
    fn a_deeper_cap_takes_what_the_default_cap_took_one_level_down() {
        let inner = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_strict(inner.as_bytes()).is_ok());
        let wrapped = format!("{{\"claims\": {inner}}}");
        assert!(parse_strict(wrapped.as_bytes()).is_err());
        assert!(parse_strict_to_depth(wrapped.as_bytes(), MAX_DEPTH + 1).is_ok());
    }

    #[test]
    fn refuses_trailing_data_and_invalid_utf8() {
        assert!(parse_strict(b"{} {}").is_err());
        assert!(parse_strict(b"\"\xff\"").is_err());
    }

    #[test]
    fn empty_values_name_nothing() {
        for v in [
            json!(null),
            json!(false),
            json!(""),
            json!("  "),
            json!({}),
            json!([]),
        ] {
            assert!(is_empty_value(&v), "{v}");
        }
        for v in [
            json!(true),
            json!(0),
            json!("a"),
            json!({"a":1}),
            json!([1]),
        ] {
            assert!(!is_empty_value(&v), "{v}");
        }
    }
}
