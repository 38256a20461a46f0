//! Building and installing the extension into the local PostgreSQL, once per test process.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use crate::os;

/// Set to `1` to use whatever build of the extension is installed already.
const SKIP_VAR: &str = "BOARDS_TENANT_SKIP_INSTALL";
/// Coordinates test processes (flock): an install holds it exclusively, a process with
/// clusters holds it shared until it exits. `cargo pgrx install` rewrites the library in
/// place, which would crash (SIGBUS) the backends of another process's running cluster, and
/// two concurrent installs would write the same files. One lock per PostgreSQL tree (named
/// after its pg_config, byte for byte as `scripts/lib.sh: install_lock` names it), so an
/// install never waits on another tree's clusters.
fn lock_path() -> String {
    lock_path_for(os::pg_config())
}

fn lock_path_for(pg_config: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let tree: String = pg_config
        .as_os_str()
        .as_bytes()
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() {
                b as char
            } else {
                '_'
            }
        })
        .collect();
    format!("/tmp/boards_tenant_install.{tree}.lock")
}

/// Installs the extension the first time it is called in this process; later calls return the
/// first outcome, so a broken build fails every test quickly with the same message. Afterwards
/// this process holds the lock shared, so no other process reinstalls while its clusters run.
pub(crate) fn ensure_installed() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<File, String>> = OnceLock::new();
    match INSTALLED.get_or_init(|| {
        let lock = open_lock()?;
        if std::env::var(SKIP_VAR).is_ok_and(|v| v == "1") {
            flock(&lock, libc::LOCK_SH)?;
        } else {
            flock(&lock, libc::LOCK_EX)?;
            install()?;
            // Not atomic (flock drops, then retakes): another install may slip in between,
            // before any cluster of ours runs, which is harmless.
            flock(&lock, libc::LOCK_SH)?;
        }
        Ok(lock)
    }) {
        Ok(_) => Ok(()),
        Err(e) => Err(e.clone()),
    }
}

/// Runs `cargo pgrx install`; the caller holds the lock exclusively.
fn install() -> Result<(), String> {
    // The harness sits one level below the workspace root, which is the extension's crate.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("the harness crate has no parent directory")?;

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["pgrx", "install", "--pg-config"])
        .arg(os::pg_config())
        .current_dir(workspace);
    // `cargo test` gives its test binaries the CARGO_* variables of the test crate; none of
    // them describe the extension's build.
    for (name, _) in std::env::vars_os() {
        let name_str = name.to_string_lossy();
        if name_str.starts_with("CARGO_") && name_str != "CARGO_HOME" {
            cmd.env_remove(&name);
        }
    }
    // A target dir of its own: the outer `cargo test` may hold the lock on target/.
    cmd.env("CARGO_TARGET_DIR", workspace.join("target/harness-install"))
        // The output ends up in a panic message: no escape sequences.
        .env("CARGO_TERM_COLOR", "never")
        .env("NO_COLOR", "1");

    let output = cmd
        .output()
        .map_err(|e| format!("could not run `cargo pgrx install`: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`cargo pgrx install --pg-config {}` in {} failed: {}",
            os::pg_config().display(),
            workspace.display(),
            os::describe(&output)
        ));
    }
    // The released versions' install scripts, which `cargo pgrx install` does not copy.
    let script = workspace.join("scripts/install_released_sql.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg(os::pg_config())
        .output()
        .map_err(|e| format!("could not run {}: {e}", script.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed: {}",
            script.display(),
            os::describe(&output)
        ))
    }
}

/// The lock file, opened close-on-exec (std's default), so servers and watchdogs started
/// later do not inherit the lock.
fn open_lock() -> Result<File, String> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o666)
        .open(lock_path())
        // Another user's lock file: reading is enough for flock.
        .or_else(|_| File::open(lock_path()))
        .map_err(|e| format!("opening {}: {e}", lock_path()))
}

/// Takes (or converts to) `operation` (`LOCK_SH`, `LOCK_EX`), waiting as long as it takes.
fn flock(file: &File, operation: libc::c_int) -> Result<(), String> {
    // SAFETY: flock on a file descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
        Ok(())
    } else {
        Err(format!(
            "flock {}: {}",
            lock_path(),
            std::io::Error::last_os_error()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same path `scripts/lib.sh: install_lock` computes (`tr -c 'A-Za-z0-9' '_'`), so a
    /// script's install and the harness's clusters of one tree take one lock.
    #[test]
    fn the_lock_is_named_after_the_tree_as_the_scripts_name_it() {
        assert_eq!(
            lock_path_for(Path::new("/usr/bin/pg_config")),
            "/tmp/boards_tenant_install._usr_bin_pg_config.lock"
        );
        assert_eq!(
            lock_path_for(Path::new("/opt/pg-17.2/bin/pg_config")),
            "/tmp/boards_tenant_install._opt_pg_17_2_bin_pg_config.lock"
        );
    }
}
