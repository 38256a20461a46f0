//! From a parsed command to the one SQL function call it makes (with bind parameters), and
//! from that call's result to what is printed.
//!
//! Row-returning functions are read as `row_to_json(t)::text`, so the CLI needs no decoder for
//! uuid, timestamptz or jsonb, and the JSON output keeps the server's types.

use serde_json::Value;

use crate::cli::{MembersCommand, OutputFormat, TenantCommand};
use crate::error::CliError;
use crate::render::{self, Output, Record};

/// A bind parameter. Every one is sent as text or boolean; jsonb parameters are cast in the
/// SQL (`$n::text::jsonb`).
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    /// NULL when `None`: "leave unchanged" / "no filter".
    OptText(Option<String>),
    Bool(bool),
}

impl Param {
    pub fn as_sql(&self) -> &(dyn postgres::types::ToSql + Sync) {
        match self {
            Param::Text(v) => v,
            Param::OptText(v) => v,
            Param::Bool(v) => v,
        }
    }
}

/// What the call returns and how it is shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Any number of rows: a JSON array / a table.
    Rows,
    /// Exactly one row: a JSON object / a one-row table.
    OneRow,
    /// `boards_tenant_add_member`'s user id, shown with the member it names.
    MemberAdded {
        slug: String,
        subject: String,
        role: String,
    },
    /// `boards_tenant_remove_member` returns nothing.
    MemberRemoved { slug: String, subject: String },
    /// `boards_tenant_audit` rows, grouped by severity, with a summary line.
    AuditRows,
    /// The `boards_tenant_audit_json` document.
    AuditJson,
}

impl Shape {
    /// How the result is fetched.
    pub fn fetch(&self) -> Fetch {
        match self {
            Shape::Rows | Shape::OneRow | Shape::AuditRows => Fetch::Records,
            Shape::MemberAdded { .. } | Shape::AuditJson => Fetch::Value,
            Shape::MemberRemoved { .. } => Fetch::Nothing,
        }
    }
}

/// How a call's result is read: rows of `row_to_json(...)::text`, one text value, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    Records,
    Value,
    Nothing,
}

/// The result of a call, as read by [`Fetch`].
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    Records(Vec<Record>),
    Value(Option<String>),
    Nothing,
}

/// One SQL statement that calls one of the extension's functions.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub sql: &'static str,
    pub params: Vec<Param>,
    pub shape: Shape,
}

/// A call, and for destructive ones the question to ask first.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub call: Call,
    /// `Some(question)`: ask on a terminal (refuse without one) before making the call.
    pub confirm: Option<String>,
}

const CREATE: &str = "SELECT row_to_json(t)::text \
     FROM boards_tenant_create($1, $2, $3::text::jsonb, $4) AS t";
const LIST: &str = "SELECT row_to_json(t)::text FROM boards_tenant_list() AS t";
const GET: &str = "SELECT row_to_json(t)::text FROM boards_tenant_get($1) AS t";
const UPDATE: &str = "SELECT row_to_json(t)::text \
     FROM boards_tenant_update($1, $2, $3, $4::text::jsonb) AS t";
const DELETE: &str = "SELECT row_to_json(t)::text FROM boards_tenant_delete($1) AS t";
const APPROVE: &str = "SELECT row_to_json(t)::text FROM boards_tenant_approve($1) AS t";
const SUSPEND: &str = "SELECT row_to_json(t)::text FROM boards_tenant_suspend($1) AS t";
const ADD_MEMBER: &str = "SELECT boards_tenant_add_member($1, $2, $3, $4, $5)::text";
const REMOVE_MEMBER: &str = "SELECT boards_tenant_remove_member($1, $2)";
const MEMBERS: &str = "SELECT row_to_json(t)::text FROM boards_tenant_members($1) AS t";
const AUDIT: &str = "SELECT row_to_json(t)::text FROM boards_tenant_audit($1) AS t";
const AUDIT_JSON: &str = "SELECT boards_tenant_audit_json($1)::text";

/// The question `tenant delete` asks on a terminal.
pub fn delete_question(slug: &str) -> String {
    format!("Delete tenant '{slug}' and all its data? [y/N] ")
}

/// Whether an answer to a [y/N] question is a yes.
pub fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Checks a `--settings` value before anything connects: it must be a JSON object. Returns
/// it re-encoded (compact).
pub fn settings_json(text: &str) -> Result<String, CliError> {
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => Ok(value.to_string()),
        Ok(_) => Err(CliError::new("--settings must be a JSON object")
            .with_hint(r#"for example --settings '{"admin_email": "admin@acme.example"}'"#)),
        Err(e) => Err(CliError::new(format!("--settings is not valid JSON: {e}"))
            .with_hint(r#"for example --settings '{"admin_email": "admin@acme.example"}'"#)),
    }
}

fn call(sql: &'static str, params: Vec<Param>, shape: Shape) -> Plan {
    Plan {
        call: Call { sql, params, shape },
        confirm: None,
    }
}

fn text(value: &str) -> Param {
    Param::Text(value.to_owned())
}

/// The call a command makes. `format` decides between the audit's two functions.
pub fn plan(command: &TenantCommand, format: OutputFormat) -> Result<Plan, CliError> {
    Ok(match command {
        TenantCommand::Create {
            name,
            slug,
            sample_data,
            settings,
        } => {
            let settings = match settings {
                Some(s) => settings_json(s)?,
                None => "{}".to_owned(),
            };
            call(
                CREATE,
                vec![
                    text(name),
                    text(slug),
                    Param::Text(settings),
                    Param::Bool(*sample_data),
                ],
                Shape::OneRow,
            )
        }
        TenantCommand::List => call(LIST, vec![], Shape::Rows),
        TenantCommand::Get { tenant } => call(GET, vec![text(tenant.value())], Shape::OneRow),
        TenantCommand::Update {
            tenant,
            name,
            new_slug,
            settings,
        } => {
            let settings = settings.as_deref().map(settings_json).transpose()?;
            call(
                UPDATE,
                vec![
                    text(tenant.value()),
                    Param::OptText(name.clone()),
                    Param::OptText(new_slug.clone()),
                    Param::OptText(settings),
                ],
                Shape::OneRow,
            )
        }
        TenantCommand::Delete { tenant, yes } => Plan {
            call: Call {
                sql: DELETE,
                params: vec![text(tenant.value())],
                shape: Shape::Rows,
            },
            confirm: (!yes).then(|| delete_question(tenant.value())),
        },
        TenantCommand::Approve { tenant } => {
            call(APPROVE, vec![text(tenant.value())], Shape::OneRow)
        }
        TenantCommand::Suspend { tenant } => {
            call(SUSPEND, vec![text(tenant.value())], Shape::OneRow)
        }
        TenantCommand::Members(MembersCommand::Add {
            tenant,
            subject,
            role,
            email,
            display_name,
        }) => call(
            ADD_MEMBER,
            vec![
                text(tenant.value()),
                text(subject),
                text(role.as_str()),
                Param::OptText(email.clone()),
                Param::OptText(display_name.clone()),
            ],
            Shape::MemberAdded {
                slug: tenant.value().to_owned(),
                subject: subject.clone(),
                role: role.as_str().to_owned(),
            },
        ),
        TenantCommand::Members(MembersCommand::Remove { tenant, subject }) => call(
            REMOVE_MEMBER,
            vec![text(tenant.value()), text(subject)],
            Shape::MemberRemoved {
                slug: tenant.value().to_owned(),
                subject: subject.clone(),
            },
        ),
        TenantCommand::Members(MembersCommand::List { tenant }) => {
            call(MEMBERS, vec![text(tenant.value())], Shape::Rows)
        }
        TenantCommand::Audit { tenant_slug } => {
            let (sql, shape) = match format {
                OutputFormat::Table => (AUDIT, Shape::AuditRows),
                OutputFormat::Json => (AUDIT_JSON, Shape::AuditJson),
            };
            call(sql, vec![Param::OptText(tenant_slug.clone())], shape)
        }
    })
}

fn unexpected(what: &str) -> CliError {
    CliError::new(format!("unexpected result from the server: {what}"))
}

/// What is printed for a call's result.
pub fn finish(shape: &Shape, fetched: Fetched, format: OutputFormat) -> Result<Output, CliError> {
    match (shape, fetched) {
        (Shape::Rows, Fetched::Records(records)) => render::rows(&records, format),
        (Shape::OneRow, Fetched::Records(records)) => match records.as_slice() {
            [record] => render::one_row(record, format),
            other => Err(unexpected(&format!("{} rows instead of one", other.len()))),
        },
        (Shape::AuditRows, Fetched::Records(records)) => Ok(render::audit_table(&records)),
        (Shape::AuditJson, Fetched::Value(Some(document))) => render::audit_json(&document),
        (
            Shape::MemberAdded {
                slug,
                subject,
                role,
            },
            Fetched::Value(Some(user_id)),
        ) => {
            let record = Record(vec![
                ("tenant_slug".into(), Value::from(slug.as_str())),
                ("subject".into(), Value::from(subject.as_str())),
                ("role".into(), Value::from(role.as_str())),
                ("user_id".into(), Value::from(user_id)),
            ]);
            render::one_row(&record, format)
        }
        (Shape::MemberRemoved { slug, subject }, Fetched::Nothing) => {
            let record = Record(vec![
                ("tenant_slug".into(), Value::from(slug.as_str())),
                ("subject".into(), Value::from(subject.as_str())),
                ("removed".into(), Value::Bool(true)),
            ]);
            render::message(
                &record,
                &format!("Removed member '{subject}' from tenant '{slug}'."),
                format,
            )
        }
        (_, Fetched::Value(None)) => Err(unexpected("NULL")),
        (shape, fetched) => Err(unexpected(&format!("{fetched:?} for {shape:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, TopCommand};
    use clap::Parser;

    fn plan_of(args: &[&str]) -> Result<Plan, CliError> {
        let cli = Cli::try_parse_from(std::iter::once("boards-tenant").chain(args.iter().copied()))
            .unwrap();
        let TopCommand::Tenant(command) = &cli.command else {
            panic!("not a tenant command: {args:?}");
        };
        plan(command, cli.output_format)
    }

    #[test]
    fn create_maps_every_argument() {
        let p = plan_of(&[
            "tenant",
            "create",
            "--name",
            "Acme Corp",
            "--slug",
            "acme-corp",
            "--sample-data",
            "--settings",
            r#"{ "admin_email": "a@acme.example" }"#,
        ])
        .unwrap();
        assert_eq!(p.call.sql, CREATE);
        assert_eq!(
            p.call.params,
            vec![
                Param::Text("Acme Corp".into()),
                Param::Text("acme-corp".into()),
                Param::Text(r#"{"admin_email":"a@acme.example"}"#.into()),
                Param::Bool(true),
            ]
        );
        assert_eq!(p.call.shape, Shape::OneRow);
        assert_eq!(p.confirm, None);

        let p = plan_of(&["tenant", "create", "--name", "B", "--slug", "b"]).unwrap();
        assert_eq!(p.call.params[2], Param::Text("{}".into()));
        assert_eq!(p.call.params[3], Param::Bool(false));
    }

    #[test]
    fn bad_settings_fail_before_any_call() {
        for bad in ["{", "not json", "[1,2]", "42", "\"x\""] {
            let e = plan_of(&[
                "tenant",
                "create",
                "--name",
                "B",
                "--slug",
                "b",
                "--settings",
                bad,
            ])
            .unwrap_err();
            assert!(e.message.contains("--settings"), "{bad}: {e}");
            let e = plan_of(&["tenant", "update", "b", "--settings", bad]).unwrap_err();
            assert!(e.message.contains("--settings"), "{bad}: {e}");
        }
    }

    #[test]
    fn update_passes_null_for_what_is_unchanged() {
        let p = plan_of(&["tenant", "update", "--slug", "acme", "--new-slug", "acme2"]).unwrap();
        assert_eq!(p.call.sql, UPDATE);
        assert_eq!(
            p.call.params,
            vec![
                Param::Text("acme".into()),
                Param::OptText(None),
                Param::OptText(Some("acme2".into())),
                Param::OptText(None),
            ]
        );
    }

    #[test]
    fn single_slug_commands() {
        for (cmd, sql, shape) in [
            ("get", GET, Shape::OneRow),
            ("approve", APPROVE, Shape::OneRow),
            ("suspend", SUSPEND, Shape::OneRow),
        ] {
            let p = plan_of(&["tenant", cmd, "acme"]).unwrap();
            assert_eq!(p.call.sql, sql);
            assert_eq!(p.call.params, vec![Param::Text("acme".into())]);
            assert_eq!(p.call.shape, shape);
        }
        let p = plan_of(&["tenant", "list"]).unwrap();
        assert_eq!((p.call.sql, p.call.params.len()), (LIST, 0));
    }

    #[test]
    fn delete_asks_unless_yes() {
        let p = plan_of(&["tenant", "delete", "acme"]).unwrap();
        assert_eq!(p.call.sql, DELETE);
        assert_eq!(
            p.confirm.as_deref(),
            Some("Delete tenant 'acme' and all its data? [y/N] ")
        );
        let p = plan_of(&["tenant", "delete", "--slug", "acme", "--yes"]).unwrap();
        assert_eq!(p.confirm, None);
    }

    #[test]
    fn answers() {
        for yes in ["y", "Y", "yes", " YES\n"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "n", "no", "yess", "\n", "oui"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }

    #[test]
    fn members() {
        let p = plan_of(&[
            "tenant",
            "members",
            "add",
            "acme",
            "--subject",
            "auth0|1",
            "--role",
            "owner",
            "--email",
            "o@acme.example",
        ])
        .unwrap();
        assert_eq!(p.call.sql, ADD_MEMBER);
        assert_eq!(
            p.call.params,
            vec![
                Param::Text("acme".into()),
                Param::Text("auth0|1".into()),
                Param::Text("owner".into()),
                Param::OptText(Some("o@acme.example".into())),
                Param::OptText(None),
            ]
        );
        let p = plan_of(&["tenant", "members", "remove", "acme", "--subject", "s"]).unwrap();
        assert_eq!(p.call.sql, REMOVE_MEMBER);
        assert_eq!(p.call.shape.fetch(), Fetch::Nothing);
        let p = plan_of(&["tenant", "members", "list", "--slug", "acme"]).unwrap();
        assert_eq!(p.call.sql, MEMBERS);
    }

    #[test]
    fn audit_function_follows_the_format() {
        let p = plan_of(&["tenant", "audit"]).unwrap();
        assert_eq!((p.call.sql, &p.call.shape), (AUDIT, &Shape::AuditRows));
        assert_eq!(p.call.params, vec![Param::OptText(None)]);
        let p = plan_of(&[
            "tenant",
            "audit",
            "--tenant-slug",
            "acme",
            "--output-format",
            "json",
        ])
        .unwrap();
        assert_eq!((p.call.sql, &p.call.shape), (AUDIT_JSON, &Shape::AuditJson));
        assert_eq!(p.call.params, vec![Param::OptText(Some("acme".into()))]);
    }

    #[test]
    fn every_call_is_one_function_call_with_numbered_parameters() {
        for sql in [
            CREATE,
            LIST,
            GET,
            UPDATE,
            DELETE,
            APPROVE,
            SUSPEND,
            ADD_MEMBER,
            REMOVE_MEMBER,
            MEMBERS,
            AUDIT,
            AUDIT_JSON,
        ] {
            assert_eq!(sql.matches("boards_tenant_").count(), 1, "{sql}");
            assert!(!sql.contains('\''), "no literals: {sql}");
        }
    }

    #[test]
    fn finishing_results() {
        let member = Shape::MemberAdded {
            slug: "acme".into(),
            subject: "s".into(),
            role: "admin".into(),
        };
        let out = finish(
            &member,
            Fetched::Value(Some("0b6f0e1c-0000-4000-8000-000000000000".into())),
            OutputFormat::Json,
        )
        .unwrap();
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v["user_id"], "0b6f0e1c-0000-4000-8000-000000000000");
        assert_eq!(v["role"], "admin");

        let removed = Shape::MemberRemoved {
            slug: "acme".into(),
            subject: "s".into(),
        };
        let out = finish(&removed, Fetched::Nothing, OutputFormat::Json).unwrap();
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v["removed"], true);
        let out = finish(&removed, Fetched::Nothing, OutputFormat::Table).unwrap();
        assert_eq!(out.stdout, "Removed member 's' from tenant 'acme'.\n");

        assert!(finish(&Shape::OneRow, Fetched::Records(vec![]), OutputFormat::Json).is_err());
        assert!(finish(&Shape::AuditJson, Fetched::Value(None), OutputFormat::Json).is_err());
        assert!(finish(&Shape::Rows, Fetched::Nothing, OutputFormat::Json).is_err());
    }
}
