"""The one process driver: run our C reference, any nanoBragg-compatible binary or any external command taking
nanoBragg's flags, in a scratch folder, and read back what it made. This module is the facade: the work is split by
job into lifecycle.py (subreaper, stale scratch, orphans), process.py (spawn under the supervisor, logs, time-out,
cancel), outputs.py (the command line the binary gets, the float image read back), run.py (`run_c`, `CRunResult`)
and trace.py (pixel traces, single-tick φ curves); every public name stays importable from here. The functions take
a simulator.argv.ParsedCommand (the session's one parse) or plain tokens (parsed once, leniently).

Scratch: every run gets a fresh folder `$TMPDIR/nbref-run-<owner pid>-XXXX` as its working directory, so the files
the C always writes (intimage.img, image.pgm, Fdump.bin) never land in the user's folder and a stale Fdump.bin
cannot leak in (decisions D5). Input-file flags AND the user's output flags (-intfile, -pgmfile, -noisefile,
-dump, ...) are resolved against the user's working folder, as nanoBragg run there would resolve them;
`-floatfile` is forced into the scratch folder (and copied to the user's -floatfile path when one was given and
the caller asks for outputs). Auxiliary runs (traces, single-tick curves) drop the user's output flags, so they
write nothing outside scratch. The folder is removed afterwards; only the names and sizes of the files the run
left there are kept (`CRunResult.files`), nothing else is read. `remove_stale_scratch` removes folders whose owner
pid is dead (called at the start of nbparity).

Lifecycle (Linux): the engine runs under c_reference/supervise.py, a child subreaper that gets SIGUSR1 when
nbparity dies (PR_SET_PDEATHSIG, kill -9 included) and starts the engine with PR_SET_PDEATHSIG = SIGKILL; when the
engine exits, or on cancel / time-out / nbparity's death, every descendant of the engine (setsid ones included) is
SIGKILLed and reaped, and after nbparity's death the scratch folder is removed too. `become_subreaper` makes
nbparity itself a subreaper, so a supervisor killed outright leaves its orphans to us, and `kill_orphans` finds
them by their job token.

Memory: the engine's stdout and stderr go to log files in scratch; the driver follows them for progress and keeps
only a bounded head and tail (`LOG_HEAD_BYTES`, `LOG_TAIL_LINES`), and streams TRACE lines from the file into
tracing.parse.TraceReader (at most `TRACE_BYTES_MAX` of them) only when a trace was asked for: memory is bounded by
the samples the reader keeps, not by the lines printed. 10 MB of garbage on stdout costs kilobytes here.
"""
from __future__ import annotations

from pathlib import Path  # noqa: F401  (tests reach the package folder through driver.Path)

from simulator.argv import ParsedCommand, as_command  # noqa: F401  (what the driver's functions take)

from .lifecycle import (  # noqa: F401
    JOB_ENV,
    PR_SET_CHILD_SUBREAPER,
    SCRATCH_PREFIX,
    become_subreaper,
    kill_orphans,
    prepare_lifecycle,
    remove_stale_scratch,
)
from .locate import binary_sha256, check_binary, default_binary  # noqa: F401
from .outputs import (  # noqa: F401
    INPUT_FILE_FLAGS,
    OUTPUT_FILE_FLAGS,
    ImageSizeError,
    absolutize_inputs,
    auxiliary_args,
    image_shape,
    prepare_args,
    read_float_image,
    remove_flags,
    smv_size,
)
from .process import (  # noqa: F401
    LINE_MAX,
    LOG_HEAD_BYTES,
    LOG_TAIL_LINES,
    POLL_S,
    SUPERVISOR,
    TERM_GRACE_S,
    TRACE_BYTES_MAX,
    ProgressFn,
    command_sha256,
    describe_exit,
    read_trace_file,
)
from .run import CRunResult, run_c  # noqa: F401
from .trace import (  # noqa: F401
    may_interpolate,
    phi_intensity_curve,
    trace_c,
    trace_c_run,
    trace_command,
    trace_of,
    trace_roi,
)
from .trace_value import TRACE_VALUE_KEY, TraceValueMissing, TraceValues, trace_value  # noqa: F401
