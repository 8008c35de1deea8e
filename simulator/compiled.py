"""The compiled CPU render kernel (`fastkernel.cpp`): built once per source and compiler, cached on disk, loaded with
ctypes; None (and one log line) where no working C++ compiler is found, and the engine keeps its torch path.

Cache: `<cache>/kernels/fastkernel-<sha256[:16]>.so`, where <cache> is $NBPARITY_CACHE_DIR, else
$XDG_CACHE_HOME/nbparity, else ~/.cache/nbparity. The hash covers the source, the compiler's identity (resolved path,
size, mtime), the flags, the machine type and the CPU's model and flags, so another compiler or CPU gets its own
build. A build is written to a temporary name and renamed into place, so concurrent first launches cannot load a
half-written file.

Compiler: $CXX, else g++, else c++. Flags: -O3 -march=native -fopenmp ($NBPARITY_KERNEL_MARCH=x86-64 builds for
the baseline ISA), and always -ffp-contract=off (the float64 path must keep the C reference's roundings).

The cache is untrusted input (issue 18, `kernel_cache`): a private folder, a library loaded only when it matches
the size and sha256 recorded after its build, a fresh build loaded first by a child process and then checked by a
known-answer render (`kernel_check`) before it is recorded; every build of a process shares one budget
(BUILD_BUDGET_S), runs the compiler in its own process group (killed whole on timeout, cancel or exception), and a
failed build is remembered per key. Any unusable cache gives the eager path and one log line.
ctypes releases the GIL during the call, so a GUI thread keeps running while a worker renders.
"""
from __future__ import annotations

import atexit
import ctypes
import hashlib
import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simulator import kernel_cache

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("fastkernel.cpp")
BASE_FLAGS = ["-O3", "-std=c++17", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math", "-fPIC", "-shared"]
# Tried in order: the first that compiles is used (a compiler without OpenMP or -march=native still gets a build).
# (tried in order: see _flag_sets)
BUILD_BUDGET_S = 180.0   # one budget for every try of one build (compiles and the child-process load together)


def build_budget_s() -> float:
    """BUILD_BUDGET_S, or $NBPARITY_BUILD_BUDGET_S when it is a positive number of seconds (a bad value: the
    default, with a debug line)."""
    raw = os.environ.get("NBPARITY_BUILD_BUDGET_S")
    if raw:
        try:
            v = float(raw)
            if 0 < v < float("inf"):
                return v
        except ValueError:
            pass
        log.debug("NBPARITY_BUILD_BUDGET_S=%r is not a positive number of seconds: using %g", raw, BUILD_BUDGET_S)
    return BUILD_BUDGET_S
W = 8                 # lanes per block in fastkernel.cpp (checked through nb_abi)
ABI_REVISION = 2      # what the calls mean (nb_abi): 2 = omega as one sum per block of W pixels

_D = ctypes.c_double
_I = ctypes.c_int64
_P = ctypes.c_void_p


class NBParams(ctypes.Structure):
    """Field for field the NBParams struct of fastkernel.cpp (lengths m, q 1/m)."""

    _fields_ = (
        [(n, _D) for n in ("pixel", "sub", "close_distance", "thickstep", "mu", "thick", "dmin", "polar_K", "I_bg",
                           "r_e_sqr", "fluence", "steps", "default_F", "Na", "Nb", "Nc")]
        + [(n, _D * 3) for n in ("pix0", "fdet", "sdet", "odet", "polar_axis")]
        + [(n, _I) for n in ("N", "layers", "S", "TM", "hkls", "nopolar", "point_pixel", "h_min", "k_min", "l_min",
                             "h_n", "k_n", "l_n", "first_pix", "first_t", "first_ss", "first_sf", "first_src",
                             "libm_sin", "padded")]
        + [(n, _P) for n in ("src_dir", "lambdas", "latN", "latF", "F64", "F2f")]
    )


def cache_dir() -> Path:
    """The user's cache folder of nbparity (see the module docstring)."""
    env = os.environ.get("NBPARITY_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "nbparity"


def _compiler() -> str | None:
    cxx = os.environ.get("CXX")
    if cxx:
        return shutil.which(cxx) or cxx
    return shutil.which("g++") or shutil.which("c++")


def _identity(cxx: str) -> str:
    """The compiler's resolved path, size and mtime ('' when it is not a file): a new compiler gets a new key, and
    a cached library loads without starting a process (a fork of a GUI process holds the GIL for tens of ms)."""
    try:
        real = os.path.realpath(cxx)
        st = os.stat(real)
    except OSError:
        return ""
    return f"{real}:{st.st_size}:{st.st_mtime_ns}"


@dataclass
class FastKernel:
    """The loaded library and where it came from."""

    lib: ctypes.CDLL
    path: Path | None    # None: a library checked before it is cached (simulator.kernel_check)
    built: bool          # compiled by this process (False: loaded from the cache)

    def render(self, params: NBParams, pixels: tuple[np.ndarray, np.ndarray] | tuple[int, int, int, int, int],
               double: bool, threads: int, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(image values (n,) float32 (into `out` when given), omega (ceil(n / W),) float64: the solid angle (sr) of
        each block of W pixels, added in order) of `pixels`: (s_idx, f_idx) (n,) int32 arrays, or (start, n, w,
        xmin, ymin): render indices start..start+n-1 of a w-wide ROI whose corner is (xmin, ymin), in raster order.
        Per-block sums: a per-pixel float64 array would be twice the image's memory traffic for one log line."""
        if len(pixels) == 2:
            s = np.ascontiguousarray(pixels[0], dtype=np.int32)
            f = np.ascontiguousarray(pixels[1], dtype=np.int32)
            sp: int | None
            fp: int | None
            n, sp, fp, start, w, x0, y0 = int(s.shape[0]), s.ctypes.data, f.ctypes.data, 0, 1, 0, 0
        else:
            start, n, w, x0, y0 = (int(v) for v in pixels)
            sp = fp = None   # NULL: the kernel walks the ROI
        if out is None:
            out = np.empty(n, dtype=np.float32)
        assert out.dtype == np.float32 and out.shape == (n,) and out.flags.c_contiguous
        omega = np.empty(-(-n // W), dtype=np.float64)
        fn = self.lib.nb_render_f64 if double else self.lib.nb_render_f32
        fn(ctypes.byref(params), n, sp, fp, start, w, x0, y0, out.ctypes.data, omega.ctypes.data,
           max(1, int(threads)))
        return out, omega

    def moments(self, values: np.ndarray, threads: int = 1) -> tuple[float, float, float, int, float, float]:
        """(sum, sum of squares, max, index of the first max, sum of (v - mean)^2, mean) of values (n,) float32,
        mean = sum / max(n, 2); in double, without holding the GIL, on `threads` threads (the sums are added in
        fixed blocks and lanes: the same bits for any thread count)."""
        v = np.ascontiguousarray(values, dtype=np.float32)
        out = np.zeros(6, dtype=np.float64)
        self.lib.nb_moments(v.ctypes.data, v.shape[0], out.ctypes.data, max(1, int(threads)))
        return float(out[0]), float(out[1]), float(out[2]), int(out[3]), float(out[4]), float(out[5])

    def lattice_f32(self, h: np.ndarray, n_cells: tuple[float, float, float], ceil_h0: bool
                    ) -> tuple[np.ndarray, np.ndarray, bool]:
        """The float32 path's F_latt of index triples h (n, 3) float64 for N = n_cells, from the axis loop and from
        the form the kernel uses, and whether that form is the packed one (for tests: they must agree bit for bit)."""
        h = np.ascontiguousarray(h, dtype=np.float64).reshape(-1, 3)
        loop = np.empty(h.shape[0], dtype=np.float32)
        used = np.empty_like(loop)
        packed = self.lib.nb_lattice_f32(h.ctypes.data, h.shape[0], *map(float, n_cells), int(ceil_h0),
                                         loop.ctypes.data, used.ctypes.data)
        return loop, used, bool(packed)

    def sin(self, x: np.ndarray) -> np.ndarray:
        """The float64 path's vectorised sine on x (n,) float64 (for tests)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        out = np.empty_like(x)
        self.lib.nb_sin_f64(x.ctypes.data, out.ctypes.data, x.shape[0])
        return out


def _declare(lib: ctypes.CDLL) -> None:
    sig = [ctypes.POINTER(NBParams), _I, _P, _P, _I, _I, _I, _I, _P, _P, ctypes.c_int]
    for name in ("nb_render_f64", "nb_render_f32"):
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = sig, _I
    lib.nb_sin_f64.argtypes, lib.nb_sin_f64.restype = [_P, _P, _I], None
    lib.nb_lattice_f32.argtypes = [_P, _I, ctypes.c_double, ctypes.c_double, ctypes.c_double, _I, _P, _P]
    lib.nb_lattice_f32.restype = _I
    lib.nb_moments.argtypes, lib.nb_moments.restype = [_P, _I, _P, ctypes.c_int], None
    lib.nb_abi.argtypes, lib.nb_abi.restype = [], _I


def _load(path: Path) -> ctypes.CDLL | None:
    """dlopen a library that `kernel_cache.verify` accepted (or that a child process loaded first)."""
    try:
        lib = ctypes.CDLL(str(path))
        _declare(lib)
    except (OSError, AttributeError) as e:
        log.debug("cannot load %s: %s", path, e)
        return None
    if lib.nb_abi() != ctypes.sizeof(NBParams) * 1000 + ABI_REVISION * 100 + W:
        log.debug("%s: layout mismatch", path)
        return None
    return lib


class BuildCut(Exception):
    """The build was stopped from outside (cancel event, --timeout): not remembered as a failure."""


def _run_group(argv: list[str], deadline: float, cancel) -> tuple[int | None, str]:
    """Run `argv` in its own process group until it ends, `deadline` (time.monotonic) passes or `cancel.is_set()`:
    (exit status, or None when it ran out of time; its output's first complaint). The whole group is killed on
    every way out (the budget, cancel, an exception such as KeyboardInterrupt from SIGINT/SIGTERM handlers), so no
    compiler child outlives the build. Raises BuildCut when cancelled."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        _LOADER.groups.add(proc.pid)
        try:
            while True:
                try:
                    rc = proc.wait(timeout=0.1)
                    break
                except subprocess.TimeoutExpired:
                    if cancel is not None and cancel.is_set():
                        raise BuildCut("cancelled") from None
                    if time.monotonic() >= deadline:
                        return None, ""
        finally:
            _kill_group(proc)
        out.seek(0)
        text = out.read(1 << 16).decode("utf-8", "replace")
    lines = text.strip().splitlines()
    errs = [ln for ln in lines if "error" in ln.lower()]
    return rc, ((errs or lines or [f"exit {rc}"])[0]).strip()[:300]


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)   # the leader's group: its children too, even after it exited
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL not delivered within 5 s
        log.warning("compiler process %d did not end after SIGKILL", proc.pid)
    _LOADER.groups.discard(proc.pid)


_CHILD_LOAD = ("import ctypes, sys\n"
               "lib = ctypes.CDLL(sys.argv[1])\n"
               "lib.nb_abi.restype = ctypes.c_int64\n"
               "print(lib.nb_abi())\n")


def _build(cxx: str, flags: list[str], target: Path, deadline: float, cancel) -> str | None:
    """Compile SOURCE to `target`: compiled into a temporary file, loaded first by a child process (a broken
    library kills the child, not us), hashed into its sidecar, then renamed into place. None on success, else the
    complaint. Raises BuildCut when cancelled."""
    fd, tmp = tempfile.mkstemp(prefix=target.stem + ".", suffix=".tmp.so", dir=target.parent)
    os.close(fd)
    try:
        rc, err = _run_group([cxx, *flags, "-o", tmp, str(SOURCE)], deadline, cancel)
        if rc is None:
            return f"the compiler did not finish within the build budget of {build_budget_s():g} s"
        if rc != 0:
            return err
        rc, err = _run_group([sys.executable, "-c", _CHILD_LOAD, tmp], deadline, cancel)
        if rc != 0:
            return "the built library does not load" + (f" ({err})" if rc is not None else " (timed out)")
        os.chmod(tmp, 0o600)
        size, digest = kernel_cache.sha256_file(Path(tmp))
        os.replace(tmp, target)
        kernel_cache.record(target, size, digest, flags)
        return None
    except OSError as e:
        return str(e)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class _Loader:
    """Builds or loads the kernel once per process (thread-safe); remembers a failure so it is reported once.
    `groups`: process groups of compilers running now (killed at exit if a daemon thread still waits on one)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._done = False
        self._kernel: FastKernel | None = None
        self.reason = ""
        self.groups: set[int] = set()

    def get(self, cancel=None) -> FastKernel | None:
        with self._lock:
            if not self._done:
                try:
                    self._kernel, self.reason = _find_or_build(cancel)
                except BuildCut:
                    return None  # cut from outside: not remembered, a later call may build
                except _CheckError as e:
                    self._kernel, self.reason = None, str(e)
                self._done = True
                if self._kernel is None:
                    log.warning("compiled kernel unavailable (%s): the PyTorch engine uses its eager path",
                                self.reason)
            return self._kernel

    def reset(self) -> None:
        """Forget the result (tests: another environment)."""
        with self._lock:
            self._done, self._kernel, self.reason = False, None, ""

    def kill_groups(self) -> None:
        for pgid in list(self.groups):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _cpu_id() -> str:
    """The CPU's model and feature flags (a -march=native build must not load on another CPU sharing the cache)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    return "|".join(next((ln for ln in lines if ln.startswith(key)), "") for key in ("model name", "flags"))


def _flag_sets() -> list[list[str]]:
    """The optional flag sets, in order; $NBPARITY_KERNEL_MARCH=ARCH builds for ARCH instead of the host (e.g.
    x86-64: the baseline ISA, as CI's narrowed run does), =none leaves -march out."""
    march = os.environ.get("NBPARITY_KERNEL_MARCH", "native").strip() or "native"
    arch = [] if march == "none" else [f"-march={march}"]
    sets = [arch + ["-fopenmp"], ["-fopenmp"], arch, []]
    return [x for i, x in enumerate(sets) if x not in sets[:i]]


def _key(*parts: str | bytes) -> str:
    return hashlib.sha256(b"\0".join(p if isinstance(p, bytes) else p.encode() for p in parts)).hexdigest()[:16]


def _find_or_build(cancel=None) -> tuple[FastKernel | None, str]:
    cxx = _compiler()
    if cxx is None:
        return None, "no C++ compiler found ($CXX, g++, c++)"
    ident = _identity(cxx)
    if not ident:
        return None, f"the C++ compiler {cxx} is not a file"
    try:
        cache = cache_dir() / "kernels"
    except (RuntimeError, KeyError, OSError) as e:   # no home folder to put a cache in
        return None, f"no cache folder: {e}"
    why = kernel_cache.private_dir(cache)
    if why:
        return None, why
    src, cpu = SOURCE.read_bytes(), _cpu_id()
    sets = _flag_sets()
    base = _key(src, cxx, ident, platform.machine(), cpu, repr(sets))
    remembered = kernel_cache.recalled_failure(cache, base)
    errors: list[str] = []
    deadline = time.monotonic() + build_budget_s()
    for extra in sets:
        flags = BASE_FLAGS + extra
        path = cache / f"fastkernel-{_key(src, cxx, ident, ' '.join(flags), platform.machine(), cpu)}.so"
        if path.exists() or kernel_cache.sidecar(path).exists():
            bad = kernel_cache.verify(path)
            if bad is None:
                lib = _load(path)
                if lib is not None:
                    return FastKernel(lib, path, built=False), ""
                bad = "it does not load"
            log.info("refusing the cached kernel %s: %s", path, bad)
            kernel_cache.discard(path)
        if remembered:
            continue
        if time.monotonic() >= deadline:
            errors.append(f"the build budget of {build_budget_s():g} s is spent")
            break
        err = _build(cxx, flags, path, deadline, cancel)
        if err is None:
            lib = _load(path) if kernel_cache.verify(path) is None else None
            if lib is None:
                err = "the built library does not load"
            else:
                try:
                    err = _check(lib)
                except _CheckError:
                    kernel_cache.discard(path)
                    raise
                if err is None:
                    log.info("built the compiled kernel %s", path)
                    return FastKernel(lib, path, built=True), ""
            kernel_cache.discard(path)
        errors.append(err)
        if "build budget" in err:
            break   # a compiler that hangs hangs with every flag set
    if remembered:
        marker = kernel_cache.failure_marker(cache, base)
        return None, f"an earlier build with {cxx} failed ({remembered}); delete {marker} to try again"
    reason = f"{cxx} failed: {errors[0]}"
    kernel_cache.remember_failure(cache, base, reason)
    return None, reason


def _check(lib: ctypes.CDLL) -> str | None:
    """The known-answer render (simulator.kernel_check); a problem running it is a failed check."""
    from simulator.kernel_check import known_answer
    try:
        return known_answer(lib)
    except Exception as e:  # noqa: BLE001 - our own problem, not the compiler's: refused now, not remembered
        log.debug("known-answer render failed", exc_info=True)
        raise _CheckError(f"known-answer render failed: {type(e).__name__}: {e}") from e


class _CheckError(Exception):
    """The known-answer check itself failed (not the library): the build is refused but not remembered."""


_LOADER = _Loader()
atexit.register(_LOADER.kill_groups)   # a build on a daemon thread is not unwound at exit: kill its compiler


def kernel(cancel=None) -> FastKernel | None:
    """The process's compiled kernel, building it on first use (about 5 s) unless the cache has it; None if no
    compiler works (logged once). `cancel` (anything with is_set(): an event, the engine's Deadline) cuts a build
    at once; a cut build returns None and is neither logged nor remembered."""
    if os.environ.get("NBPARITY_COMPILED") == "0":
        return None
    return _LOADER.get(cancel)


def unavailable_reason() -> str:
    """Why `kernel()` returned None ('' when it did not, or was not asked yet)."""
    return _LOADER.reason


def reset() -> None:
    """Forget the loaded kernel (tests switch the compiler or cache folder)."""
    _LOADER.reset()
