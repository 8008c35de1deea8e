"""The two sides of every comparison, in one place (Qt-free).

Side "a" is the reference the verdict measures against (A), side "b" the engine under test (B); which engine runs
on each side is the session's choice, so nothing below the session says "C" or "Py" for a side.
"""
from __future__ import annotations

SIDES: tuple[str, str] = ("a", "b")

