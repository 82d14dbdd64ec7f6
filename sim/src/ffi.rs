//! The C ABI of `harness/harness.cpp`, loaded with libloading.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use libloading::Library;

use crate::error::SimError;

/// Must equal `QT_ABI_VERSION` in the harness.
const ABI_VERSION: u32 = 2;

type AbiVersionFn = unsafe extern "C" fn() -> u32;
type HasTraceFn = unsafe extern "C" fn() -> c_int;
type CreateFn = unsafe extern "C" fn(*const c_char) -> *mut c_void;
type DestroyFn = unsafe extern "C" fn(*mut c_void);
type CyclesFn = unsafe extern "C" fn(*mut c_void) -> u64;
type WriteFn = unsafe extern "C" fn(*mut c_void, *const u64, usize);
type ReadFn = unsafe extern "C" fn(*mut c_void, *const u64, *mut u16, usize);
#[allow(clippy::type_complexity)]
type GemmFn = unsafe extern "C" fn(
    *mut c_void,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u64,
    *mut u64,
    *mut u32,
) -> c_int;

/// A loaded simulation library: its entry points, valid while `_lib` lives.
pub(crate) struct CoreLib {
    create: CreateFn,
    destroy: DestroyFn,
    cycles: CyclesFn,
    write: WriteFn,
    read: ReadFn,
    gemm: GemmFn,
    has_trace: bool,
    path: PathBuf,
    _lib: Library,
}

/// Loaded libraries, one handle per path within the process.
pub(crate) type LibCache<T> = Mutex<Option<HashMap<PathBuf, Arc<T>>>>;

/// Returns the handle `cache` holds for `path`, opening it with `open` the first time.
pub(crate) fn load_shared<T>(
    cache: &LibCache<T>,
    path: &Path,
    open: impl FnOnce(&Path) -> Result<T, SimError>,
) -> Result<Arc<T>, SimError> {
    let mut loaded = cache.lock().unwrap_or_else(|p| p.into_inner());
    let map = loaded.get_or_insert_with(HashMap::new);
    if let Some(lib) = map.get(path) {
        return Ok(lib.clone());
    }
    let lib = Arc::new(open(path)?);
    map.insert(path.to_path_buf(), lib.clone());
    Ok(lib)
}

/// Opens a library built from one of our harnesses. RTLD_LOCAL keeps its symbols away from
/// the other designs loaded in the same process.
pub(crate) fn open_local(path: &Path) -> Result<Library, SimError> {
    // SAFETY: the library is one we built from a harness in sim/harness/; its initialisers
    // only set up the Verilator runtime.
    let lib = unsafe {
        libloading::os::unix::Library::open(
            Some(path),
            libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL,
        )
    }
    .map_err(|e| SimError::Load {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(Library::from(lib))
}

impl CoreLib {
    /// Loads `path`, sharing one handle per path within the process.
    pub fn load(path: &Path) -> Result<Arc<CoreLib>, SimError> {
        static LOADED: LibCache<CoreLib> = Mutex::new(None);
        load_shared(&LOADED, path, CoreLib::open)
    }

    fn open(path: &Path) -> Result<CoreLib, SimError> {
        let fail = |reason: String| SimError::Load {
            path: path.to_path_buf(),
            reason,
        };
        let lib = open_local(path)?;
        // SAFETY: each symbol is looked up with the exact signature the harness defines, and
        // the copied function pointers are only used while `_lib` (stored alongside) is alive.
        unsafe {
            macro_rules! sym {
                ($name:literal, $t:ty) => {
                    *lib.get::<$t>(concat!($name, "\0").as_bytes())
                        .map_err(|e| fail(format!("missing symbol {}: {e}", $name)))?
                };
            }
            let abi: AbiVersionFn = sym!("qt_abi_version", AbiVersionFn);
            let version = abi();
            if version != ABI_VERSION {
                return Err(fail(format!(
                    "harness ABI version {version}, expected {ABI_VERSION}"
                )));
            }
            let has_trace: HasTraceFn = sym!("qt_has_trace", HasTraceFn);
            Ok(CoreLib {
                create: sym!("qt_create", CreateFn),
                destroy: sym!("qt_destroy", DestroyFn),
                cycles: sym!("qt_cycles", CyclesFn),
                write: sym!("qt_write", WriteFn),
                read: sym!("qt_read", ReadFn),
                gemm: sym!("qt_gemm", GemmFn),
                has_trace: has_trace() != 0,
                path: path.to_path_buf(),
                _lib: lib,
            })
        }
    }

    /// Where the library was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// How a GEMM run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunStatus {
    Done,
    NotStarted,
    Timeout,
}

/// The configuration ports of one GEMM.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GemmConfig {
    pub m: u32,
    pub k: u32,
    pub n: u32,
    pub fl_a: u32,
    pub fl_b: u32,
    pub fl_c: u32,
    pub rounding: u32,
    pub row_state: u32,
    pub col_state: u32,
    /// Nonzero: add the C scratchpad's contents (`C_in`).
    pub accumulate: u32,
}

/// One instance of the model (its own VerilatedContext), destroyed on drop.
pub(crate) struct Instance {
    handle: *mut c_void,
    lib: Arc<CoreLib>,
}

// SAFETY: an instance owns its Verilator context and model outright; nothing in it is tied to
// the creating thread, and `&mut self` on every call rules out concurrent use.
unsafe impl Send for Instance {}

impl Instance {
    /// A fresh model, tracing to `trace` if given (the library must have been built for it).
    pub fn new(lib: Arc<CoreLib>, trace: Option<&Path>) -> Result<Instance, SimError> {
        let fail = |reason: String| SimError::Load {
            path: lib.path.clone(),
            reason,
        };
        if trace.is_some() && !lib.has_trace {
            return Err(fail("this build has no tracing support".into()));
        }
        let c_path = trace
            .map(|p| CString::new(p.as_os_str().as_bytes()))
            .transpose()
            .map_err(|_| fail("the trace path contains a NUL byte".into()))?;
        let ptr = c_path.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        // SAFETY: `ptr` is null or a NUL-terminated string that outlives the call.
        let handle = unsafe { (lib.create)(ptr) };
        if handle.is_null() {
            return Err(fail("qt_create returned null".into()));
        }
        Ok(Instance { handle, lib })
    }

    /// Total ticks since creation.
    pub fn cycles(&self) -> u64 {
        // SAFETY: `handle` is a live instance of `lib`.
        unsafe { (self.lib.cycles)(self.handle) }
    }

    /// Writes packed scratchpad words, one per clock (layout in harness.cpp).
    pub fn write(&mut self, words: &[u64]) {
        // SAFETY: the pointer and length describe `words`.
        unsafe { (self.lib.write)(self.handle, words.as_ptr(), words.len()) }
    }

    /// Reads C words at packed addresses, one per clock.
    pub fn read(&mut self, addrs: &[u64]) -> Vec<u16> {
        let mut out = vec![0u16; addrs.len()];
        // SAFETY: both buffers hold `addrs.len()` elements.
        unsafe { (self.lib.read)(self.handle, addrs.as_ptr(), out.as_mut_ptr(), addrs.len()) };
        out
    }

    /// Starts a GEMM and clocks until `busy` falls or `max_cycles` ticks have run.
    /// Returns the status, the ticks run and the core's `cycles` output.
    pub fn gemm(&mut self, cfg: &GemmConfig, max_cycles: u64) -> (RunStatus, u64, u32) {
        let mut ticks = 0u64;
        let mut core_cycles = 0u32;
        // SAFETY: the out-pointers are to live locals.
        let status = unsafe {
            (self.lib.gemm)(
                self.handle,
                cfg.m,
                cfg.k,
                cfg.n,
                cfg.fl_a,
                cfg.fl_b,
                cfg.fl_c,
                cfg.rounding,
                cfg.row_state,
                cfg.col_state,
                cfg.accumulate,
                max_cycles,
                &mut ticks,
                &mut core_cycles,
            )
        };
        let status = match status {
            0 => RunStatus::Done,
            1 => RunStatus::NotStarted,
            _ => RunStatus::Timeout,
        };
        (status, ticks, core_cycles)
    }

    /// The library this instance runs in.
    pub fn library(&self) -> &CoreLib {
        &self.lib
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: `handle` came from `create` of the same library, which `self.lib` keeps
        // loaded, and is destroyed exactly once.
        unsafe { (self.lib.destroy)(self.handle) }
    }
}
