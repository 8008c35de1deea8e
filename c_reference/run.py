"""One run of a nanoBragg-compatible engine: a fresh scratch folder, the command line prepared (outputs.py), the
process run (process.py), the float image and the files it left read back, the scratch removed; `CRunResult`."""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simulator.argv import ParsedCommand, append_flags, as_command
from tracing.parse import TraceParseError
from tracing.records import Cancelled, EngineError, ImageResult, PixelTrace

from .lifecycle import SCRATCH_PREFIX
from .locate import binary_sha256, check_binary
from .outputs import Region, _absolute, auxiliary_args, image_shape, prepare_args, read_float_image
from .process import ProgressFn, _list_files, _run_process, command_sha256, describe_exit, read_trace_file
from .trace_value import TRACE_VALUE_KEY, TraceValueMissing, trace_value

# -- results ------------------------------------------------------------------------------------------------------

@dataclass
class CRunResult:
    """One process run. image: float32 (slow, fast) photons/pixel, as the binary's float file. wall_s: process wall
    time (s).

    argv: the caller's arguments; run_argv: what the engine got (absolute paths, scratch float file). command: the
    engine's argv prefix (binary, or the split external command). stdout/stderr: bounded (head, and the tail when
    longer; `log_bytes` is the full size). files: name -> size in bytes of the other files the run left in its
    scratch folder (not read). trace: parsed TRACE lines when the arguments asked for -trace_pixel (trace_error
    says why it is None if parsing failed). pid: the engine's process id (gone by the time this is returned).
    """

    image: np.ndarray
    argv: list[str]
    run_argv: list[str]
    stdout: str
    stderr: str
    returncode: int
    wall_s: float
    binary: Path
    binary_sha256: str
    threads: int | None
    pid: int
    files: dict[str, int] = field(default_factory=dict)
    trace: PixelTrace | None = None
    trace_error: str | None = None
    command: list[str] = field(default_factory=list)
    log_bytes: int = 0
    env: dict[str, str] = field(default_factory=dict)

    @property
    def log(self) -> str:
        return self.stdout + ("\n" + self.stderr if self.stderr else "")

    def to_image_result(self, engine: str = "c") -> ImageResult:
        meta = {"binary": str(self.binary), "binary_sha256": self.binary_sha256, "threads": self.threads,
                "command": self.command or [str(self.binary)], "run_argv": self.run_argv, "files": self.files,
                "dtype": "float32", "log_bytes": self.log_bytes, "env": dict(self.env)}
        return ImageResult(engine=engine, image=self.image, argv=list(self.argv), log=self.log, wall_s=self.wall_s,
                           returncode=self.returncode, meta=meta)



def run_c(args: ParsedCommand | Sequence[str], *, binary: Path | str | None = None, threads: int | None = None,
          timeout_s: float = 600, cancel: threading.Event | None = None, progress: ProgressFn | None = None,
          workdir_parent: Path | str | None = None, command: Sequence[str] | None = None,
          outputs: bool = True, env: dict[str, str] | None = None, cwd: Path | str | None = None,
          trace_options: dict | None = None, region: Region | None = None,
          float_from_trace: bool = False) -> CRunResult:
    """Run the engine with nanoBragg arguments `args` and return its float image and logs.

    args: a ParsedCommand (its tokens are run; its config gives the image shape and the traced pixel: no parse
    here), or plain tokens, parsed once (leniently: the binary decides what it accepts).

    binary: a nanoBragg-compatible binary (default NB_C_BIN, else our build); command: instead, an external
    command's argv prefix (e.g. ["python", "-m", "nanobrag_torch"]), found on PATH like a shell would.
    threads: sets OMP_NUM_THREADS (None: inherit). env: more environment variables. outputs: keep the user's
    output flags (resolved against `cwd`, default the current folder) and copy the float image to the user's
    -floatfile; False drops them (nothing is written outside scratch). progress(fraction 0..1) is called on the
    calling thread from the engine's `NN% done` lines. cancel: when set, everything the engine started is killed
    and Cancelled raised. trace_options: keyword arguments of tracing.parse.TraceReader (interpolate,
    lattice_shape) for reading the port dialect. region: the only pixels the caller needs (a pixel trace, a
    single-tick run; -roi's order xmin xmax ymin ymax): only their rows are read back, the rest of `image` is 0, and
    with outputs=False a binary's int image (nanoBragg always writes one) goes to os.devnull, never to disk.
    float_from_trace: a binary's trace run (outputs=False, a region, -trace_pixel) whose trace prints the pixel's
    stored float value (c_reference.trace_value: only for a binary found to, by TraceValues): its float file goes to
    os.devnull too, and `image` holds that one value at the traced pixel (0 elsewhere); TraceValueMissing (an
    EngineError) when the trace printed none, EngineError when it is NaN or infinite.
    Raises EngineError (missing/non-executable engine, non-zero exit, crash, time-out, missing, wrong-size or
    non-finite float file; `log_tail` holds the last lines of output) or Cancelled.
    """
    if command:
        path, sha = command_sha256(command)
        prefix = [str(path), *command[1:]]
    else:
        path = check_binary(binary)
        sha = binary_sha256(path)
        prefix = [str(path)]
    name = path.name if not command else " ".join(command[:3])
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"{name} run cancelled before it started")
    parsed = as_command(args)
    user_args = parsed.argv()
    cwd = str(cwd) if cwd is not None else os.getcwd()
    scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=workdir_parent))
    user_float = parsed.config.output.floatfile if outputs else None
    px = parsed.config.output.trace_pixel
    if float_from_trace and (command or outputs or region is None or px is None):
        raise ValueError("float_from_trace is for a binary's trace run: no command, outputs=False, a region and "
                         "-trace_pixel")
    try:
        float_path = scratch / "float.bin"
        run_args = prepare_args(user_args if outputs else auxiliary_args(user_args),
                                Path(os.devnull) if float_from_trace else float_path, cwd)
        if region is not None and not outputs and not command:
            # a nanoBragg binary always writes its int image (fopen "wb"); a command may write files its own way
            # (an atomic rename over /dev/null must never be risked), and the port writes none unless asked
            run_args = append_flags(run_args, ["-intfile", os.devnull])
        full_env = dict(os.environ)
        full_env.update(env or {})
        if threads is not None:
            full_env["OMP_NUM_THREADS"] = str(int(threads))
        res = _run_process([*prefix, *run_args], scratch, full_env, timeout_s, cancel, progress)
        if res.cancelled:
            raise Cancelled(f"{name} run cancelled")
        if res.timed_out:
            raise EngineError(f"engine {name} timed out after {timeout_s:g} s and was stopped", res.log_tail,
                              res.returncode)
        if res.returncode != 0:
            raise EngineError(describe_exit(name, res.returncode), res.log_tail, res.returncode)
        image = None if float_from_trace else read_float_image(float_path, parsed, scratch, cwd, res.log_tail, name,
                                                               region)
        if user_float:
            dest = Path(_absolute(cwd)("-floatfile", user_float))
            shutil.copyfile(float_path, dest)
        files = _list_files(scratch, {float_path})
        trace = trace_error = None
        if px is not None:
            try:
                trace = read_trace_file(res.stdout_path, "c", px[0], px[1], trace_options)
            except TraceParseError as exc:
                trace_error = str(exc)
        if image is None:
            assert px is not None  # float_from_trace checked it above
            image = _image_from_trace(trace, parsed, px, name, res.log_tail)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    result = CRunResult(image=image, argv=user_args, run_argv=run_args, stdout=res.stdout, stderr=res.stderr,
                        returncode=res.returncode, wall_s=res.wall_s, binary=path, binary_sha256=sha,
                        threads=threads, pid=res.pid, files=files, command=prefix, log_bytes=res.log_bytes,
                        env={k: full_env[k] for k in ("OMP_NUM_THREADS",) if k in full_env})
    result.trace, result.trace_error = trace, trace_error
    return result


def _image_from_trace(trace: PixelTrace | None, parsed: ParsedCommand, px: tuple[int, int], name: str,
                      log_tail: str) -> np.ndarray:
    """The float32 (slow, fast) image of a float_from_trace run: 0 but the traced pixel's value from its trace."""
    value = trace_value(trace)
    if value is None:
        raise TraceValueMissing(f"{name} printed no `TRACE_C: {TRACE_VALUE_KEY}` line for pixel (slow {px[0]}, "
                                f"fast {px[1]}): the float file is needed", log_tail)
    if not np.isfinite(value):
        raise EngineError(f"the traced pixel (slow {px[0]}, fast {px[1]}) of {name} is {value} in its trace "
                          f"({TRACE_VALUE_KEY}): a NaN or infinite pixel is not accepted", log_tail)
    shape = image_shape(parsed)
    if not (0 <= px[0] < shape[0] and 0 <= px[1] < shape[1]):   # an SMV header decides the size: read the file
        raise TraceValueMissing(f"pixel (slow {px[0]}, fast {px[1]}) is outside the {shape[0]} x {shape[1]} image "
                                f"the command line gives: the float file is needed", log_tail)
    image = np.zeros(shape, dtype=np.float32)
    image[px] = np.float32(value)
    return image
