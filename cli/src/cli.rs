//! The command line, as clap parses it.

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Connection: --database-url (or DATABASE_URL), else the libpq variables PGHOST (default
localhost; a path is a unix socket directory), PGPORT (5432), PGUSER (default: the OS user),
PGPASSWORD, PGDATABASE (default: the user name), PGAPPNAME (default boards-tenant),
PGOPTIONS and PGCONNECT_TIMEOUT. Parts missing from the URL are taken from these variables.
There is no TLS support: PGSSLMODE may only be `disable` (or unset).

Exit codes: 0 success; 1 error (the server's message, detail, hint and SQLSTATE on stderr);
2 usage error; 3 `tenant audit` found a critical or high severity violation.";

/// `boards-tenant`: manage the tenants of a database with the boards_tenant extension.
#[derive(Parser, Debug)]
#[command(name = "boards-tenant", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// Connection string (postgresql://user@host:port/db or `key=value ...`).
    #[arg(
        long,
        env = "DATABASE_URL",
        global = true,
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// How to print results: aligned columns, or exactly one JSON document on stdout.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output_format: OutputFormat,

    #[command(subcommand)]
    pub command: TopCommand,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum TopCommand {
    /// Tenant management and the isolation audit.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// JWT verification keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Synchronise an issuer's keys with its published JWKS (boards_jwt_sync_jwks): new keys
    /// are added, keys gone from the document keep verifying for the grace period, then go.
    Sync(SyncArgs),
}

/// Where the JWKS comes from: its URL, or an OpenID Connect issuer to discover it from.
#[derive(Args, Debug, Clone)]
#[command(group(ArgGroup::new("source").required(true).multiple(false)))]
pub struct SyncArgs {
    /// The JWKS document's URL (https; http only for localhost). Needs --issuer-binding.
    #[arg(
        long,
        value_name = "URL",
        group = "source",
        requires = "issuer_binding"
    )]
    pub jwks_url: Option<String>,
    /// An OpenID Connect issuer: its /.well-known/openid-configuration names the JWKS
    /// (`jwks_uri`) and the issuer the keys are bound to (which must be this URL).
    #[arg(long, value_name = "URL", group = "source")]
    pub issuer: Option<String>,
    /// The issuer (`iss`) the keys of --jwks-url are bound to.
    #[arg(long, value_name = "ISS")]
    pub issuer_binding: Option<String>,
    /// An audience the keys accept (repeatable); none: only boards.jwt_audience applies.
    #[arg(long = "audience", value_name = "AUD")]
    pub audiences: Vec<String>,
    /// A tenant (slug) the keys' tokens are restricted to (repeatable); none: any tenant.
    #[arg(long = "tenant", value_name = "SLUG")]
    pub tenants: Vec<String>,
    /// How long a key that left the document keeps verifying (a PostgreSQL interval).
    #[arg(long, value_name = "INTERVAL", default_value = "1 day")]
    pub grace: String,
    /// Keep running: fetch again when the document's Cache-Control max-age runs out (at
    /// least --min-interval, at most 24 hours), backing off on errors.
    #[arg(long)]
    pub watch: bool,
    /// The shortest wait between two fetches with --watch, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub min_interval: u64,
}

/// A tenant named by its slug, positionally or with `--slug`.
#[derive(Args, Debug, Clone)]
#[group(id = "tenant", required = true, multiple = false)]
pub struct SlugArg {
    /// The tenant's slug.
    #[arg(value_name = "SLUG")]
    pub slug: Option<String>,
    /// The tenant's slug (instead of the positional argument).
    #[arg(long = "slug", value_name = "SLUG")]
    pub slug_flag: Option<String>,
}

impl SlugArg {
    /// The slug, from whichever form was given (clap requires exactly one).
    pub fn value(&self) -> &str {
        self.slug
            .as_deref()
            .or(self.slug_flag.as_deref())
            .unwrap_or_default()
    }
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant (boards_tenant_create).
    Create {
        /// Display name of the organisation.
        #[arg(long)]
        name: String,
        /// URL-safe identifier: lowercase letters, digits and hyphens.
        #[arg(long)]
        slug: String,
        /// Also create sample rows: a user, a board, a board membership and a generation.
        #[arg(long)]
        sample_data: bool,
        /// Tenant settings, a JSON object.
        #[arg(long, value_name = "JSON")]
        settings: Option<String>,
    },
    /// List all tenants (boards_tenant_list).
    List,
    /// Show one tenant (boards_tenant_get).
    Get {
        #[command(flatten)]
        tenant: SlugArg,
    },
    /// Rename a tenant, change its slug or merge settings into its own (boards_tenant_update).
    #[command(group(ArgGroup::new("changes").required(true).multiple(true)))]
    Update {
        #[command(flatten)]
        tenant: SlugArg,
        /// New display name.
        #[arg(long, group = "changes")]
        name: Option<String>,
        /// New slug.
        #[arg(long, group = "changes", value_name = "SLUG")]
        new_slug: Option<String>,
        /// Settings to merge into the tenant's (top-level keys replace), a JSON object.
        #[arg(long, group = "changes", value_name = "JSON")]
        settings: Option<String>,
    },
    /// Delete a tenant and all its rows (boards_tenant_delete). Asks first on a terminal.
    Delete {
        #[command(flatten)]
        tenant: SlugArg,
        /// Do not ask; required when stdin is not a terminal.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Activate a pending or suspended tenant (boards_tenant_approve).
    Approve {
        #[command(flatten)]
        tenant: SlugArg,
    },
    /// Suspend a tenant: its users get no rows until it is approved again (boards_tenant_suspend).
    Suspend {
        #[command(flatten)]
        tenant: SlugArg,
    },
    /// Tenant membership.
    #[command(subcommand)]
    Members(MembersCommand),
    /// Audit tenant isolation (boards_tenant_audit / boards_tenant_audit_json). Exit code 3
    /// when a critical or high severity violation is found.
    Audit {
        /// Only this tenant's rows (configuration checks are left out).
        #[arg(long, alias = "slug", value_name = "SLUG")]
        tenant_slug: Option<String>,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum MembersCommand {
    /// Add a member, or change an existing member's role (boards_tenant_add_member).
    Add {
        #[command(flatten)]
        tenant: SlugArg,
        /// The member's subject (the `sub` claim of their tokens).
        #[arg(long)]
        subject: String,
        #[arg(long, value_enum, default_value_t = Role::Member)]
        role: Role,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Remove a member (boards_tenant_remove_member); the last owner cannot be removed.
    Remove {
        #[command(flatten)]
        tenant: SlugArg,
        #[arg(long)]
        subject: String,
    },
    /// List a tenant's members (boards_tenant_members).
    List {
        #[command(flatten)]
        tenant: SlugArg,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("boards-tenant").chain(args.iter().copied()))
    }

    #[test]
    fn command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn slug_positional_or_flag() {
        for args in [
            &["tenant", "get", "acme"][..],
            &["tenant", "get", "--slug", "acme"][..],
        ] {
            let cli = parse(args).unwrap();
            match cli.command {
                TopCommand::Tenant(TenantCommand::Get { tenant }) => {
                    assert_eq!(tenant.value(), "acme")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn slug_is_required_once() {
        assert_eq!(
            parse(&["tenant", "get"]).unwrap_err().kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            parse(&["tenant", "get", "a", "--slug", "b"])
                .unwrap_err()
                .kind(),
            clap::error::ErrorKind::ArgumentConflict
        );
    }

    #[test]
    fn update_needs_a_change() {
        assert!(parse(&["tenant", "update", "acme"]).is_err());
        assert!(parse(&["tenant", "update", "acme", "--name", "Acme"]).is_ok());
    }

    #[test]
    fn output_format_is_global() {
        let cli = parse(&["tenant", "audit", "--output-format", "json"]).unwrap();
        assert_eq!(cli.output_format, OutputFormat::Json);
        let cli = parse(&["--output-format", "json", "tenant", "list"]).unwrap();
        assert_eq!(cli.output_format, OutputFormat::Json);
        let cli = parse(&["tenant", "list"]).unwrap();
        assert_eq!(cli.output_format, OutputFormat::Table);
        assert!(parse(&["tenant", "list", "--output-format", "yaml"]).is_err());
    }

    #[test]
    fn audit_accepts_tenant_slug_and_slug() {
        for flag in ["--tenant-slug", "--slug"] {
            let cli = parse(&["tenant", "audit", flag, "acme"]).unwrap();
            match cli.command {
                TopCommand::Tenant(TenantCommand::Audit { tenant_slug }) => {
                    assert_eq!(tenant_slug.as_deref(), Some("acme"))
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn member_roles_are_checked() {
        assert!(parse(&[
            "tenant",
            "members",
            "add",
            "a",
            "--subject",
            "s",
            "--role",
            "root"
        ])
        .is_err());
        let cli = parse(&["tenant", "members", "add", "--slug", "a", "--subject", "s"]).unwrap();
        match cli.command {
            TopCommand::Tenant(TenantCommand::Members(MembersCommand::Add { role, .. })) => {
                assert_eq!(role, Role::Member)
            }
            other => panic!("{other:?}"),
        }
    }
}
