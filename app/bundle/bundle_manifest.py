"""A comparison bundle's manifest.json checked as untrusted input before anything it names is opened (issue 18).

What is checked: the manifest is a JSON object of a bundle format this nbparity reads (a newer one is named in a
sentence); `files` is a list of {name, bytes, sha256} with names confined to the bundle (relative, no `..`, no
symbolic link on the way, unique); `argv` a list of strings; `sides` a and b, each outcome either absent or a
table whose shape, when the side ran, is two positive integers that agree with its float32 file's listed size;
`files_by_side` names only listed files; `parity_thresholds` numbers. Every failure is a `BundleError` naming the
bundle's manifest, the field and what was expected. Qt-free.
"""
from __future__ import annotations

import math
import re
from pathlib import Path, PurePosixPath
from typing import Any

from simulator.config import ConfigError
from tracing.bundle import BUNDLE_FORMAT
from app.core.sides import SIDES

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_PIXELS = 1 << 31   # no detector of nanoBragg's has more; a bigger claimed shape is a damaged manifest


class BundleError(ConfigError):
    """The folder is not a readable comparison bundle; the message names the file and what is wrong."""


def _fail(folder: Path, field: str, expected: str, got: Any = None, *, show: bool = True) -> BundleError:
    tail = f", got {got!r:.80}" if show else ""
    return BundleError(f"{folder / 'manifest.json'}: field {field}: expected {expected}{tail}")


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_manifest(folder: Path, manifest: Any) -> dict[str, dict]:
    """Validate `manifest` (parsed manifest.json of `folder`); returns the listed files by name. BundleError."""
    if not isinstance(manifest, dict):
        raise BundleError(f"{folder / 'manifest.json'}: expected a JSON object, got {type(manifest).__name__}")
    fmt = manifest.get("bundle_format", 1)
    if not _int(fmt) or fmt < 1:
        raise _fail(folder, "bundle_format", "a positive integer", fmt)
    if fmt > BUNDLE_FORMAT:
        who = manifest.get("nbparity_version")
        raise BundleError(f"{folder}: written by a newer nbparity{f' ({who})' if isinstance(who, str) else ''} in "
                          f"bundle format {fmt}; this nbparity reads format {BUNDLE_FORMAT} and older: open it "
                          "with a newer nbparity")
    listed = _files(folder, manifest.get("files"))
    argv = manifest.get("argv")
    if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv)):
        raise _fail(folder, "argv", "a list of strings (the command line)", argv)
    sides = manifest.get("sides")
    if not isinstance(sides, dict) or set(sides) != set(SIDES):
        got = sorted(sides) if isinstance(sides, dict) else type(sides).__name__
        raise BundleError(f"{folder / 'manifest.json'}: field sides: expected sides a and b, found {got} (a bundle "
                          "written before engines were named per side cannot be opened)")
    by_side = manifest.get("files_by_side", {})
    if not isinstance(by_side, dict):
        raise _fail(folder, "files_by_side", "a table of side -> {kind: file name}", by_side)
    for side in SIDES:
        _side(folder, side, sides[side], by_side.get(side, {}), listed)
    thresholds = manifest.get("parity_thresholds", {})
    if thresholds is not None and not (isinstance(thresholds, dict) and all(
            v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))
            for v in thresholds.values())):
        # null = a threshold the case does not judge (the port team's matrix leaves sum ratio and max |B - A| out)
        raise _fail(folder, "parity_thresholds", "a table of finite numbers or null", thresholds)
    warnings = manifest.get("warnings", [])
    if warnings is not None and not (isinstance(warnings, list) and all(isinstance(w, str) for w in warnings)):
        raise _fail(folder, "warnings", "a list of strings", warnings)
    return listed


def _files(folder: Path, files: Any) -> dict[str, dict]:
    if not isinstance(files, list):
        raise _fail(folder, "files", "a list of {name, bytes, sha256}", type(files).__name__, show=True)
    out: dict[str, dict] = {}
    for i, entry in enumerate(files):
        where = f"files[{i}]"
        if not isinstance(entry, dict):
            raise _fail(folder, where, "a table {name, bytes, sha256}", entry)
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise _fail(folder, f"{where}.name", "a file name", name)
        member_path(folder, name, f"{where}.name")
        if not _int(entry.get("bytes")) or entry["bytes"] < 0:
            raise _fail(folder, f"{where}.bytes", "a size in bytes (an integer >= 0)", entry.get("bytes"))
        if not isinstance(entry.get("sha256"), str) or not _SHA256.match(entry["sha256"]):
            raise _fail(folder, f"{where}.sha256", "64 lowercase hex digits", entry.get("sha256"))
        if name in out:
            raise _fail(folder, f"{where}.name", "each file listed once", name)
        out[name] = entry
    return out


def member_path(folder: Path, name: str, field: str = "name") -> Path:
    """folder/name, refused unless `name` is a plain relative name inside the bundle: no absolute path, no `..`,
    no backslash, and no symbolic link on the way (the bundle folder itself may be reached through one)."""
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or "\\" in name or "\0" in name or not pure.parts:
        raise _fail(folder, field, "a file name inside the bundle (relative, no '..')", name)
    path = folder
    for part in pure.parts:
        path = path / part
        if path.is_symlink():
            raise BundleError(f"{path}: a symbolic link inside the bundle ({field} of manifest.json); a bundle holds "
                              "its own files only")
    return path


def _side(folder: Path, side: str, summary: Any, files: Any, listed: dict[str, dict]) -> None:
    where = f"sides.{side}"
    if not isinstance(summary, dict):
        raise _fail(folder, where, "a table", summary)
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise _fail(folder, f"files_by_side.{side}", "a table of kind -> file name", files)
    for kind, name in files.items():
        if name not in listed:
            raise _fail(folder, f"files_by_side.{side}.{kind}", "a file listed in files", name)
    label = summary.get("label")
    if label is not None and not isinstance(label, str):
        raise _fail(folder, f"{where}.label", "a string", label)
    command = summary.get("command")
    if command is not None and not (isinstance(command, list) and all(isinstance(c, str) for c in command)):
        raise _fail(folder, f"{where}.command", "a list of strings", command)
    o = summary.get("outcome")
    if o is None:
        return
    if not isinstance(o, dict) or not isinstance(o.get("ok"), bool):
        raise _fail(folder, f"{where}.outcome", "a table with ok true or false", o)
    wall = o.get("wall_s")
    if wall is not None and not (isinstance(wall, (int, float)) and not isinstance(wall, bool) and wall >= 0):
        raise _fail(folder, f"{where}.outcome.wall_s", "seconds (a number >= 0)", wall)
    if not o["ok"]:
        return
    shape = o.get("shape")
    if not (isinstance(shape, list) and len(shape) == 2 and all(_int(n) and n > 0 for n in shape)
            and shape[0] * shape[1] <= MAX_PIXELS):
        raise _fail(folder, f"{where}.outcome.shape", "two positive integers [slow, fast]", shape)
    name = files.get("float")
    if not name:
        raise _fail(folder, f"files_by_side.{side}.float", "the image file of a side that ran", None)
    size = listed[name]["bytes"]
    if size != 4 * shape[0] * shape[1]:
        raise BundleError(f"{folder / 'manifest.json'}: field {where}.outcome.shape: {shape[0]} x {shape[1]} "
                          f"(slow x fast) float32 is {4 * shape[0] * shape[1]} bytes, but {name} is listed with "
                          f"{size}")
