//! `boards-tenant keys sync`: fetch the JWKS, hand it to `boards_jwt_sync_jwks` (which
//! validates it and applies the change atomically), print what happened. With --watch, again
//! and again: a failed fetch or a refused document changes nothing in the database, so one bad
//! cycle never drops keys; the next cycle is tried after a backoff.

use std::time::Duration;

use serde_json::json;

use crate::app;
use crate::cli::{OutputFormat, SyncArgs};
use crate::error::CliError;
use crate::jwks_source::{self, Fetched, Source};
use crate::render;

const SYNC_SQL: &str =
    "SELECT kid, action FROM boards_jwt_sync_jwks($1::text::jsonb, $2, $3, $4::text::interval, $5)";

fn source(args: &SyncArgs) -> Result<Source, CliError> {
    match (&args.jwks_url, &args.issuer, &args.issuer_binding) {
        (Some(url), None, Some(issuer)) => Ok(Source::Jwks {
            url: url.clone(),
            issuer: issuer.clone(),
        }),
        (None, Some(issuer), None) => Ok(Source::Discovery {
            issuer: issuer.clone(),
        }),
        (None, Some(_), Some(_)) => Err(CliError::new(
            "--issuer-binding goes with --jwks-url: with --issuer the binding is the issuer",
        )),
        _ => Err(CliError::new(
            "give --jwks-url URL --issuer-binding ISS, or --issuer URL",
        )),
    }
}

/// Lists as SQL arrays: none is NULL (no restriction).
fn array(items: &[String]) -> Option<Vec<String>> {
    (!items.is_empty()).then(|| items.to_vec())
}

/// One cycle: fetch, sync, print. Returns the document's max-age.
fn cycle(
    args: &SyncArgs,
    source: &Source,
    config: &postgres::Config,
    format: OutputFormat,
) -> Result<Option<Duration>, CliError> {
    let Fetched {
        document,
        issuer,
        max_age,
    } = jwks_source::fetch(source)?;
    let mut client = app::connect(config)?;
    let rows = client
        .query(
            SYNC_SQL,
            &[
                &document.to_string(),
                &issuer,
                &array(&args.audiences),
                &args.grace,
                &array(&args.tenants),
            ],
        )
        .map_err(|e| CliError::from_postgres(&e, None))?;
    let steps: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let output = match format {
        OutputFormat::Json => {
            let keys: Vec<_> = steps
                .iter()
                .map(|(kid, action)| json!({"kid": kid, "action": action}))
                .collect();
            format!("{}\n", json!({"issuer": issuer, "keys": keys}))
        }
        OutputFormat::Table => {
            let rows: Vec<Vec<String>> = steps
                .into_iter()
                .map(|(kid, action)| vec![issuer.clone(), kid, action])
                .collect();
            render::table(&["issuer", "kid", "action"], &rows)
        }
    };
    app::print(&output)?;
    Ok(max_age)
}

pub fn run(
    args: &SyncArgs,
    database_url: Option<&str>,
    format: OutputFormat,
) -> Result<u8, CliError> {
    let source = source(args)?;
    let config = app::connection(database_url)?;
    if !args.watch {
        cycle(args, &source, &config, format)?;
        return Ok(0);
    }
    let min = Duration::from_secs(args.min_interval);
    let mut failures = 0u32;
    loop {
        let wait = match cycle(args, &source, &config, format) {
            Ok(max_age) => {
                failures = 0;
                jwks_source::refresh_after(max_age, min)
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                let wait = jwks_source::backoff(failures, min);
                eprint!("{e}");
                eprintln!(
                    "keys sync: nothing changed; trying again in {}s",
                    wait.as_secs()
                );
                wait
            }
        };
        std::thread::sleep(wait);
    }
}
