//! Running a parsed command: confirm, connect, make the call, print.

use std::io::{BufRead, IsTerminal, Write};

use postgres::{Client, NoTls};

use crate::cli::{Cli, KeysCommand, TopCommand};
use crate::config;
use crate::error::CliError;
use crate::plan::{self, Call, Fetch, Fetched};
use crate::render::Record;

/// Runs the command; returns the exit code (0, or 3 for an audit with violations) or the
/// error to report (exit code 1).
pub fn run(cli: Cli) -> Result<u8, CliError> {
    let command = match &cli.command {
        TopCommand::Tenant(command) => command,
        TopCommand::Keys(KeysCommand::Sync(args)) => {
            return crate::keys_sync::run(args, cli.database_url.as_deref(), cli.output_format)
        }
    };
    // Everything that can be checked without the server is, before connecting.
    let plan = plan::plan(command, cli.output_format)?;
    let config = connection(cli.database_url.as_deref())?;
    if let Some(question) = &plan.confirm {
        confirm(question)?;
    }
    let mut client = connect(&config)?;
    let fetched = execute(&mut client, &plan.call)?;
    let output = plan::finish(&plan.call.shape, fetched, cli.output_format)?;
    print(&output.stdout)?;
    Ok(output.exit_code)
}

/// The connection settings from --database-url and the environment; server notices go to
/// stderr (stdout holds only the result).
pub fn connection(database_url: Option<&str>) -> Result<postgres::Config, CliError> {
    let env = |name: &str| std::env::var(name).ok();
    let mut config = config::connection_config(database_url, &env, &config::os_user)?;
    config.notice_callback(|notice| {
        eprintln!("{}: {}", notice.severity().to_lowercase(), notice.message());
    });
    Ok(config)
}

pub fn connect(config: &postgres::Config) -> Result<Client, CliError> {
    config.connect(NoTls).map_err(|e| {
        CliError::from_postgres(
            &e,
            Some(&format!(
                "could not connect to {}",
                config::describe(config)
            )),
        )
    })
}

/// Asks `question` on the terminal; anything but yes aborts. Without a terminal on stdin,
/// refuses: a script must say --yes.
fn confirm(question: &str) -> Result<(), CliError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CliError::new(
            "refusing to delete without confirmation: stdin is not a terminal",
        )
        .with_hint("pass --yes to delete without being asked"));
    }
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::new(format!("reading the answer: {e}")))?;
    if plan::is_yes(&answer) {
        Ok(())
    } else {
        Err(CliError::new("aborted: nothing was deleted"))
    }
}

fn execute(client: &mut Client, call: &Call) -> Result<Fetched, CliError> {
    let params: Vec<_> = call.params.iter().map(|p| p.as_sql()).collect();
    let server = |e: postgres::Error| CliError::from_postgres(&e, None);
    Ok(match call.shape.fetch() {
        Fetch::Records => {
            let rows = client.query(call.sql, &params).map_err(server)?;
            let mut records = Vec::with_capacity(rows.len());
            for row in rows {
                let text: Option<String> = row.try_get(0).map_err(server)?;
                records.push(Record::parse(text.as_deref().unwrap_or("null"))?);
            }
            Fetched::Records(records)
        }
        Fetch::Value => {
            let row = client.query_one(call.sql, &params).map_err(server)?;
            Fetched::Value(row.try_get(0).map_err(server)?)
        }
        Fetch::Nothing => {
            client.execute(call.sql, &params).map_err(server)?;
            Fetched::Nothing
        }
    })
}

/// Writes the result to stdout. A reader that stopped reading (`| head`) is no error: the
/// call was made, and its exit code stands.
pub fn print(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::new(format!("writing to stdout: {e}"))),
    }
}
