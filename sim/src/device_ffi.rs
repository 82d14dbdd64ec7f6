//! The C ABI of `harness/device_harness.cpp`, loaded with libloading.

use std::ffi::{c_char, c_int, c_void, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use libloading::Library;

use crate::error::SimError;
use crate::ffi::{load_shared, open_local, LibCache};

/// Must equal `QT_DEV_ABI_VERSION` in the device harness.
const ABI_VERSION: u32 = 1;

/// Entries of `qt_dev_counters`' output array.
pub(crate) const COUNTERS: usize = 7;

type AbiVersionFn = unsafe extern "C" fn() -> u32;
type HasTraceFn = unsafe extern "C" fn() -> c_int;
type CreateFn = unsafe extern "C" fn(*const c_char, u32, u32, u32) -> *mut c_void;
type DestroyFn = unsafe extern "C" fn(*mut c_void);
type SendFn = unsafe extern "C" fn(*mut c_void, *const u8, usize);
type PendingFn = unsafe extern "C" fn(*mut c_void) -> u64;
type CountersFn = unsafe extern "C" fn(*mut c_void, *mut u64);
type RunFn = unsafe extern "C" fn(*mut c_void, u64, *mut u8, usize, c_int, u64, *mut usize) -> u64;

/// A loaded device simulation library: its entry points, valid while `_lib` lives.
pub(crate) struct DeviceLib {
    create: CreateFn,
    destroy: DestroyFn,
    send: SendFn,
    pending: PendingFn,
    counters: CountersFn,
    run: RunFn,
    has_trace: bool,
    path: PathBuf,
    _lib: Library,
}

impl DeviceLib {
    /// Loads `path`, sharing one handle per path within the process.
    pub fn load(path: &Path) -> Result<Arc<DeviceLib>, SimError> {
        static LOADED: LibCache<DeviceLib> = Mutex::new(None);
        load_shared(&LOADED, path, DeviceLib::open)
    }

    fn open(path: &Path) -> Result<DeviceLib, SimError> {
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
            let abi: AbiVersionFn = sym!("qt_dev_abi_version", AbiVersionFn);
            let version = abi();
            if version != ABI_VERSION {
                return Err(fail(format!(
                    "device harness ABI version {version}, expected {ABI_VERSION}"
                )));
            }
            let has_trace: HasTraceFn = sym!("qt_dev_has_trace", HasTraceFn);
            Ok(DeviceLib {
                create: sym!("qt_dev_create", CreateFn),
                destroy: sym!("qt_dev_destroy", DestroyFn),
                send: sym!("qt_dev_send", SendFn),
                pending: sym!("qt_dev_pending", PendingFn),
                counters: sym!("qt_dev_counters", CountersFn),
                run: sym!("qt_dev_run", RunFn),
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

/// What one `qt_dev_run` call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunOutcome {
    /// Ticks run.
    pub cycles: u64,
    /// Bytes written to the output buffer.
    pub bytes: usize,
}

/// One device instance (its own VerilatedContext), destroyed on drop.
pub(crate) struct DeviceInstance {
    handle: *mut c_void,
    lib: Arc<DeviceLib>,
}

// SAFETY: an instance owns its Verilator context and model outright; nothing in it is tied to
// the creating thread, and `&mut self` on every mutating call rules out concurrent use.
unsafe impl Send for DeviceInstance {}

impl DeviceInstance {
    /// A fresh device with its rate ports set, tracing to `trace` if given.
    pub fn new(
        lib: Arc<DeviceLib>,
        trace: Option<&Path>,
        clocks_per_bit: u16,
        clock_hz: u32,
        baud: u32,
    ) -> Result<DeviceInstance, SimError> {
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
        let handle = unsafe { (lib.create)(ptr, clocks_per_bit.into(), clock_hz, baud) };
        if handle.is_null() {
            return Err(fail("qt_dev_create returned null".into()));
        }
        Ok(DeviceInstance { handle, lib })
    }

    /// Queues host bytes for the serializer.
    pub fn send(&mut self, bytes: &[u8]) {
        // SAFETY: the pointer and length describe `bytes`, which the harness copies.
        unsafe { (self.lib.send)(self.handle, bytes.as_ptr(), bytes.len()) }
    }

    /// Host bytes not yet completely on the line.
    pub fn pending(&self) -> u64 {
        // SAFETY: `handle` is a live instance of `lib`.
        unsafe { (self.lib.pending)(self.handle) }
    }

    /// The harness counters, in the order of `qt_dev_counters`.
    pub fn counters(&self) -> [u64; COUNTERS] {
        let mut out = [0u64; COUNTERS];
        // SAFETY: `out` holds the COUNTERS entries the harness writes.
        unsafe { (self.lib.counters)(self.handle, out.as_mut_ptr()) };
        out
    }

    /// Runs the device (see `qt_dev_run`), receiving into `out`.
    pub fn run(
        &mut self,
        max_cycles: u64,
        out: &mut [u8],
        stop_byte: Option<u8>,
        idle_stop: u64,
    ) -> RunOutcome {
        let mut got = 0usize;
        let stop = stop_byte.map_or(-1, c_int::from);
        // SAFETY: `out` is writable for its length, `got` is a live local.
        let cycles = unsafe {
            (self.lib.run)(
                self.handle,
                max_cycles,
                out.as_mut_ptr(),
                out.len(),
                stop,
                idle_stop,
                &mut got,
            )
        };
        RunOutcome { cycles, bytes: got }
    }

    /// The library this instance runs in.
    pub fn library(&self) -> &DeviceLib {
        &self.lib
    }
}

impl Drop for DeviceInstance {
    fn drop(&mut self) {
        // SAFETY: `handle` came from `create` of the same library, which `self.lib` keeps
        // loaded, and is destroyed exactly once.
        unsafe { (self.lib.destroy)(self.handle) }
    }
}
