"""The built-in demo command line: `resources/demo/command.txt`, with its file names made absolute.

command.txt holds one nanoBragg command, possibly over several lines (a trailing backslash or plain line breaks
both join lines), `#` comments allowed, an optional leading program name (`nanoBragg`, `nbref`). Input file names
in it are relative to resources/demo/.
"""
from __future__ import annotations

from pathlib import Path

from simulator.argv import split_command, strip_program
from simulator.config import ConfigError

DEMO_DIR = Path(__file__).resolve().parents[1] / "resources" / "demo"
COMMAND_FILE = "command.txt"


class DemoMissing(ConfigError):
    """The demo resources are not where they should be (e.g. an installed wheel without resources/)."""


def demo_argv(demo_dir: Path = DEMO_DIR) -> list[str]:
    """nanoBragg argv of the demo; values that name a file in demo_dir become absolute paths."""
    path = demo_dir / COMMAND_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DemoMissing(f"demo command {path}: cannot read it ({exc.strerror or exc}); the demo needs the "
                          "resources/ folder of a source checkout") from None
    try:
        tokens = split_command(text, comments=True)   # the one tokenizer: continuations, quotes, comments
    except ValueError as exc:  # an unclosed quote (ConfigError names the character)
        raise DemoMissing(f"demo command {path}: {exc}") from None
    tokens = strip_program(tokens)
    if not tokens:
        raise DemoMissing(f"demo command {path}: no nanoBragg arguments found")
    return [_absolute(t, demo_dir) for t in tokens]


def _absolute(token: str, demo_dir: Path) -> str:
    """A token naming an existing file beside command.txt becomes its absolute path; flags and numbers stay."""
    if token.startswith("-") or _is_number(token):
        return token
    candidate = demo_dir / token
    return str(candidate.resolve()) if candidate.exists() else token


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True
