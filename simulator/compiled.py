"""The compiled CPU render kernel (`fastkernel.cpp`): built once per source and compiler, cached on disk, loaded with
ctypes; None (and one log line) where no working C++ compiler is found, and the engine keeps its torch path.

Cache: `<cache>/kernels/fastkernel-<sha256[:16]>.so`, where <cache> is $NBPARITY_CACHE_DIR, else
$XDG_CACHE_HOME/nbparity, else ~/.cache/nbparity. The hash covers the source, the compiler's identity (resolved path,
size, mtime), the flags, the machine type and the CPU's model and flags, so another compiler or CPU gets its own
build. A build is written to a temporary name and renamed into place, so concurrent first launches cannot load a
half-written file.

Compiler: $CXX, else g++, else c++. Flags: -O3 -march=native -fopenmp, and always -ffp-contract=off (the float64
path must keep the C reference's roundings). ctypes releases the GIL during the call, so a GUI thread keeps running
while a worker renders.
"""
from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("fastkernel.cpp")
BASE_FLAGS = ["-O3", "-std=c++17", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math", "-fPIC", "-shared"]
# Tried in order: the first that compiles is used (a compiler without OpenMP or -march=native still gets a build).
OPTIONAL_FLAGS = (["-march=native", "-fopenmp"], ["-fopenmp"], ["-march=native"], [])
COMPILE_TIMEOUT_S = 180
W = 8                 # lanes per block in fastkernel.cpp (checked through nb_abi)

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
    path: Path
    built: bool          # compiled by this process (False: loaded from the cache)

    def render(self, params: NBParams, pixels: tuple[np.ndarray, np.ndarray] | tuple[int, int, int, int, int],
               double: bool, threads: int, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(image values (n,) float32 (into `out` when given), omega (n,) float64 sr) of `pixels`: (s_idx, f_idx)
        (n,) int32 arrays, or (start, n, w, xmin, ymin): render indices start..start+n-1 of a w-wide ROI whose
        corner is (xmin, ymin), in raster order."""
        if len(pixels) == 2:
            s = np.ascontiguousarray(pixels[0], dtype=np.int32)
            f = np.ascontiguousarray(pixels[1], dtype=np.int32)
            n, sp, fp, start, w, x0, y0 = int(s.shape[0]), s.ctypes.data, f.ctypes.data, 0, 1, 0, 0
        else:
            start, n, w, x0, y0 = (int(v) for v in pixels)
            sp = fp = None
        if out is None:
            out = np.empty(n, dtype=np.float32)
        assert out.dtype == np.float32 and out.shape == (n,) and out.flags.c_contiguous
        omega = np.empty(n, dtype=np.float64)
        fn = self.lib.nb_render_f64 if double else self.lib.nb_render_f32
        fn(ctypes.byref(params), n, sp, fp, start, w, x0, y0, out.ctypes.data, omega.ctypes.data,
           max(1, int(threads)))
        return out, omega

    def moments(self, values: np.ndarray) -> tuple[float, float, float, int, float, float]:
        """(sum, sum of squares, max, index of the first max, sum of (v - mean)^2, mean) of values (n,) float32,
        mean = sum / max(n, 2); in double, without holding the GIL."""
        v = np.ascontiguousarray(values, dtype=np.float32)
        out = np.zeros(6, dtype=np.float64)
        self.lib.nb_moments(v.ctypes.data, v.shape[0], out.ctypes.data)
        return float(out[0]), float(out[1]), float(out[2]), int(out[3]), float(out[4]), float(out[5])

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
    lib.nb_moments.argtypes, lib.nb_moments.restype = [_P, _I, _P], None
    lib.nb_abi.argtypes, lib.nb_abi.restype = [], _I


def _load(path: Path) -> ctypes.CDLL | None:
    try:
        lib = ctypes.CDLL(str(path))
        _declare(lib)
    except (OSError, AttributeError) as e:
        log.debug("cannot load %s: %s", path, e)
        return None
    if lib.nb_abi() != ctypes.sizeof(NBParams) * 1000 + W:
        log.debug("%s: layout mismatch", path)
        return None
    return lib


def _build(cxx: str, flags: list[str], target: Path) -> str | None:
    """Compile SOURCE to `target` (atomically); None on success, else the compiler's complaint."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.stem + ".", suffix=".tmp.so", dir=target.parent)
    os.close(fd)
    try:
        res = subprocess.run([cxx, *flags, "-o", tmp, str(SOURCE)], capture_output=True, text=True,
                             timeout=COMPILE_TIMEOUT_S)
        if res.returncode != 0:
            lines = (res.stderr or res.stdout or "").strip().splitlines()
            errs = [ln for ln in lines if "error" in ln.lower()]
            return ((errs or lines or [f"exit {res.returncode}"])[0]).strip()[:300]
        os.replace(tmp, target)
        return None
    except (OSError, subprocess.SubprocessError) as e:
        return str(e)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class _Loader:
    """Builds or loads the kernel once per process (thread-safe); remembers a failure so it is reported once."""

    def __init__(self):
        self._lock = threading.Lock()
        self._done = False
        self._kernel: FastKernel | None = None
        self.reason = ""

    def get(self) -> FastKernel | None:
        with self._lock:
            if not self._done:
                self._kernel, self.reason = _find_or_build()
                self._done = True
                if self._kernel is None:
                    log.warning("compiled kernel unavailable (%s): the PyTorch engine uses its eager path",
                                self.reason)
            return self._kernel

    def reset(self) -> None:
        """Forget the result (tests: another environment)."""
        with self._lock:
            self._done, self._kernel, self.reason = False, None, ""


def _cpu_id() -> str:
    """The CPU's model and feature flags (a -march=native build must not load on another CPU sharing the cache)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    return "|".join(next((ln for ln in lines if ln.startswith(key)), "") for key in ("model name", "flags"))


def _find_or_build() -> tuple[FastKernel | None, str]:
    cxx = _compiler()
    if cxx is None:
        return None, "no C++ compiler found ($CXX, g++, c++)"
    ident = _identity(cxx)
    if not ident:
        return None, f"the C++ compiler {cxx} is not a file"
    src, cpu = SOURCE.read_bytes(), _cpu_id()
    errors = []
    for extra in OPTIONAL_FLAGS:
        flags = BASE_FLAGS + extra
        key = hashlib.sha256(b"\0".join([src, cxx.encode(), ident.encode(), " ".join(flags).encode(),
                                         platform.machine().encode(), cpu.encode()])).hexdigest()[:16]
        path = cache_dir() / "kernels" / f"fastkernel-{key}.so"
        if path.exists():
            lib = _load(path)
            if lib is not None:
                return FastKernel(lib, path, built=False), ""
        err = _build(cxx, flags, path)
        if err is None:
            lib = _load(path)
            if lib is not None:
                log.info("built the compiled kernel %s", path)
                return FastKernel(lib, path, built=True), ""
            err = "the built library does not load"
        errors.append(err)
    return None, f"{cxx} failed: {errors[0]}"


_LOADER = _Loader()


def kernel() -> FastKernel | None:
    """The process's compiled kernel, building it on first use (about 5 s) unless the cache has it; None if no
    compiler works (logged once)."""
    if os.environ.get("NBPARITY_COMPILED") == "0":
        return None
    return _LOADER.get()


def unavailable_reason() -> str:
    """Why `kernel()` returned None ('' when it did not, or was not asked yet)."""
    return _LOADER.reason


def reset() -> None:
    """Forget the loaded kernel (tests switch the compiler or cache folder)."""
    _LOADER.reset()
