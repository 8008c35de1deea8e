"""The fault catalogue of the compiled kernel's cache and build (issue 18, part A), as data.

Each row says what is done to the cache or the compiler before an entry point runs, and the outcome class it must
end in. `tests/support/fault_cache_harness.py` does the planting and classifies what happened; the test
(`test_faults_catalogue_cache.py`) holds every row to its class, and `fault_baseline_cache.py`
prints the counts per class for this checkout and, given an older one, before -> after.

Outcome classes. Handled: `compiled` (the render used the compiled kernel: a refused file was rebuilt),
`eager` (the render used the torch path and exactly one warning line says why, with `words`), `stopped` (a signal
or --timeout ended the run during the build, with the usual exit status). Not handled: `crash` (killed by a
signal such as SIGBUS), `hang` (still running at the harness's limit), `traceback`, `silent` (a wrong or NaN image
accepted, or no line saying why), `unsafe` (a planted library's code ran, or the cache left open to others),
`orphan` (a compiler process outlived the program), `misleading` (more than one line, or the wrong words).
"""
from __future__ import annotations

from dataclasses import dataclass

SURFACE_CACHE = "compiled kernel cache"
SURFACE_BUILD = "compiled kernel build"


@dataclass(frozen=True)
class CacheCase:
    id: str
    surface: str
    done: str                      # what is done, in words
    plant: str                     # the harness's set-up step (fault_cache_harness.PLANTS)
    expect: str                    # the outcome class after issue 18
    words: tuple[str, ...] = ()    # every one in the outcome's line (case-insensitive)
    entry: str = "render"          # render | compare-sigterm | compare-timeout | render-twice


CACHE_CASES = [
    CacheCase("truncated-so", SURFACE_CACHE, "the cached library cut to half its size", "truncate", "compiled"),
    CacheCase("empty-so", SURFACE_CACHE, "the cached library replaced by an empty file", "empty", "compiled"),
    CacheCase("planted-so", SURFACE_CACHE, "a library whose constructor writes a file planted under the cached name",
              "planted", "compiled"),
    CacheCase("planted-so-with-sidecar-of-other", SURFACE_CACHE,
              "a planted library next to the sidecar of the real one (hash mismatch)", "planted_keep_sidecar",
              "compiled"),
    CacheCase("sidecar-garbage", SURFACE_CACHE, "the sidecar replaced by binary garbage", "sidecar_garbage",
              "compiled"),
    CacheCase("hanging-compiler", SURFACE_BUILD, "CXX is a script that sleeps (and starts a sleeping child); "
              "build budget 3 s", "hanging_cxx", "eager", ("build budget",)),
    CacheCase("hanging-compiler-remembered", SURFACE_BUILD, "the same hanging compiler, a second process",
              "hanging_cxx", "eager", ("earlier build", "failed"), entry="render-twice"),
    CacheCase("sigterm-during-build", SURFACE_BUILD, "SIGTERM to `nbparity compare` while the compiler hangs "
              "(budget 600 s)", "hanging_cxx_long", "stopped", entry="compare-sigterm"),
    CacheCase("timeout-during-build", SURFACE_BUILD, "`nbparity compare --timeout 4` while the compiler hangs "
              "(budget 600 s)", "hanging_cxx_long", "stopped", entry="compare-timeout"),
    CacheCase("fast-math-compiler", SURFACE_BUILD, "CXX adds -ffast-math to the real compiler (NaN image)",
              "fast_math_cxx", "eager", ("known-answer",)),
    CacheCase("garbage-library-compiler", SURFACE_BUILD, "CXX writes 4 KiB of random bytes as the library",
              "garbage_cxx", "eager", ("does not load",)),
    CacheCase("failing-compiler", SURFACE_BUILD, "CXX exits 1 with an error line", "failing_cxx", "eager",
              ("error",)),
    CacheCase("umask-000", SURFACE_CACHE, "a first build under umask 000", "umask0", "compiled"),
    CacheCase("cache-world-writable", SURFACE_CACHE, "existing cache and kernels folders with mode 0777",
              "open_dir", "compiled"),
    CacheCase("cache-other-owner", SURFACE_CACHE, "the kernels folder belongs to another user (uid 65534)",
              "other_owner", "eager", ("another user",)),
    CacheCase("cache-symlink", SURFACE_CACHE, "the kernels folder is a link to another folder", "symlink_dir",
              "eager", ("not a folder",)),
    CacheCase("cache-is-a-file", SURFACE_CACHE, "NBPARITY_CACHE_DIR names a regular file", "cache_file", "eager",
              ("cache folder",)),
    CacheCase("cache-unwritable", SURFACE_CACHE, "NBPARITY_CACHE_DIR under /proc (mkdir refused)", "cache_proc",
              "eager", ("cache folder",)),
    CacheCase("home-missing", SURFACE_CACHE, "no NBPARITY_CACHE_DIR or XDG_CACHE_HOME, HOME under /proc",
              "home_proc", "eager", ("cache folder",)),
]

CACHE_CASE_IDS = [c.id for c in CACHE_CASES]
