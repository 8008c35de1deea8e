"""Which programs nb-compare runs, in the port team's resolution order (spec/nanobragg.md §11.6).

C:       --c-bin, then $NB_C_BIN, then ./golden_suite_generator/nanoBragg, then ./nanoBragg (relative to `cwd`).
PyTorch: --py-bin, then $NB_PY_BIN (a path ending in .py runs as `python PATH`), then `nanoBragg` on PATH, then
         `python -m nanobrag_torch`.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path


class NotFound(Exception):
    """No program for one side: the message names the flag or variable and what was expected."""


C_DEFAULTS = ("golden_suite_generator/nanoBragg", "nanoBragg")
PY_DEFAULT = ("python", "-m", "nanobrag_torch")


def find_c_binary(c_bin: str | None, env: Mapping[str, str], cwd: Path) -> Path:
    """The C program, absolute (symbolic links resolved, as the port team's tool records it)."""
    for source, value in (("--c-bin", c_bin), ("$NB_C_BIN", env.get("NB_C_BIN"))):
        if value is not None:
            path = Path(cwd, value).expanduser()
            if not path.is_file():
                raise NotFound(f"{source} {value}: no such file (expected a nanoBragg-compatible binary)")
            return path.resolve()
    for rel in C_DEFAULTS:
        path = Path(cwd, rel)
        if path.is_file():
            return path.resolve()
    raise NotFound("no C nanoBragg binary: give --c-bin PATH, or set NB_C_BIN, or put one at "
                   "./golden_suite_generator/nanoBragg or ./nanoBragg")


def py_command(value: str) -> list[str]:
    """A --py-bin / $NB_PY_BIN value as a command: `python VALUE` for a .py file, else VALUE alone."""
    return ["python", value] if value.endswith(".py") else [value]


def find_py_command(py_bin: str | None, env: Mapping[str, str]) -> list[str]:
    """The PyTorch side's argv prefix, as given (recorded as `py_binary`: these words joined by spaces)."""
    for value in (py_bin, env.get("NB_PY_BIN")):
        if value is not None:
            return py_command(value)
    if shutil.which("nanoBragg", path=env.get("PATH", os.defpath)):
        return ["nanoBragg"]
    return list(PY_DEFAULT)


def check_command(command: list[str], env: Mapping[str, str], cwd: Path, source: str) -> None:
    """NotFound unless the command's program exists (on PATH when it has no slash)."""
    exe = command[0]
    if os.sep in exe:
        if not Path(cwd, exe).expanduser().is_file():
            raise NotFound(f"{source}: {exe}: no such file")
    elif shutil.which(exe, path=env.get("PATH", os.defpath)) is None:
        raise NotFound(f"{source}: {exe}: not found on PATH")
    if len(command) > 1 and command[1].endswith(".py") and not Path(cwd, command[1]).is_file():
        raise NotFound(f"{source}: {command[1]}: no such file")
