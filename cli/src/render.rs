//! Turning query results into what is printed: aligned tables and JSON documents.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::cli::OutputFormat;
use crate::error::CliError;

/// One result row as `row_to_json` gives it: column names in the function's order, values
/// typed as JSON (jsonb columns nested, timestamps as ISO 8601 strings).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record(pub Vec<(String, Value)>);

impl Record {
    pub fn get(&self, column: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == column).map(|(_, v)| v)
    }

    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// Parses one `row_to_json(...)::text` value, keeping the column order.
    pub fn parse(text: &str) -> Result<Record, CliError> {
        serde_json::from_str(text)
            .map_err(|e| CliError::new(format!("unexpected row from the server: {e}")))
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Record, D::Error> {
        struct RecordVisitor;
        impl<'de> Visitor<'de> for RecordVisitor {
            type Value = Record;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
                let mut fields = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    fields.push((key, value));
                }
                Ok(Record(fields))
            }
        }
        deserializer.deserialize_map(RecordVisitor)
    }
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// A cell as the table shows it: strings bare, NULL empty, jsonb compact, and no line breaks
/// (they would break the alignment).
pub fn cell(value: &Value) -> String {
    let text = match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains(['\n', '\r', '\t']) {
        text.replace('\n', "\\n")
            .replace('\r', "\\r")
            .replace('\t', "\\t")
    } else {
        text
    }
}

/// An aligned table: a header, a separator of dashes, one line per row; columns separated by
/// two spaces, no trailing spaces. Widths count characters.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let mut out = String::new();
        for (i, (cell, width)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(cell);
            let pad = width.saturating_sub(cell.chars().count());
            out.extend(std::iter::repeat_n(' ', pad));
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push('\n');
        out
    };
    let mut out = line(&mut headers.iter().copied());
    let dashes: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line(&mut dashes.iter().map(String::as_str)));
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

/// Records as a table, columns in the first record's order.
pub fn records_table(records: &[Record]) -> String {
    let Some(first) = records.first() else {
        return String::new();
    };
    let headers: Vec<&str> = first.columns().collect();
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            headers
                .iter()
                .map(|h| r.get(h).map(cell).unwrap_or_default())
                .collect()
        })
        .collect();
    table(&headers, &rows)
}

/// What a command prints on stdout, and its exit code.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub stdout: String,
    pub exit_code: u8,
}

impl Output {
    fn ok(stdout: String) -> Output {
        Output {
            stdout,
            exit_code: 0,
        }
    }
}

/// The exit code of an audit that found a critical or high severity violation.
pub const EXIT_VIOLATIONS: u8 = 3;
/// Severities in report order; rows of other severities come last.
pub const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];
/// The severities that count as violations in the summary.
const VIOLATION_SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];
/// The columns of the audit table, in print order.
const AUDIT_COLUMNS: [&str; 5] = [
    "severity",
    "check_name",
    "tenant_slug",
    "object_name",
    "detail",
];

fn pretty(value: &impl Serialize) -> Result<String, CliError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::new(format!("could not encode JSON: {e}")))?;
    text.push('\n');
    Ok(text)
}

/// A row set: a JSON array, or a table with a `(N rows)` line.
pub fn rows(records: &[Record], format: OutputFormat) -> Result<Output, CliError> {
    match format {
        OutputFormat::Json => Ok(Output::ok(pretty(&records)?)),
        OutputFormat::Table => {
            let count = match records.len() {
                1 => "(1 row)\n".to_owned(),
                n => format!("({n} rows)\n"),
            };
            Ok(Output::ok(records_table(records) + &count))
        }
    }
}

/// A single row: a JSON object, or a one-row table.
pub fn one_row(record: &Record, format: OutputFormat) -> Result<Output, CliError> {
    match format {
        OutputFormat::Json => Ok(Output::ok(pretty(record)?)),
        OutputFormat::Table => Ok(Output::ok(records_table(std::slice::from_ref(record)))),
    }
}

/// A result with no rows (e.g. a removed member): the record as JSON, or `message` for tables.
pub fn message(record: &Record, message: &str, format: OutputFormat) -> Result<Output, CliError> {
    match format {
        OutputFormat::Json => Ok(Output::ok(pretty(record)?)),
        OutputFormat::Table => Ok(Output::ok(format!("{message}\n"))),
    }
}

fn severity_rank(severity: &str) -> usize {
    SEVERITIES
        .iter()
        .position(|s| *s == severity)
        .unwrap_or(SEVERITIES.len())
}

fn text_of(value: Option<&Value>) -> &str {
    value.and_then(Value::as_str).unwrap_or_default()
}

fn audit_exit_code(critical: u64, high: u64) -> u8 {
    if critical + high > 0 {
        EXIT_VIOLATIONS
    } else {
        0
    }
}

/// The audit's rows as a table grouped by severity (critical first, the server's order within
/// a group), then `N violations: x critical, y high, z medium, w low`. Exit code 3 when any
/// critical or high row exists.
pub fn audit_table(records: &[Record]) -> Output {
    let mut sorted: Vec<&Record> = records.iter().collect();
    // Stable: the server's order is kept within a severity.
    sorted.sort_by_key(|r| severity_rank(text_of(r.get("severity"))));
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .map(|r| {
            AUDIT_COLUMNS
                .iter()
                .map(|c| r.get(c).map(cell).unwrap_or_default())
                .collect()
        })
        .collect();
    let count = |severity: &str| {
        records
            .iter()
            .filter(|r| text_of(r.get("severity")) == severity)
            .count() as u64
    };
    let [critical, high, medium, low] = VIOLATION_SEVERITIES.map(count);
    let total = critical + high + medium + low;
    let mut stdout = if rows.is_empty() {
        String::new()
    } else {
        table(&AUDIT_COLUMNS, &rows) + "\n"
    };
    stdout.push_str(&format!(
        "{total} violation{}: {critical} critical, {high} high, {medium} medium, {low} low\n",
        if total == 1 { "" } else { "s" },
    ));
    Output {
        stdout,
        exit_code: audit_exit_code(critical, high),
    }
}

/// The `boards_tenant_audit_json` document, pretty-printed; exit code 3 when its summary (or,
/// failing that, its violations) has a critical or high entry.
pub fn audit_json(document: &str) -> Result<Output, CliError> {
    let value: Value = serde_json::from_str(document)
        .map_err(|e| CliError::new(format!("unexpected audit document from the server: {e}")))?;
    let from_summary = |severity: &str| value.pointer(&format!("/summary/{severity}"))?.as_u64();
    let from_list = |severity: &str| {
        value
            .pointer(&format!("/violations/{severity}"))
            .and_then(Value::as_array)
            .map_or(0, |list| list.len() as u64)
    };
    let count = |severity: &str| from_summary(severity).unwrap_or_else(|| from_list(severity));
    Ok(Output {
        stdout: pretty(&value)?,
        exit_code: audit_exit_code(count("critical"), count("high")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(text: &str) -> Record {
        Record::parse(text).unwrap()
    }

    #[test]
    fn records_keep_column_order() {
        let r = record(r#"{"zeta": 1, "alpha": {"b": 2, "a": 1}, "mid": null}"#);
        assert_eq!(r.columns().collect::<Vec<_>>(), ["zeta", "alpha", "mid"]);
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"zeta":1,"alpha":{"a":1,"b":2},"mid":null}"#
        );
        assert!(Record::parse("[1]").is_err());
        assert!(Record::parse("{").is_err());
    }

    #[test]
    fn cells() {
        assert_eq!(cell(&json!(null)), "");
        assert_eq!(cell(&json!("x y")), "x y");
        assert_eq!(cell(&json!(42)), "42");
        assert_eq!(cell(&json!(true)), "true");
        assert_eq!(cell(&json!({"a": [1, 2]})), r#"{"a":[1,2]}"#);
        assert_eq!(cell(&json!("two\nlines")), "two\\nlines");
    }

    #[test]
    fn table_is_aligned() {
        let t = table(
            &["slug", "name", "n"],
            &[
                vec!["acme".into(), "Acme Corp".into(), "1".into()],
                vec!["b".into(), "Ünïcode".into(), "".into()],
            ],
        );
        assert_eq!(
            t,
            "slug  name       n\n\
             ----  ---------  -\n\
             acme  Acme Corp  1\n\
             b     Ünïcode\n"
        );
    }

    #[test]
    fn table_of_records_and_row_counts() {
        let records = vec![
            record(r#"{"slug": "acme", "settings": {"plan": "pro"}, "member_count": 2}"#),
            record(r#"{"slug": "b", "settings": {}, "member_count": 0}"#),
        ];
        let out = rows(&records, OutputFormat::Table).unwrap();
        assert_eq!(
            out.stdout,
            "slug  settings        member_count\n\
             ----  --------------  ------------\n\
             acme  {\"plan\":\"pro\"}  2\n\
             b     {}              0\n\
             (2 rows)\n"
        );
        assert_eq!(rows(&[], OutputFormat::Table).unwrap().stdout, "(0 rows)\n");
    }

    #[test]
    fn json_output_is_one_document() {
        let records = vec![record(r#"{"slug": "acme", "n": 1}"#)];
        let out = rows(&records, OutputFormat::Json).unwrap();
        let parsed: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(parsed, json!([{"slug": "acme", "n": 1}]));
        let out = one_row(&records[0], OutputFormat::Json).unwrap();
        let parsed: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(parsed, json!({"slug": "acme", "n": 1}));
        assert_eq!(
            serde_json::from_str::<Value>(&rows(&[], OutputFormat::Json).unwrap().stdout).unwrap(),
            json!([])
        );
        let out = message(&records[0], "done", OutputFormat::Table).unwrap();
        assert_eq!(out.stdout, "done\n");
    }

    fn audit_row(severity: &str, check: &str, slug: Option<&str>) -> Record {
        Record(vec![
            ("tenant_slug".into(), json!(slug)),
            ("check_name".into(), json!(check)),
            ("severity".into(), json!(severity)),
            ("object_name".into(), json!("boards.boards")),
            ("detail".into(), json!({"count": 1, "fix": "do it"})),
        ])
    }

    #[test]
    fn audit_table_groups_by_severity_and_summarises() {
        let records = vec![
            audit_row("info", "tenant_statistics", Some("acme")),
            audit_row("low", "missing_tenant_index", None),
            audit_row("critical", "orphaned_records", None),
            audit_row("medium", "global_unique_key", None),
            audit_row("critical", "rls_disabled", None),
            audit_row("high", "rls_not_forced", None),
        ];
        let out = audit_table(&records);
        assert_eq!(out.exit_code, EXIT_VIOLATIONS);
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert!(lines[0].starts_with("severity  check_name"));
        let severities: Vec<&str> = lines[2..8]
            .iter()
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(
            severities,
            ["critical", "critical", "high", "medium", "low", "info"]
        );
        // Stable within a group.
        assert!(lines[2].contains("orphaned_records"));
        assert!(lines[3].contains("rls_disabled"));
        assert_eq!(
            lines.last().copied(),
            Some("5 violations: 2 critical, 1 high, 1 medium, 1 low")
        );
    }

    #[test]
    fn audit_exit_codes() {
        let clean = audit_table(&[audit_row("info", "tenant_statistics", Some("a"))]);
        assert_eq!(clean.exit_code, 0);
        assert!(clean
            .stdout
            .ends_with("0 violations: 0 critical, 0 high, 0 medium, 0 low\n"));
        let medium = audit_table(&[audit_row("medium", "x", None)]);
        assert_eq!(medium.exit_code, 0);
        assert!(medium
            .stdout
            .ends_with("1 violation: 0 critical, 0 high, 1 medium, 0 low\n"));
        let high = audit_table(&[audit_row("high", "x", None)]);
        assert_eq!(high.exit_code, EXIT_VIOLATIONS);
        assert_eq!(
            audit_table(&[]).stdout,
            "0 violations: 0 critical, 0 high, 0 medium, 0 low\n"
        );
    }

    #[test]
    fn audit_json_exit_code_from_summary_or_violations() {
        let doc = json!({"audit_timestamp": "t", "summary": {"total_violations": 1, "critical": 0, "high": 1, "medium": 0, "low": 0}});
        let out = audit_json(&doc.to_string()).unwrap();
        assert_eq!(out.exit_code, EXIT_VIOLATIONS);
        assert_eq!(serde_json::from_str::<Value>(&out.stdout).unwrap(), doc);
        let doc = json!({"summary": {"critical": 0, "high": 0, "medium": 3, "low": 0}});
        assert_eq!(audit_json(&doc.to_string()).unwrap().exit_code, 0);
        let doc = json!({"violations": {"critical": [{}], "high": []}});
        assert_eq!(
            audit_json(&doc.to_string()).unwrap().exit_code,
            EXIT_VIOLATIONS
        );
        assert!(audit_json("not json").is_err());
    }
}
