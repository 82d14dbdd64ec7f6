//! Finding verilator, make and a C++ compiler on `PATH`.

use std::env;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::error::SimError;

/// The message for a missing Verilator, shared by the error and the test benches.
pub const VERILATOR_MISSING: &str =
    "verilator not found on PATH: install it with `apt-get install verilator` (Debian/Ubuntu)";

/// The tools a build needs, resolved to absolute paths.
#[derive(Debug, Clone)]
pub(crate) struct Toolchain {
    pub verilator: PathBuf,
    pub make: PathBuf,
    /// Passed to make as `CXX` and `LINK`, overriding the `g++` that verilated.mk names.
    pub cxx: PathBuf,
}

/// The first executable file called `name` in the directories of `PATH`
/// (or `name` itself if it already contains a slash and is executable).
pub(crate) fn which(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"));
    which_in(name, &path)
}

/// [`which`] with an explicit search path (so that tests need not change the environment).
pub(crate) fn which_in(name: &str, search_path: &OsStr) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    env::split_paths(search_path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

impl Toolchain {
    /// Resolves the tools, or says which one is missing and how to get it.
    pub fn find() -> Result<Toolchain, SimError> {
        let path = env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"));
        let cxx = env::var("CXX").ok().filter(|s| !s.trim().is_empty());
        Toolchain::find_in(&path, cxx.as_deref())
    }

    /// [`Toolchain::find`] with an explicit search path and `CXX`.
    pub fn find_in(search_path: &OsStr, cxx: Option<&str>) -> Result<Toolchain, SimError> {
        let verilator = which_in("verilator", search_path)
            .ok_or_else(|| SimError::ToolMissing(VERILATOR_MISSING.into()))?;
        let make = which_in("make", search_path).ok_or_else(|| {
            SimError::ToolMissing(
                "make not found on PATH (Verilator's build needs it): install it with \
                 `apt-get install make` (Debian/Ubuntu)"
                    .into(),
            )
        })?;
        let cxx_name = cxx.unwrap_or("g++").trim();
        let cxx = which_in(cxx_name, search_path).ok_or_else(|| {
            SimError::ToolMissing(format!(
                "C++ compiler `{cxx_name}` not found on PATH (Verilator's build needs one): \
                 install it with `apt-get install g++` (Debian/Ubuntu) or set CXX"
            ))
        })?;
        Ok(Toolchain {
            verilator,
            make,
            cxx,
        })
    }
}

/// The first line of `verilator --version`, e.g. `Verilator 5.006 2023-01-22 rev (Debian 5.006-3)`.
///
/// Part of the cache key, so upgrading Verilator rebuilds the simulations.
/// The answer is remembered for the life of the process once it succeeds.
pub fn verilator_version() -> Result<String, SimError> {
    static VERSION: OnceLock<String> = OnceLock::new();
    if let Some(v) = VERSION.get() {
        return Ok(v.clone());
    }
    let verilator =
        which("verilator").ok_or_else(|| SimError::ToolMissing(VERILATOR_MISSING.into()))?;
    let out = Command::new(&verilator)
        .arg("--version")
        .output()
        .map_err(|e| SimError::io(format!("running {} --version", verilator.display()), e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next().unwrap_or("").trim().to_string();
    if !out.status.success() || !line.starts_with("Verilator") {
        return Err(SimError::ToolMissing(format!(
            "{} --version did not report a version (exit {}, output {:?}); {VERILATOR_MISSING}",
            verilator.display(),
            out.status,
            line
        )));
    }
    Ok(VERSION.get_or_init(|| line).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_finds_sh_and_not_nonsense() {
        assert!(which("sh").is_some());
        assert!(which("qtrain-no-such-tool-4711").is_none());
        assert_eq!(which("/bin/sh"), Some(PathBuf::from("/bin/sh")));
    }

    #[test]
    fn missing_verilator_is_reported_with_install_hint() {
        let empty = std::env::temp_dir().join(format!("qtrain-empty-path-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        let err = Toolchain::find_in(empty.as_os_str(), None).unwrap_err();
        assert!(matches!(err, SimError::ToolMissing(_)), "{err:?}");
        assert_eq!(err.to_string(), VERILATOR_MISSING);
        std::fs::remove_dir(&empty).unwrap();
    }

    #[test]
    fn missing_compiler_is_named() {
        let Some(verilator) = which("verilator") else {
            eprintln!("skipped: verilator not installed");
            return;
        };
        let dir = verilator.parent().unwrap().as_os_str().to_owned();
        let err = Toolchain::find_in(&dir, Some("qtrain-no-such-cxx")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("qtrain-no-such-cxx") || msg.contains("make"),
            "{msg}"
        );
    }
}
