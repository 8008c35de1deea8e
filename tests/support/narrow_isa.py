"""Print the environment of CI's narrowed-ISA parity run (issue 18), one shell-quoted `NAME=value` per line.

NPY_DISABLE_CPU_FEATURES: every feature numpy dispatches to at run time (`__cpu_dispatch__`; numpy 1.x and 2.x
spell them differently, so they are read from the installed numpy), leaving its compiled-in baseline;
ATEN_CPU_CAPABILITY=default: torch's ATen kernels without AVX2/AVX-512; OPENBLAS_CORETYPE=Prescott: OpenBLAS's
SSE3 kernels on any x86-64 (no FMA); NBPARITY_KERNEL_MARCH=x86-64: the compiled render kernel built for the
baseline ISA. A parity result that depends on the instruction set then differs from the default run.
"""
from __future__ import annotations

import platform
import shlex


def npy_dispatch() -> list[str]:
    try:
        from numpy._core import _multiarray_umath as m   # numpy 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import _multiarray_umath as m
    have = getattr(m, "__cpu_features__", {})
    # Only features this CPU has: naming one it lacks makes numpy complain at import.
    return [f for f in getattr(m, "__cpu_dispatch__", []) if have.get(f)]


def narrowed_env() -> dict[str, str]:
    env = {"NPY_DISABLE_CPU_FEATURES": " ".join(npy_dispatch()), "ATEN_CPU_CAPABILITY": "default"}
    if platform.machine() in ("x86_64", "AMD64"):
        env.update(OPENBLAS_CORETYPE="Prescott", NBPARITY_KERNEL_MARCH="x86-64")
    return env


if __name__ == "__main__":
    for k, v in narrowed_env().items():
        print(f"{k}={shlex.quote(v)}")
