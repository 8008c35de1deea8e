"""The nanoBragg command-line grammar, both ways (torch-free), split by job.

`parse_argv` reads an argv list the way the C does (spec/nanobragg.md section 2): flags are applied in order, later
ones overwrite earlier ones, and the C's side effects that matter are reproduced (`-twotheta_axis` also sets
2theta and the SAMPLE pivot; vector flags switch to CUSTOM; -Xbeam/-Ybeam/-distance set the BEAM pivot, ...), as is
upstream main's substring matching (decisions D8, spec 2.2) with its length and argument-count guards, reported
as warnings. Deliberate improvements (decisions D5): unknown flags are warnings, bad values are errors that name the
flag and what was expected. `to_argv` writes a configuration back (parse(to_argv(c)) == c); `diagnose_argv`
reports every problem of a command-line text with character spans, for the editor.

Modules: `values` (strtod/strtol and atof/atoi readers), `table` (flags, aliases, units, side effects), `quirks`
(upstream's substring matching, D8 warnings), `parse` (parse_argv), `text` (the one tokenizer of command text),
`diagnose` (spans for the editor), `write` (to_argv), `edit` (with_flag, without_flag, append_flags, ...),
`command` (ParsedCommand: a parse as a value that travels). Every public name is importable from here.
"""
from __future__ import annotations

from simulator.config import ConfigError

from .command import ParsedCommand, as_command, lenient_command, parse_command
from .diagnose import diagnose_argv
from .edit import (
    append_flags,
    drop_ignored_trailing,
    last_values,
    map_values,
    single_tick_argv,
    with_flag,
    without_flag,
)
from .parse import parse_argv
from .records import Diagnostic, ParsedArgs
from .table import ENGINE_EXTRAS, KNOWN_FLAGS, VECTOR_FIELDS, flag_aliases, flag_nargs, is_flag_token
from .text import split_command, strip_program, tokenize
from .values import LONG_MAX, _c_number, c_strtod
from .write import format_value, to_argv

__all__ = [
    "ENGINE_EXTRAS",
    "KNOWN_FLAGS",
    "LONG_MAX",
    "VECTOR_FIELDS",
    "ConfigError",
    "Diagnostic",
    "ParsedArgs",
    "ParsedCommand",
    "_c_number",
    "append_flags",
    "as_command",
    "c_strtod",
    "diagnose_argv",
    "drop_ignored_trailing",
    "flag_aliases",
    "flag_nargs",
    "format_value",
    "is_flag_token",
    "last_values",
    "lenient_command",
    "map_values",
    "parse_argv",
    "parse_command",
    "single_tick_argv",
    "split_command",
    "strip_program",
    "to_argv",
    "tokenize",
    "with_flag",
    "without_flag",
]
