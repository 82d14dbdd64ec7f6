//! Building the Verilated core into a shared library, once per (design, tools, flags).
//!
//! The library lands in `<cache>/verilator/<key>/`, where `<key>` hashes everything that can
//! change the binary. A build runs in a private temporary directory that is renamed into place
//! when complete, so a reader never sees half a library and concurrent builders of the same
//! key cannot corrupt each other; a lock file makes the losers wait instead of duplicating the
//! work, and a stale lock (its owner died) is broken after a while.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::error::SimError;
use crate::toolchain::{verilator_version, Toolchain};

/// The harness compiled around a GEMM core.
pub(crate) const HARNESS_SOURCE: &str = include_str!("../harness/harness.cpp");

/// The harness compiled around a device top (a UART on each side).
pub(crate) const DEVICE_HARNESS_SOURCE: &str = include_str!("../harness/device_harness.cpp");

/// File name of the built library inside its cache directory.
pub(crate) const LIBRARY_NAME: &str = "libqtrain_core.so";

/// Verilator options. `-O3 --x-assign fast --x-initial fast` measurably speed up the model.
const VERILATOR_FLAGS: &[&str] = &[
    "--cc",
    "--exe",
    "-O3",
    "--x-assign",
    "fast",
    "--x-initial",
    "fast",
    "-Wno-fatal",
    "-Wno-lint",
    "-Wno-style",
    "--top-module",
    "top",
    "--prefix",
    "Vtop",
];

/// Everything is compiled position-independent and hidden, so that several designs (each
/// with its own `Vtop` and Verilator runtime) can live in one process without interposing.
const CFLAGS: &str = "-fPIC -fvisibility=hidden -fvisibility-inlines-hidden";
const LDFLAGS: &str = "-shared -Wl,-Bsymbolic";
/// verilated.mk defaults to `-Os`; the hot eval code gains from `-O3`. The "slow" code
/// (construction, initial blocks) runs once and stays unoptimized: it is as large as the hot
/// code and optimizing it would only lengthen the build.
const MAKE_OPT_FLAGS: &[&str] = &["OPT_FAST=-O3", "OPT_SLOW=", "OPT_GLOBAL=-O2"];

/// A lock older than this is assumed to belong to a dead builder.
const STALE_LOCK: Duration = Duration::from_secs(15 * 60);

/// The waveform format of a tracing build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TraceFormat {
    Vcd,
    Fst,
}

impl TraceFormat {
    /// FST for a `.fst` path, VCD otherwise.
    pub fn for_path(path: &Path) -> TraceFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("fst") => TraceFormat::Fst,
            _ => TraceFormat::Vcd,
        }
    }

    fn verilator_flags(self) -> &'static [&'static str] {
        match self {
            TraceFormat::Vcd => &["--trace"],
            TraceFormat::Fst => &["--trace-fst"],
        }
    }
}

/// `$QTRAIN_CACHE_DIR`, else `$XDG_CACHE_HOME/qtrain`, else `~/.cache/qtrain`.
pub fn cache_dir() -> Result<PathBuf, SimError> {
    let var = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(p) = var("QTRAIN_CACHE_DIR") {
        return Ok(p);
    }
    if let Some(p) = var("XDG_CACHE_HOME") {
        return Ok(p.join("qtrain"));
    }
    var("HOME")
        .map(|h| h.join(".cache").join("qtrain"))
        .ok_or(SimError::NoCacheDir)
}

/// FNV-1a over length-prefixed parts: a stable, dependency-free cache key (not a security
/// boundary: the cache is the user's own directory).
pub(crate) fn fnv1a128(parts: &[&[u8]]) -> u128 {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let mut h = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u128::from(b);
            h = h.wrapping_mul(PRIME);
        }
    };
    for part in parts {
        eat(&(part.len() as u64).to_le_bytes());
        eat(part);
    }
    h
}

/// The cache key of a build.
fn cache_key(
    harness: &str,
    verilog: &str,
    version: &str,
    cxx: &Path,
    trace: Option<TraceFormat>,
) -> String {
    let flags = format!(
        "{:?} {CFLAGS} {LDFLAGS} {:?} {:?} cxx={}",
        VERILATOR_FLAGS,
        MAKE_OPT_FLAGS,
        trace.map(TraceFormat::verilator_flags),
        cxx.display()
    );
    let h = fnv1a128(&[
        verilog.as_bytes(),
        harness.as_bytes(),
        version.as_bytes(),
        flags.as_bytes(),
    ]);
    let suffix = match trace {
        None => "",
        Some(TraceFormat::Vcd) => "-vcd",
        Some(TraceFormat::Fst) => "-fst",
    };
    format!("{h:032x}{suffix}")
}

/// Returns the path of the shared library simulating `verilog` inside the C++ `harness`,
/// building it if needed.
pub(crate) fn ensure_library(
    harness: &str,
    verilog: &str,
    trace: Option<TraceFormat>,
) -> Result<PathBuf, SimError> {
    let tools = Toolchain::find()?;
    let version = verilator_version()?;
    let root = cache_dir()?.join("verilator");
    let key = cache_key(harness, verilog, &version, &tools.cxx, trace);
    let final_dir = root.join(&key);
    let lib = final_dir.join(LIBRARY_NAME);
    if lib.is_file() {
        return Ok(lib);
    }
    fs::create_dir_all(&root)
        .map_err(|e| SimError::io(format!("creating {}", root.display()), e))?;

    // Threads of one process take turns; the lock file does the same across processes.
    static IN_PROCESS: Mutex<()> = Mutex::new(());
    let _turn = IN_PROCESS.lock().unwrap_or_else(|p| p.into_inner());
    let _lock = BuildLock::acquire(&root.join(format!("{key}.lock")), &lib)?;
    if lib.is_file() {
        return Ok(lib);
    }
    if final_dir.exists() {
        // A directory without its library (interrupted clean-up, a user's rm): rebuild it.
        fs::remove_dir_all(&final_dir)
            .map_err(|e| SimError::io(format!("removing {}", final_dir.display()), e))?;
    }
    let tmp = root.join(format!(
        ".tmp-{key}-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    build_into(&tools, &tmp, harness, verilog, &version, trace)?;
    match fs::rename(&tmp, &final_dir) {
        Ok(()) => Ok(lib),
        // Someone else (who ignored or broke our lock) got there first: theirs is as good.
        Err(_) if lib.is_file() => {
            let _ = fs::remove_dir_all(&tmp);
            Ok(lib)
        }
        Err(e) => Err(SimError::io(
            format!("renaming {} to {}", tmp.display(), final_dir.display()),
            e,
        )),
    }
}

/// Runs Verilator and make in `dir`, leaving `dir/LIBRARY_NAME` and a build log.
fn build_into(
    tools: &Toolchain,
    dir: &Path,
    harness: &str,
    verilog: &str,
    version: &str,
    trace: Option<TraceFormat>,
) -> Result<(), SimError> {
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        fs::write(&p, text).map_err(|e| SimError::io(format!("writing {}", p.display()), e))
    };
    fs::create_dir_all(dir).map_err(|e| SimError::io(format!("creating {}", dir.display()), e))?;
    write("top.v", verilog)?;
    write("harness.cpp", harness)?;

    let mut ldflags = LDFLAGS.to_string();
    if trace == Some(TraceFormat::Fst) {
        ldflags.push_str(" -lz");
    }
    let mut verilator = Command::new(&tools.verilator);
    verilator
        .current_dir(dir)
        .args(VERILATOR_FLAGS)
        .args(trace.map(TraceFormat::verilator_flags).unwrap_or(&[]))
        .args(["-Mdir", "obj", "-CFLAGS", CFLAGS, "-LDFLAGS", &ldflags])
        .args(["-o", LIBRARY_NAME, "top.v", "harness.cpp"]);
    let mut log = run("verilator", &mut verilator, dir)?;

    let jobs = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut make = Command::new(&tools.make);
    make.current_dir(dir.join("obj"))
        .args(["-s", "-f", "Vtop.mk", &format!("-j{jobs}")])
        .args(MAKE_OPT_FLAGS)
        .arg(format!("CXX={}", tools.cxx.display()))
        .arg(format!("LINK={}", tools.cxx.display()));
    log.push_str(&run("make", &mut make, dir)?);

    let built = dir.join("obj").join(LIBRARY_NAME);
    fs::rename(&built, dir.join(LIBRARY_NAME))
        .map_err(|e| SimError::io(format!("moving {}", built.display()), e))?;
    // The objects are only needed to rebuild, which never happens in place.
    let _ = fs::remove_dir_all(dir.join("obj"));
    write(
        "build.log",
        &format!("{version}\nverilator {VERILATOR_FLAGS:?} trace={trace:?}\n{log}"),
    )
}

/// Runs a build step, returning its output or a [`SimError::Build`] with the tail of it.
pub(crate) fn run(stage: &'static str, cmd: &mut Command, dir: &Path) -> Result<String, SimError> {
    let command = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| SimError::io(format!("running {command}"), e))?;
    let mut log = String::from_utf8_lossy(&out.stdout).into_owned();
    log.push_str(&String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        return Ok(log);
    }
    const TAIL: usize = 6000;
    let start = log
        .char_indices()
        .rev()
        .nth(TAIL)
        .map(|(i, _)| i)
        .unwrap_or(0);
    Err(SimError::Build {
        stage,
        command,
        dir: dir.to_path_buf(),
        log: log[start..].to_string(),
    })
}

/// An exclusive lock file, removed on drop.
struct BuildLock {
    path: PathBuf,
}

impl BuildLock {
    /// Takes the lock, waiting while another live builder holds it. Returns early (holding
    /// nothing) if `done` appears meanwhile; the caller re-checks it.
    fn acquire(path: &Path, done: &Path) -> Result<Option<BuildLock>, SimError> {
        let started = Instant::now();
        loop {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(_) => {
                    return Ok(Some(BuildLock {
                        path: path.to_path_buf(),
                    }))
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    if done.is_file() {
                        return Ok(None);
                    }
                    let age = fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok());
                    if age.is_some_and(|a| a > STALE_LOCK) || started.elapsed() > STALE_LOCK {
                        let _ = fs::remove_file(path);
                        continue;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => return Err(SimError::io(format!("creating lock {}", path.display()), e)),
            }
        }
    }
}

impl Drop for BuildLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_changes_with_every_input() {
        let cxx = Path::new("/usr/bin/g++");
        let base = cache_key(
            HARNESS_SOURCE,
            "module top; endmodule",
            "Verilator 5.006",
            cxx,
            None,
        );
        assert_eq!(
            base,
            cache_key(
                HARNESS_SOURCE,
                "module top; endmodule",
                "Verilator 5.006",
                cxx,
                None
            )
        );
        let others = [
            cache_key(
                HARNESS_SOURCE,
                "module top ; endmodule",
                "Verilator 5.006",
                cxx,
                None,
            ),
            cache_key(
                HARNESS_SOURCE,
                "module top; endmodule",
                "Verilator 5.008",
                cxx,
                None,
            ),
            cache_key(
                HARNESS_SOURCE,
                "module top; endmodule",
                "Verilator 5.006",
                Path::new("clang++"),
                None,
            ),
            cache_key(
                HARNESS_SOURCE,
                "module top; endmodule",
                "Verilator 5.006",
                cxx,
                Some(TraceFormat::Vcd),
            ),
            cache_key(
                HARNESS_SOURCE,
                "module top; endmodule",
                "Verilator 5.006",
                cxx,
                Some(TraceFormat::Fst),
            ),
        ];
        let device = cache_key(
            DEVICE_HARNESS_SOURCE,
            "module top; endmodule",
            "Verilator 5.006",
            cxx,
            None,
        );
        assert_ne!(base, device, "the harness did not change the key");
        for (i, o) in others.iter().enumerate() {
            assert_ne!(&base, o, "input {i} did not change the key");
        }
    }

    #[test]
    fn length_prefix_separates_parts() {
        assert_ne!(fnv1a128(&[b"ab", b"c"]), fnv1a128(&[b"a", b"bc"]));
    }

    #[test]
    fn trace_format_follows_extension() {
        assert_eq!(TraceFormat::for_path(Path::new("x.fst")), TraceFormat::Fst);
        assert_eq!(TraceFormat::for_path(Path::new("x.FST")), TraceFormat::Fst);
        assert_eq!(TraceFormat::for_path(Path::new("x.vcd")), TraceFormat::Vcd);
        assert_eq!(TraceFormat::for_path(Path::new("wave")), TraceFormat::Vcd);
    }

    #[test]
    fn stale_lock_is_broken_and_live_lock_released() {
        let dir = std::env::temp_dir().join(format!("qtrain-lock-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let lock = dir.join("k.lock");
        let done = dir.join("never");
        let held = BuildLock::acquire(&lock, &done).unwrap().unwrap();
        assert!(lock.is_file());
        drop(held);
        assert!(!lock.is_file());
        // A lock whose owner finished meanwhile: acquire returns without taking it.
        fs::write(&lock, "").unwrap();
        fs::write(dir.join("done"), "").unwrap();
        assert!(BuildLock::acquire(&lock, &dir.join("done"))
            .unwrap()
            .is_none());
        fs::remove_dir_all(&dir).unwrap();
    }
}
