"""The pieces every `nbparity` subcommand parser shares (Qt-free, imports nothing of app): exit codes, the usage
error, an argparse parser that raises it, and value types. app.cli.main and app.sweep.cli both import from here, so
neither imports the other's module to get them."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn

EXIT_OK, EXIT_PARITY, EXIT_ENGINE, EXIT_USAGE = 0, 1, 2, 3


class UsageError(Exception):
    """Bad command line; the message says which flag and what was expected."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (exit 3) instead of exiting with 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}")


def _on_off(flag: str) -> Callable[[str], bool]:
    def parse(text: str) -> bool:
        low = text.lower()
        if low in ("on", "1", "true", "yes"):
            return True
        if low in ("off", "0", "false", "no"):
            return False
        raise argparse.ArgumentTypeError(f"{flag} {text!r}: expected on or off")
    parse.__name__ = "on|off"
    return parse


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive integer")
    return v


