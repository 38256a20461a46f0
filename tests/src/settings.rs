//! Every `boards.*` setting with its documented default and values to attack it with, for the
//! tests of who may change settings (foundation) and of every deployment configuration.

/// A `boards.*` setting: its documented default (as `current_setting` shows it) and a valid
/// value an attacker would like to give it.
pub struct Setting {
    pub name: &'static str,
    pub default: Expected,
    /// A valid value an attacker would like it to have; the tests of deployment
    /// configurations set it at database level, as an operator would.
    pub forged: &'static str,
    /// Another valid value, different from `forged` (and from `default` where it matters):
    /// what an attacker tries to replace a database-level `forged` with.
    pub other: &'static str,
}

pub enum Expected {
    Is(&'static str),
    /// A list with a sensible default; these members must be in it.
    Contains(&'static [&'static str]),
}

/// Every setting of src/settings.rs, with the defaults of docs/DESIGN.md section 5.
pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "boards.multi_tenant_mode",
        default: Expected::Is("off"),
        forged: "on",
        other: "off",
    },
    Setting {
        name: "boards.jwt_tenant_claim",
        default: Expected::Is(""),
        forged: "org_id",
        other: "team_id",
    },
    Setting {
        name: "boards.tenant_registration_requires_approval",
        default: Expected::Is("off"),
        forged: "on",
        other: "off",
    },
    Setting {
        name: "boards.tenant_registration_allowed_domains",
        default: Expected::Is(""),
        forged: "evil.example",
        other: "attacker.example",
    },
    Setting {
        name: "boards.max_tenants_per_user",
        default: Expected::Is("0"),
        forged: "5",
        other: "0",
    },
    Setting {
        name: "boards.frontend_base_url",
        default: Expected::Is(""),
        forged: "https://evil.example",
        other: "https://attacker.example",
    },
    Setting {
        name: "boards.debug",
        default: Expected::Is("off"),
        forged: "on",
        other: "off",
    },
    Setting {
        name: "boards.log_level",
        default: Expected::Is("info"),
        forged: "debug",
        other: "error",
    },
    Setting {
        name: "boards.jwt_issuer",
        default: Expected::Is(""),
        forged: "https://evil.example",
        other: "https://attacker.example",
    },
    Setting {
        name: "boards.jwt_audience",
        default: Expected::Is(""),
        forged: "evil",
        other: "attacker",
    },
    Setting {
        name: "boards.jwt_leeway",
        default: Expected::Is("30s"),
        forged: "3600",
        other: "0",
    },
    Setting {
        name: "boards.jwt_require_exp",
        default: Expected::Is("off"),
        forged: "on",
        other: "off",
    },
    Setting {
        name: "boards.public_email_domains",
        default: Expected::Contains(&["gmail.com", "outlook.com", "yahoo.com"]),
        forged: "evil.example",
        other: "attacker.example",
    },
    Setting {
        name: "boards.auto_protect",
        default: Expected::Is("on"),
        forged: "off",
        other: "on",
    },
    Setting {
        name: "boards.require_local_context",
        default: Expected::Is("off"),
        forged: "on",
        other: "off",
    },
    Setting {
        name: "boards.cache_budget",
        default: Expected::Is("16MB"),
        // In kB, the setting's unit: pg_settings shows them so.
        forged: "64",
        other: "1024",
    },
    Setting {
        name: "boards.seal_lifetime",
        default: Expected::Is("5min"),
        forged: "60",
        other: "3600",
    },
    // The tenant context itself: hidden from SHOW ALL, never writable by hand.
    Setting {
        name: "boards.context",
        default: Expected::Is(""),
        forged: "{}",
        other: "{\"tenant_id\": null}",
    },
];

/// Settings hidden from `pg_settings` on purpose (`GUC_NO_SHOW_ALL`).
pub const HIDDEN_SETTINGS: &[&str] = &["boards.context"];
