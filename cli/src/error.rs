//! The CLI's error type and how it is shown on stderr.

use std::error::Error as _;
use std::fmt;

/// An error that ends the command with exit code 1. Shown as
///
/// ```text
/// error: <message>
/// detail: <detail>
/// hint: <hint>
/// (SQLSTATE <code>)
/// ```
///
/// where the last three lines appear only when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    pub sqlstate: Option<String>,
}

impl CliError {
    /// An error of the CLI itself (no server involved).
    pub fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            detail: None,
            hint: None,
            sqlstate: None,
        }
    }

    /// Adds a `hint:` line.
    pub fn with_hint(mut self, hint: impl Into<String>) -> CliError {
        self.hint = Some(hint.into());
        self
    }

    /// A client error: the server's message, detail, hint and SQLSTATE when the server sent
    /// the error, else the client's description with its causes. `context`, when given, is
    /// put in front of the message (e.g. "could not connect to ...").
    pub fn from_postgres(e: &postgres::Error, context: Option<&str>) -> CliError {
        let prefix = |message: String| match context {
            Some(context) => format!("{context}: {message}"),
            None => message,
        };
        match e.as_db_error() {
            Some(db) => CliError {
                message: prefix(db.message().to_owned()),
                detail: db.detail().map(str::to_owned),
                hint: db.hint().map(str::to_owned),
                sqlstate: Some(db.code().code().to_owned()),
            },
            None => {
                let mut message = e.to_string();
                // The Display of a client error may leave out its causes; add them.
                let mut source = e.source();
                while let Some(cause) = source {
                    let text = cause.to_string();
                    if !message.contains(&text) {
                        message.push_str(": ");
                        message.push_str(&text);
                    }
                    source = cause.source();
                }
                CliError::new(prefix(message))
            }
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        if let Some(detail) = &self.detail {
            writeln!(f, "detail: {detail}")?;
        }
        if let Some(hint) = &self.hint {
            writeln!(f, "hint: {hint}")?;
        }
        if let Some(code) = &self.sqlstate {
            writeln!(f, "(SQLSTATE {code})")?;
        }
        Ok(())
    }
}

impl std::error::Error for CliError {}

#[cfg(test)]
mod tests {
    use super::CliError;

    #[test]
    fn display_has_all_lines_in_order() {
        let e = CliError {
            message: "permission denied for function boards_tenant_list".into(),
            detail: Some("d".into()),
            hint: Some("h".into()),
            sqlstate: Some("42501".into()),
        };
        assert_eq!(
            e.to_string(),
            "error: permission denied for function boards_tenant_list\n\
             detail: d\nhint: h\n(SQLSTATE 42501)\n"
        );
    }

    #[test]
    fn display_of_a_plain_error_is_one_line() {
        assert_eq!(CliError::new("boom").to_string(), "error: boom\n");
        assert_eq!(
            CliError::new("boom").with_hint("try").to_string(),
            "error: boom\nhint: try\n"
        );
    }
}
