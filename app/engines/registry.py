"""`make_engine`: an ENGINE spelling (app.engines.spec) -> an Engine with its identity (display name,
fingerprint, capabilities). The only place that knows the kinds; the session and the window never do.

Display names (everything a user sees is named after them):
- `cref`                      "nbparity C reference <sha8>"   (c_reference/build/nbref)
- `torch[:dtype[:device]]`    "nbparity PyTorch f64", "nbparity PyTorch f32 cuda"
- `bin:PATH`                  "upstream nanoBragg <sha8>" when the file is called nanoBragg*, "nbparity C
                              reference <sha8>" when it is byte-identical to our build, else "<file name> <sha8>"
- `cmd:COMMAND`               "<what it runs> <version or sha8>": the module of `python -m MODULE` (with its
                              installed version when it has one), else the script or program name
Fingerprints: "sha256:<hex>" of the binary; for a command, of its executable and script file when there is one,
plus the module's package version.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
from pathlib import Path

from c_reference import driver
from c_reference.locate import REFERENCE_BINARY, binary_sha256, check_binary
from c_reference.trace_value import TraceValues
from simulator.config import ConfigError
from tracing.records import EngineError

from .base import Capabilities, Engine, EngineIdentity
from .process_engine import ProcessEngine
from .spec import EngineSpec, parse_engine_spec
from .torch_engine import TorchEngine


def _process_caps(trace: str, carryover_switch: bool, carryover_default: bool | None) -> Capabilities:
    """Capabilities of an engine run as a child process: float32 files (no torch dtype or device), OMP threads."""
    return Capabilities(trace=trace, carryover_switch=carryover_switch, carryover_default=carryover_default,
                        dtype=None, device=None, threads="omp", in_process=False)


def make_engine(spec: EngineSpec | str, trace_values: TraceValues | None = None) -> Engine:
    """The engine of an ENGINE spelling. ConfigError for a bad spelling, a missing or non-executable binary,
    or a command not found on PATH (the message names it and what was expected). trace_values: shared with a
    binary's engine (ProcessEngine), e.g. a window's across its sessions."""
    if isinstance(spec, str):
        spec = parse_engine_spec(spec)
    if spec.kind == "torch":
        return TorchEngine(spec)
    driver.prepare_lifecycle()  # subreaper + stale scratch removal, before any process runs
    try:
        if spec.kind == "cref":
            return _binary_engine(spec, REFERENCE_BINARY, trace_values)
        if spec.kind == "bin":
            assert spec.path is not None  # parse_engine_spec sets it for "bin"
            return _binary_engine(spec, Path(spec.path).expanduser(), trace_values)
        return _command_engine(spec)
    except EngineError as exc:
        raise ConfigError(f"engine {spec.text!r}: {exc}") from None


def _is_reference(sha: str) -> bool:
    return REFERENCE_BINARY.is_file() and binary_sha256(REFERENCE_BINARY.resolve()) == sha


def _binary_engine(spec: EngineSpec, path: Path, trace_values: TraceValues | None = None) -> ProcessEngine:
    binary = check_binary(path)
    sha = binary_sha256(binary)
    if spec.kind == "cref" or _is_reference(sha):
        name = f"nbparity C reference {sha[:8]}"
        caps = _process_caps(trace="full", carryover_switch=True, carryover_default=True)
    else:
        label = "upstream nanoBragg" if binary.name.lower().startswith("nanobragg") else binary.name
        name = f"{label} {sha[:8]}"
        # An unknown build: whether it traces, and whether it honours -phi0_carryover, is seen when it runs.
        caps = _process_caps(trace="detect", carryover_switch=False, carryover_default=True)
    return ProcessEngine(EngineIdentity(kind=spec.kind, spec=spec.text, display_name=name,
                                        fingerprint=f"sha256:{sha}", capabilities=caps, command=(str(binary),)),
                         binary=binary, trace_values=trace_values)


def _module_of(argv: tuple[str, ...]) -> str | None:
    if "-m" in argv[1:-1]:
        return argv[argv.index("-m", 1) + 1]
    return None


def _script_of(argv: tuple[str, ...]) -> Path | None:
    for tok in argv[1:]:
        if not tok.startswith("-") and os.path.isfile(tok):
            return Path(tok).resolve()
        if not tok.startswith("-"):
            return None
    return None


def _package_version(module: str) -> str | None:
    top = module.split(".")[0]
    for dist in importlib.metadata.packages_distributions().get(top, []) + [top]:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _command_engine(spec: EngineSpec) -> ProcessEngine:
    exe, exe_sha = driver.command_sha256(spec.command)
    module, script = _module_of(spec.command), _script_of(spec.command)
    digest = hashlib.sha256(exe_sha.encode())
    parts = [f"{exe.name} sha256:{exe_sha}"]
    if script is not None:
        script_sha = binary_sha256(script) if os.access(script, os.R_OK) else "unreadable"
        digest.update(script_sha.encode())
        parts.append(f"{script.name} sha256:{script_sha}")
    version = _package_version(module) if module else None
    if module:
        parts.append(f"{module} {version or 'version unknown'}")
    label = module or (script.name if script is not None else exe.name)
    short = version or digest.hexdigest()[:8]
    caps = _process_caps(trace="detect", carryover_switch=False, carryover_default=None)
    identity = EngineIdentity(kind="cmd", spec=spec.text, display_name=f"{label} {short}",
                              fingerprint="; ".join(parts), capabilities=caps, command=(str(exe), *spec.command[1:]))
    return ProcessEngine(identity, binary=None, command=identity.command)
