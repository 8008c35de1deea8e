"""Persistent preferences (QSettings, organisation "nbparity"), versioned so a layout change can drop old values.

Stored: window geometry, dock state and splitter sizes, last folders (images, export, files), the C binary, the
last command line, and the view (ViewSettings: scale, colour map, auto-contrast percentile, difference mode,
tolerance and its overlay). `reset()` forgets all of them (Settings → Reset settings). Nothing here creates a
folder: folders are made only when something is written into them.
"""
from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from PySide6 import QtCore
from tracing.metrics import ParityThresholds

log = logging.getLogger(__name__)

ORGANISATION = "nbparity"
APPLICATION = "nbparity"
SCHEMA_VERSION = 1


SCALES = ("linear", "log", "sqrt")
DIFF_MODES = ("diff", "relative", "logratio")


@dataclass
class ViewSettings:
    """The image view's choices; `load` keeps only values that make sense (else the default)."""

    scale: str = "log"
    colormap: str = "viridis"
    percentile: float = 99.5      # auto-contrast upper level, % of pixels
    diff_mode: str = "diff"
    rtol: float = ParityThresholds().max_rel_error   # relative tolerance of the beyond-tolerance overlay
    overlay: bool = False

    @classmethod
    def load(cls, s: AppSettings) -> ViewSettings:
        d = cls()
        scale = s.get_str("view/scale", d.scale)
        mode = s.get_str("view/diff_mode", d.diff_mode)
        pct = s.get_float("view/percentile", d.percentile)
        rtol = s.get_float("view/rtol", d.rtol)
        return cls(scale=scale if scale in SCALES else d.scale,
                   colormap=s.get_str("view/colormap", d.colormap) or d.colormap,
                   percentile=pct if 50.0 <= pct <= 100.0 else d.percentile,
                   diff_mode=mode if mode in DIFF_MODES else d.diff_mode,
                   rtol=rtol if math.isfinite(rtol) and rtol >= 0 else d.rtol,
                   overlay=s.get_str("view/overlay", "false").lower() in ("true", "1"))

    def save(self, s: AppSettings) -> None:
        for key, value in asdict(self).items():
            s.set(f"view/{key}", value)


def binary_problem(path: str) -> str | None:
    """Why a remembered binary path cannot be run (None when it can)."""
    p = Path(path).expanduser()
    if not p.exists():
        return "it does not exist"
    if not p.is_file():
        return "it is not a file"
    if not os.access(p, os.X_OK):
        return "it is not executable"
    return None


CARRYOVER_VALUES = (None, True, False)
MAX_THREADS = 256


def clean_engine_choice(raw: object, where: str, warn=None) -> dict | None:
    """An engine choice read back from the settings ({"engine", "carryover", "threads"}) with every bad value
    replaced by its default and said in one log line each; None when the engine spelling itself is unusable.
    The file is untrusted input: a hand-edited `carryover: [1]` must not stop the window at every start.
    warn: how a problem is said (default: a log warning; AppSettings says each one once)."""
    from app.engines.spec import parse_engine_spec
    from simulator.config import ConfigError

    warn = warn or log.warning

    if not isinstance(raw, dict):
        warn("settings %s: %r is not an engine choice (expected a table); using the default", where, raw)
        return None
    engine = raw.get("engine", "cref")
    try:
        if not isinstance(engine, str):
            raise ConfigError(f"engine {engine!r}: expected a string")
        if not engine.startswith(("bin:", "cmd:")):
            parse_engine_spec(engine)
    except ConfigError as exc:
        warn("settings %s: %s; using the default engine", where, exc)
        return None
    carry = raw.get("carryover")
    if not any(carry is v for v in CARRYOVER_VALUES):
        warn("settings %s carryover: %r is not on, off or default (true, false, null); using the engine "
                    "default", where, carry)
        carry = None
    threads = raw.get("threads")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or not 0 <= threads <= MAX_THREADS):
        warn("settings %s threads: %r is not a thread count (expected an integer 0..%d or null); using "
                    "auto", where, threads, MAX_THREADS)
        threads = None
    return {"engine": engine, "carryover": carry, "threads": threads or None}


class AppSettings:
    """Thin typed wrapper around QSettings; `settings` may be injected (tests use an INI file).

    A settings file of an older schema is cleared (its geometry/state blobs may not fit this window). One of a
    NEWER schema (a later nbparity) is kept as it is, profiles included: this run reads defaults, writes
    nothing, and `note` says so once."""

    def __init__(self, settings: QtCore.QSettings | None = None):
        self.qs = settings if settings is not None else QtCore.QSettings(ORGANISATION, APPLICATION)
        self.note: str | None = None
        self.frozen = False  # a newer schema's file: read nothing, write nothing
        self._said: set[str] = set()  # each bad value is said once per start, however often it is read
        version = self._int("schema_version", 0)
        if version > SCHEMA_VERSION:
            self.frozen = True
            self.note = (f"The settings file {self.qs.fileName()} was written by a newer nbparity (schema "
                         f"{version}, this one reads {SCHEMA_VERSION}); it is kept unchanged and this run uses "
                         "the default settings.")
            log.warning("%s", self.note)
        elif version != SCHEMA_VERSION:
            self.qs.clear()
            self.qs.setValue("schema_version", SCHEMA_VERSION)

    def _int(self, key: str, default: int) -> int:
        try:
            return int(self.qs.value(key, default))
        except (TypeError, ValueError):
            return default

    def _warn(self, fmt: str, *args) -> None:
        text = fmt % args
        if text not in self._said:
            self._said.add(text)
            log.warning("%s", text)

    def _value(self, key: str, default=None):
        return default if self.frozen else self.qs.value(key, default)

    def get(self, key: str, default=None):
        v = self._value(key, default)
        return default if v is None else v

    def get_str(self, key: str, default: str = "") -> str:
        v = self._value(key, default)
        if v is None:
            return default
        if not isinstance(v, (str, int, float)):  # a list, a table or bytes where text belongs
            self._warn("settings %s: %r is not text; using the default %r", key, v, default)
            return default
        return str(v)

    def get_float(self, key: str, default: float) -> float:
        try:
            return float(self._value(key, default))
        except (TypeError, ValueError):
            self._warn("settings %s: %r is not a number; using the default %r", key, self._value(key), default)
            return default

    def set(self, key: str, value) -> None:
        if not self.frozen:
            self.qs.setValue(key, value)

    def get_bytes(self, key: str) -> QtCore.QByteArray | None:
        v = self._value(key)
        return v if isinstance(v, QtCore.QByteArray) and not v.isEmpty() else None

    def remove(self, key: str) -> None:
        if not self.frozen:
            self.qs.remove(key)

    def get_argv(self) -> list[str] | None:
        """The last command line (a list of tokens), None when none was kept or it is unreadable."""
        try:
            v = json.loads(self.get_str("session/argv", ""))
        except ValueError:
            return None
        return [str(t) for t in v] if isinstance(v, list) and v else None

    def set_argv(self, argv: list[str] | None) -> None:
        self.set("session/argv", json.dumps(list(argv)) if argv else "")

    def take_c_binary(self) -> tuple[str, str | None]:
        """(the remembered C binary, None) when it can run; ('', a sentence) once when it cannot: the broken path
        is forgotten here, so the next start neither fails on it nor reports it again."""
        path = self.get_str("engines/c_binary", "").strip()
        if not path:
            return "", None
        why = binary_problem(path)
        if why is None:
            return path, None
        self.remove("engines/c_binary")
        self.sync()
        return "", (f"The remembered C binary {path} cannot be used ({why}); it has been forgotten and the "
                    "built-in C reference is used. Choose another in the Parameters panel.")

    def last_dir(self, kind: str) -> str:
        return self.get_str(f"dirs/{kind}", "")

    def set_last_dir(self, kind: str, path: str) -> None:
        self.set(f"dirs/{kind}", path)

    def _json(self, key: str) -> dict:
        text = self.get_str(key, "{}") or "{}"
        try:
            value = json.loads(text)
        except ValueError:
            self._warn("settings %s: not JSON (%.60r); using the default", key, text)
            return {}  # a hand-edited or damaged value: the defaults, never a crash
        if not isinstance(value, dict):
            self._warn("settings %s: %.60r is not a table; using the default", key, value)
            return {}
        return value

    def engine_profiles(self) -> dict[str, dict]:
        """Named engine profiles: name -> {"engine", "carryover", "threads"} (bad values cleaned, unusable
        profiles left out, each said in one log line)."""
        out = {}
        for k, v in self._json("engines/profiles").items():
            clean = clean_engine_choice(v, f"engines/profiles[{k!r}]", self._warn)
            if clean is not None:
                out[str(k)] = clean
        return out

    def set_engine_profile(self, name: str, profile: dict | None) -> None:
        """Keep (or, with None, forget) profile `name`."""
        profiles = self.engine_profiles()
        if profile is None:
            profiles.pop(name, None)
        else:
            profiles[name] = profile
        self.set("engines/profiles", json.dumps(profiles))

    def engine_side(self, side: str) -> dict:
        """The engine chosen for side 'a' or 'b' at the last close ({} when none or unusable; bad carry-over or
        threads values replaced by their defaults)."""
        raw = self._json(f"engines/side_{side}")
        return (clean_engine_choice(raw, f"engines/side_{side}", self._warn) or {}) if raw else {}

    def set_engine_side(self, side: str, choice: dict) -> None:
        self.set(f"engines/side_{side}", json.dumps(choice))

    def reset(self) -> None:
        """Forget everything (a newer schema's file too: the user asked); the next start uses the defaults."""
        self.frozen, self.note = False, None
        self.qs.clear()
        self.qs.setValue("schema_version", SCHEMA_VERSION)
        self.qs.sync()

    def sync(self) -> None:
        if not self.frozen:
            self.qs.sync()
