//! Operating-system plumbing: the OS user servers run as, the PostgreSQL binaries, temporary
//! directories.

use std::ffi::{CStr, CString, OsString};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The OS user a server runs as: `postgres` when we are root (Postgres refuses to run as root),
/// else ourselves, in which case commands run without switching user.
pub(crate) struct ServerUser {
    /// `(uid, gid)` to switch to, `None` when no switch is needed.
    ids: Option<(libc::uid_t, libc::gid_t)>,
}

impl ServerUser {
    pub(crate) fn get() -> &'static ServerUser {
        static USER: OnceLock<ServerUser> = OnceLock::new();
        USER.get_or_init(|| {
            // SAFETY: geteuid has no preconditions.
            let ids = (unsafe { libc::geteuid() } == 0).then(|| lookup_user(c"postgres"));
            ServerUser { ids }
        })
    }

    /// `program` set up to run as this user, in `cwd` (which the user must be able to enter:
    /// the checkout may not be), with no `PG*` variables of ours leaking into the server.
    pub(crate) fn command(&self, program: impl AsRef<Path>, cwd: &Path) -> Command {
        let mut cmd = Command::new(program.as_ref());
        cmd.current_dir(cwd);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PG") {
                cmd.env_remove(name);
            }
        }
        // std drops the supplementary groups too when it switches uid as root.
        if let Some((uid, gid)) = self.ids {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    /// Gives `path` to this user, so that the server (and the watchdog) can write and remove it.
    pub(crate) fn chown(&self, path: &Path) -> Result<(), String> {
        match self.ids {
            Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", path.display())),
            None => Ok(()),
        }
    }
}

fn lookup_user(name: &CStr) -> (libc::uid_t, libc::gid_t) {
    // SAFETY: passwd is plain old data; getpwnam_r fills it and points its strings into `buf`,
    // which outlives every use of `pwd` (we only read the numeric ids).
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            panic!(
                "running as root, but the OS user {name:?} that PostgreSQL servers run as does not exist (getpwnam_r: {rc})"
            );
        }
        (pwd.pw_uid, pwd.pw_gid)
    }
}

/// The `pg_config` to use: `$PG_CONFIG`, else the first on `$PATH`, else `/usr/bin/pg_config`.
pub(crate) fn pg_config() -> &'static Path {
    static PG_CONFIG: OnceLock<PathBuf> = OnceLock::new();
    PG_CONFIG.get_or_init(|| {
        if let Some(path) = std::env::var_os("PG_CONFIG") {
            return PathBuf::from(path);
        }
        std::env::var_os("PATH")
            .and_then(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join("pg_config"))
                    .find(|candidate| candidate.is_file())
            })
            .unwrap_or_else(|| PathBuf::from("/usr/bin/pg_config"))
    })
}

/// The directory holding `initdb`, `pg_ctl` and `postgres` of [`pg_config`]'s installation.
pub(crate) fn bindir() -> &'static Path {
    static BINDIR: OnceLock<PathBuf> = OnceLock::new();
    BINDIR.get_or_init(|| bindir_of(pg_config()))
}

/// `<pg_config> --bindir`: where a PostgreSQL installation keeps its programs.
pub(crate) fn bindir_of(pg_config: &Path) -> PathBuf {
    let output = Command::new(pg_config)
        .arg("--bindir")
        .output()
        .unwrap_or_else(|e| panic!("running {} failed: {e}", pg_config.display()));
    if !output.status.success() {
        panic!(
            "{} --bindir failed:\n{}",
            pg_config.display(),
            describe(&output)
        );
    }
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// A fresh directory `/tmp/<prefix>XXXXXX`, mode 0700, owned by us (mkdtemp).
pub(crate) fn make_temp_dir(prefix: &str) -> Result<PathBuf, String> {
    let template = CString::new(format!("/tmp/{prefix}XXXXXX"))
        .map_err(|e| format!("bad temp dir prefix {prefix:?}: {e}"))?;
    let mut bytes = template.into_bytes_with_nul();
    // SAFETY: `bytes` is a writable NUL-terminated template ending in XXXXXX, as mkdtemp needs.
    let ptr = unsafe { libc::mkdtemp(bytes.as_mut_ptr().cast()) };
    if ptr.is_null() {
        return Err(format!("mkdtemp: {}", std::io::Error::last_os_error()));
    }
    bytes.pop(); // the NUL
    Ok(PathBuf::from(OsString::from_vec(bytes)))
}

/// Exit status, stdout and stderr of a finished command, for error messages.
pub(crate) fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
