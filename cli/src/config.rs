//! The connection configuration: `--database-url` / `DATABASE_URL`, completed from the libpq
//! environment variables the way libpq does (a part the URL does not give comes from the
//! variable, else from the default).

use std::time::Duration;

use postgres::config::{Host, SslMode};
use postgres::Config;

use crate::error::CliError;

/// The `application_name` when neither the URL nor PGAPPNAME gives one.
pub const DEFAULT_APPLICATION_NAME: &str = "boards-tenant";
const DEFAULT_HOST: &str = "localhost";
const DEFAULT_PORT: u16 = 5432;

/// Builds the connection configuration from the URL (if any) and the environment, read
/// through `env` (empty values count as unset). `os_user` is the fallback user name when
/// neither the URL nor PGUSER names one (libpq's default: the OS user).
pub fn connection_config(
    url: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    os_user: &dyn Fn() -> Option<String>,
) -> Result<Config, CliError> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty());
    let url = url.filter(|u| !u.trim().is_empty());

    // The URL parser puts 5432 in for a host without a port; libpq takes PGPORT there.
    let with_ports;
    let url = match (url, var("PGPORT")) {
        (Some(u), Some(ports)) => {
            with_ports = add_missing_ports(u, &parse_ports(&ports)?);
            Some(with_ports.as_str())
        }
        (url, _) => url,
    };

    let mut config = match url {
        Some(url) => url.parse::<Config>().map_err(|e| {
            // The URL may hold a password: the parser's message is shown, never the URL.
            CliError::new(format!("invalid database URL: {e}")).with_hint(
                "use postgresql://USER@HOST:PORT/DBNAME or `host=... port=... dbname=...`",
            )
        })?,
        None => Config::new(),
    };

    // TLS: none. A URL that asks for it is refused; PGSSLMODE applies when the URL is silent.
    let url_sets_sslmode = url.is_some_and(|u| u.contains("sslmode="));
    if url_sets_sslmode {
        if matches!(config.get_ssl_mode(), SslMode::Require) {
            return Err(no_tls("sslmode=require in the database URL"));
        }
    } else if let Some(mode) = var("PGSSLMODE") {
        if mode != "disable" {
            return Err(no_tls(&format!("PGSSLMODE={mode}")));
        }
    }
    config.ssl_mode(SslMode::Disable);

    if config.get_hosts().is_empty() {
        let hosts = var("PGHOST").unwrap_or_else(|| DEFAULT_HOST.to_owned());
        for host in hosts.split(',').map(str::trim).filter(|h| !h.is_empty()) {
            if host.starts_with('/') {
                config.host_path(host);
            } else {
                config.host(host);
            }
        }
        if config.get_hosts().is_empty() {
            config.host(DEFAULT_HOST);
        }
    }
    if config.get_ports().is_empty() {
        match var("PGPORT") {
            Some(ports) => {
                for port in parse_ports(&ports)? {
                    config.port(port);
                }
            }
            None => {
                config.port(DEFAULT_PORT);
            }
        }
    }
    let user = match config.get_user() {
        Some(user) => user.to_owned(),
        None => {
            let user = var("PGUSER").or_else(os_user).ok_or_else(|| {
                CliError::new("no user name to connect as")
                    .with_hint("set PGUSER or give the user in --database-url")
            })?;
            config.user(&user);
            user
        }
    };
    if config.get_dbname().is_none() {
        config.dbname(&var("PGDATABASE").unwrap_or(user));
    }
    if config.get_password().is_none() {
        if let Some(password) = var("PGPASSWORD") {
            config.password(password);
        }
    }
    if config.get_application_name().is_none() {
        config.application_name(
            &var("PGAPPNAME").unwrap_or_else(|| DEFAULT_APPLICATION_NAME.to_owned()),
        );
    }
    if config.get_options().is_none() {
        if let Some(options) = var("PGOPTIONS") {
            config.options(&options);
        }
    }
    if config.get_connect_timeout().is_none() {
        if let Some(timeout) = var("PGCONNECT_TIMEOUT") {
            let seconds = timeout.trim().parse::<u64>().map_err(|_| {
                CliError::new(format!(
                    "invalid PGCONNECT_TIMEOUT {timeout:?}: not a number of seconds"
                ))
            })?;
            // libpq: zero (or less) means wait forever.
            if seconds > 0 {
                config.connect_timeout(Duration::from_secs(seconds));
            }
        }
    }
    Ok(config)
}

/// PGPORT: one port, or one per host, comma-separated.
fn parse_ports(ports: &str) -> Result<Vec<u16>, CliError> {
    ports
        .split(',')
        .map(str::trim)
        .map(|port| {
            port.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| CliError::new(format!("invalid PGPORT {port:?}: not a port number")))
        })
        .collect()
}

/// A `postgresql://` URL with `:port` added to every host that has none (the port at the
/// host's position in `ports`, or the only one). Other strings are returned as they are.
fn add_missing_ports(url: &str, ports: &[u16]) -> String {
    let Some(rest) = ["postgresql://", "postgres://"]
        .iter()
        .find_map(|scheme| url.strip_prefix(scheme))
    else {
        return url.to_owned();
    };
    let scheme = &url[..url.len() - rest.len()];
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    // No hosts (libpq's default applies), or the ports come as a `?port=` parameter.
    if hosts.is_empty() || tail.contains("port=") {
        return url.to_owned();
    }
    let hosts: Vec<String> = hosts
        .split(',')
        .enumerate()
        .map(|(i, host)| {
            let has_port = match host.strip_prefix('[') {
                Some(v6) => v6.find(']').is_some_and(|e| v6[e + 1..].starts_with(':')),
                None => host.contains(':'),
            };
            let port = ports.get(i).or(ports.first());
            match port {
                Some(port) if !has_port => format!("{host}:{port}"),
                _ => host.to_owned(),
            }
        })
        .collect();
    format!("{scheme}{userinfo}{}{tail}", hosts.join(","))
}

fn no_tls(what: &str) -> CliError {
    CliError::new(format!(
        "{what} is not supported: boards-tenant has no TLS support"
    ))
    .with_hint("use PGSSLMODE=disable (or leave it unset) and connect over a trusted network or a unix socket")
}

/// Where the configuration connects to, for error messages: `user@host:port/dbname`
/// (never the password).
pub fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "{}@{}:{}/{}",
        config.get_user().unwrap_or_default(),
        hosts.join(","),
        ports.join(","),
        config.get_dbname().unwrap_or_default()
    )
}

/// The OS user name, as libpq finds it: `$USER`, else the password database entry of the
/// effective user id.
pub fn os_user() -> Option<String> {
    if let Some(user) = std::env::var("USER").ok().filter(|u| !u.is_empty()) {
        return Some(user);
    }
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: all-zero is a valid `passwd` (null pointers, zero ids); getpwuid_r fills it
    // with pointers into `buf`, which outlives every use of them below.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: the pointers are valid for the lengths given.
    let rc = unsafe {
        libc::getpwuid_r(
            libc::geteuid(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name points to a NUL-terminated string inside `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    name.to_str().ok().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::PathBuf;

    fn build(url: Option<&str>, vars: &[(&str, &str)]) -> Result<Config, CliError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        connection_config(url, &|name| vars.get(name).cloned(), &|| {
            Some("osuser".to_owned())
        })
    }

    #[test]
    fn defaults_without_anything() {
        let c = build(None, &[]).unwrap();
        assert_eq!(c.get_hosts(), &[Host::Tcp("localhost".into())]);
        assert_eq!(c.get_ports(), &[5432]);
        assert_eq!(c.get_user(), Some("osuser"));
        assert_eq!(c.get_dbname(), Some("osuser"));
        assert_eq!(c.get_password(), None);
        assert_eq!(c.get_application_name(), Some("boards-tenant"));
        assert!(matches!(c.get_ssl_mode(), SslMode::Disable));
        assert_eq!(describe(&c), "osuser@localhost:5432/osuser");
    }

    #[test]
    fn pg_variables() {
        let c = build(
            None,
            &[
                ("PGHOST", "db.internal"),
                ("PGPORT", "6543"),
                ("PGUSER", "alice"),
                ("PGPASSWORD", "s3cret"),
                ("PGDATABASE", "boards"),
                ("PGAPPNAME", "ops"),
                ("PGSSLMODE", "disable"),
                ("PGOPTIONS", "-c work_mem=64MB"),
                ("PGCONNECT_TIMEOUT", "7"),
            ],
        )
        .unwrap();
        assert_eq!(c.get_hosts(), &[Host::Tcp("db.internal".into())]);
        assert_eq!(c.get_ports(), &[6543]);
        assert_eq!(c.get_user(), Some("alice"));
        assert_eq!(c.get_password(), Some(&b"s3cret"[..]));
        assert_eq!(c.get_dbname(), Some("boards"));
        assert_eq!(c.get_application_name(), Some("ops"));
        assert_eq!(c.get_options(), Some("-c work_mem=64MB"));
        assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(7)));
        // The database defaults to the user name.
        let c = build(None, &[("PGUSER", "bob")]).unwrap();
        assert_eq!(c.get_dbname(), Some("bob"));
    }

    #[test]
    fn a_path_host_is_a_unix_socket_directory() {
        let c = build(None, &[("PGHOST", "/var/run/postgresql")]).unwrap();
        assert_eq!(
            c.get_hosts(),
            &[Host::Unix(PathBuf::from("/var/run/postgresql"))]
        );
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let c = build(None, &[("PGHOST", ""), ("PGPORT", ""), ("PGUSER", "")]).unwrap();
        assert_eq!(c.get_hosts(), &[Host::Tcp("localhost".into())]);
        assert_eq!(c.get_ports(), &[5432]);
        assert_eq!(c.get_user(), Some("osuser"));
    }

    #[test]
    fn the_url_wins_and_the_environment_fills_the_gaps() {
        let c = build(
            Some("postgresql://admin@10.0.0.1:7000/prod"),
            &[
                ("PGHOST", "other"),
                ("PGPORT", "1"),
                ("PGUSER", "x"),
                ("PGDATABASE", "y"),
                ("PGPASSWORD", "pw"),
            ],
        )
        .unwrap();
        assert_eq!(c.get_hosts(), &[Host::Tcp("10.0.0.1".into())]);
        assert_eq!(c.get_ports(), &[7000]);
        assert_eq!(c.get_user(), Some("admin"));
        assert_eq!(c.get_dbname(), Some("prod"));
        assert_eq!(c.get_password(), Some(&b"pw"[..]));
        assert_eq!(c.get_application_name(), Some("boards-tenant"));

        let c = build(
            Some("postgresql:///prod"),
            &[("PGHOST", "h"), ("PGPORT", "6000")],
        )
        .unwrap();
        assert_eq!(c.get_hosts(), &[Host::Tcp("h".into())]);
        assert_eq!(c.get_ports(), &[6000]);
        assert_eq!(c.get_user(), Some("osuser"));
    }

    #[test]
    fn pgport_applies_to_url_hosts_without_a_port() {
        let c = build(Some("postgresql://u@db/d"), &[("PGPORT", "6000")]).unwrap();
        assert_eq!(c.get_ports(), &[6000]);
        let c = build(Some("postgresql://u@db:7000/d"), &[("PGPORT", "6000")]).unwrap();
        assert_eq!(c.get_ports(), &[7000]);
        let c = build(Some("postgresql://u@db/d"), &[]).unwrap();
        assert_eq!(c.get_ports(), &[5432]);
        assert_eq!(
            add_missing_ports("postgres://u:p@a,b:2,[::1],[::2]:3/d?x=1", &[9]),
            "postgres://u:p@a:9,b:2,[::1]:9,[::2]:3/d?x=1"
        );
        assert_eq!(
            add_missing_ports("postgresql://a,b", &[1, 2]),
            "postgresql://a:1,b:2"
        );
        assert_eq!(
            add_missing_ports("postgresql:///d", &[1]),
            "postgresql:///d"
        );
        assert_eq!(
            add_missing_ports("postgresql://a/d?port=5", &[1]),
            "postgresql://a/d?port=5"
        );
        assert_eq!(
            add_missing_ports("host=a dbname=d", &[1]),
            "host=a dbname=d"
        );
    }

    #[test]
    fn key_value_strings_are_accepted() {
        let c = build(Some("host=/tmp port=5433 user=u dbname=d"), &[]).unwrap();
        assert_eq!(c.get_hosts(), &[Host::Unix(PathBuf::from("/tmp"))]);
        assert_eq!(c.get_ports(), &[5433]);
        assert_eq!(c.get_dbname(), Some("d"));
    }

    #[test]
    fn tls_modes_are_refused() {
        for mode in ["require", "prefer", "verify-full", "allow"] {
            let e = build(None, &[("PGSSLMODE", mode)]).unwrap_err();
            assert!(e.message.contains(&format!("PGSSLMODE={mode}")), "{e}");
            assert!(e.message.contains("TLS"), "{e}");
        }
        let e = build(Some("postgresql://u@h/d?sslmode=require"), &[]).unwrap_err();
        assert!(e.message.contains("sslmode=require"), "{e}");
        // The URL's own sslmode=disable wins over the variable.
        let c = build(
            Some("postgresql://u@h/d?sslmode=disable"),
            &[("PGSSLMODE", "require")],
        )
        .unwrap();
        assert!(matches!(c.get_ssl_mode(), SslMode::Disable));
    }

    #[test]
    fn bad_values_are_clean_errors() {
        let e = build(None, &[("PGPORT", "abc")]).unwrap_err();
        assert!(e.message.contains("PGPORT"), "{e}");
        let e = build(None, &[("PGPORT", "70000")]).unwrap_err();
        assert!(e.message.contains("PGPORT"), "{e}");
        let e = build(None, &[("PGCONNECT_TIMEOUT", "soon")]).unwrap_err();
        assert!(e.message.contains("PGCONNECT_TIMEOUT"), "{e}");
        let e = build(Some("postgresql://u:secretpw@h:notaport/d"), &[]).unwrap_err();
        assert!(e.message.starts_with("invalid database URL"), "{e}");
        assert!(!e.to_string().contains("secretpw"), "{e}");
    }

    #[test]
    fn no_user_anywhere_is_an_error() {
        let e = connection_config(None, &|_| None, &|| None).unwrap_err();
        assert!(e.hint.unwrap_or_default().contains("PGUSER"));
    }
}
