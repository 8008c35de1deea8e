"""Persistent preferences (QSettings, organisation "nbparity"), versioned so a layout change can drop old values.

Stored: window geometry and dock state, last folders (images, export, files), C binary, colour map, scale,
percentile. `reset()` forgets all of them (Settings → Reset settings).
"""
from __future__ import annotations

from PySide6 import QtCore

ORGANISATION = "nbparity"
APPLICATION = "nbparity"
SCHEMA_VERSION = 1


class AppSettings:
    """Thin typed wrapper around QSettings; `settings` may be injected (tests use an INI file)."""

    def __init__(self, settings: QtCore.QSettings | None = None):
        self.qs = settings if settings is not None else QtCore.QSettings(ORGANISATION, APPLICATION)
        if self._int("schema_version", 0) != SCHEMA_VERSION:
            # An older (or newer) layout: its geometry/state blobs may not fit this window, so start clean.
            self.qs.clear()
            self.qs.setValue("schema_version", SCHEMA_VERSION)

    def _int(self, key: str, default: int) -> int:
        try:
            return int(self.qs.value(key, default))
        except (TypeError, ValueError):
            return default

    def get(self, key: str, default=None):
        v = self.qs.value(key, default)
        return default if v is None else v

    def get_str(self, key: str, default: str = "") -> str:
        v = self.qs.value(key, default)
        return default if v is None else str(v)

    def get_float(self, key: str, default: float) -> float:
        try:
            return float(self.qs.value(key, default))
        except (TypeError, ValueError):
            return default

    def set(self, key: str, value) -> None:
        self.qs.setValue(key, value)

    def get_bytes(self, key: str) -> QtCore.QByteArray | None:
        v = self.qs.value(key)
        return v if isinstance(v, QtCore.QByteArray) and not v.isEmpty() else None

    def last_dir(self, kind: str) -> str:
        return self.get_str(f"dirs/{kind}", "")

    def set_last_dir(self, kind: str, path: str) -> None:
        self.set(f"dirs/{kind}", path)

    def reset(self) -> None:
        """Forget everything; the next start uses the defaults."""
        self.qs.clear()
        self.qs.setValue("schema_version", SCHEMA_VERSION)
        self.qs.sync()

    def sync(self) -> None:
        self.qs.sync()
