"""Benchmark: the issue-9 configurations (a)-(f) on the C reference, NB_C_BIN (when set) and the PyTorch engine in
float32 and float64, with the same thread count, in one run.

Run: `python -m app.cli.bench [--threads N] [--repeat K] [--case a ...] [--cli-flags-003 DIR]` (or `make bench`).

Per case, each measurement in its own child process (so that peak RSS belongs to one engine alone):
- C: our C reference (`c_reference/build/nbref`) and NB_C_BIN's binary, as processes, OMP_NUM_THREADS=threads;
- torch process: `python -m simulator ... -dtype D`, the whole program (imports, setup, writing the float file);
- torch in-process: a fresh process times its first render() (kernel load from the disk cache, allocator,
  thread pool: what a new window's first render costs), then K more renders; the median of those K is the warm
  time (how the app uses the engine: it stays alive).
Ratios are C time / torch in-process warm time (the issue's speed-up). Peak RSS comes from wait4() of each child
(ru_maxrss). `--port PYTHON` (the port team's venv interpreter; `make bench` finds it through tests/support/clients.py)
adds the port `nanobrag_torch` as a peer: its whole process per case in float32 and float64, torch.compile off
(NANOBRAGG_DISABLE_COMPILE=1) and on, each run bounded by --port-timeout; `--quick` runs cases (a) and (f) only
with one warm render. Before the table one line gives the compiled kernel's build time into an empty cache (a first
launch on a new machine) and its load time from the cache (every later launch).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.core.known_cases import CLI_FLAGS_003_PIXEL, argv, cli_flags_003_args

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SHARED = REPO.parent / "shared" / "data" / "cli-flags-003"

BASE = "-default_F 100 -N 5 -lambda 1 -distance 100 -pixel 0.1"
CUBIC = "-cell 100 100 100 90 90 90 -detpixels 1024 " + BASE
CASES: dict[str, list[str]] = {
    "a": argv(CUBIC),
    "b": argv(CUBIC + " -phi 0 -osc 0.1 -phisteps 10"),
    "c": argv(CUBIC + " -mosaic 0.5 -mosaic_dom 10"),
    "d": argv("-cell 70 80 90 75 85 95 -misset 10 20 30 -detpixels 1024 " + BASE),
    "e": argv(CUBIC.replace("-detpixels 1024", "-detpixels 2048")),
}
CASE_NOTES = {"a": "cubic 1024^2", "b": "(a) 10 phi steps", "c": "(a) 10 mosaic domains", "d": "triclinic 1024^2",
              "e": "cubic 2048^2", "f": "CLI-FLAGS-003 2463x2527"}


@dataclass
class Measure:
    wall_s: float
    peak_rss_mb: float
    extra: dict = field(default_factory=dict)


def _run_child(cmd: list[str], env: dict, cwd: str) -> tuple[Measure, str]:
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        raise RuntimeError(f"{cmd[0]} failed with exit {rc}:\n{out[-2000:]}")
    return Measure(wall, usage.ru_maxrss / 1024.0, {"cpu_s": usage.ru_utime + usage.ru_stime}), out


def c_reference() -> str:
    return str(REPO / "c_reference" / "build" / "nbref")


def measure_c(binary: str, args: list[str], threads: int) -> Measure:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    with tempfile.TemporaryDirectory() as tmp:
        m, _ = _run_child([binary, *args, "-floatfile", "c.bin", "-nopgm", "-nonoise"], env, tmp)
    return m


def _torch_env(threads: int) -> dict:
    return dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(REPO))


def measure_torch_process(args: list[str], dtype: str, threads: int) -> Measure:
    with tempfile.TemporaryDirectory() as tmp:
        m, _ = _run_child([sys.executable, "-m", "simulator", *args, "-floatfile", "t.bin", "-nopgm", "-nonoise",
                           "-dtype", dtype], _torch_env(threads), tmp)
    return m


PORT_MODES = ("float32/nocompile", "float64/nocompile", "float32/compile", "float64/compile")


def measure_port(python: str, args: list[str], mode: str, threads: int, timeout_s: float) -> Measure | None:
    """The port's whole process (`python -m nanobrag_torch ARGS -dtype D`), compile on or off; None when it ran
    past timeout_s (killed) or failed (the reason is printed)."""
    dtype, comp = mode.split("/")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), KMP_DUPLICATE_LIB_OK="TRUE")
    env.pop("PYTHONPATH", None)
    if comp == "nocompile":
        env["NANOBRAGG_DISABLE_COMPILE"] = "1"
    else:
        env.pop("NANOBRAGG_DISABLE_COMPILE", None)
    cmd = [python, "-m", "nanobrag_torch", *args, "-floatfile", "p.bin", "-nopgm", "-nonoise", "-dtype", dtype]
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
        while True:   # wait4 for the child's own peak RSS; a poll every 50 ms bounds it by timeout_s
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > timeout_s:
                os.killpg(proc.pid, 9)
                os.wait4(proc.pid, 0)
                print(f"  port {mode}: killed after {timeout_s:g} s", flush=True)
                return None
            time.sleep(0.05)
        wall = time.monotonic() - t0
        proc.returncode = rc = os.waitstatus_to_exitcode(status)
        if rc != 0:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            print(f"  port {mode}: exit {rc}: {tail[0][:200]}", flush=True)
            return None
    return Measure(wall, usage.ru_maxrss / 1024.0)


def _worker_result(out: str) -> dict:
    return json.loads([ln for ln in out.splitlines() if ln.startswith("BENCH_WORKER ")][-1].split(" ", 1)[1])


def measure_torch_inprocess(args: list[str], dtype: str, threads: int, repeat: int,
                            trace: tuple[int, int] | None = None) -> Measure:
    payload = json.dumps({"args": args, "dtype": dtype, "threads": threads, "repeat": repeat, "trace": trace})
    with tempfile.TemporaryDirectory() as tmp:
        m, out = _run_child([sys.executable, "-m", "app.cli.bench", "--worker", payload], _torch_env(threads), tmp)
    res = _worker_result(out)
    m.wall_s = statistics.median(res["times"])
    m.extra = dict(res, cpu_s=statistics.median(res["cpu"]))
    return m


def measure_kernel_build(threads: int) -> dict:
    """Build time of the compiled kernel into an empty cache folder, then its load time from that cache."""
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(_torch_env(threads), NBPARITY_CACHE_DIR=cache)
        for label in ("cold", "cached"):
            _, text = _run_child([sys.executable, "-m", "app.cli.bench", "--build-worker"], env, cache)
            out[label] = _worker_result(text)
    return out


def _build_worker() -> int:
    from simulator import compiled

    t0 = time.perf_counter()
    k = compiled.kernel()
    print("BENCH_WORKER " + json.dumps({"s": time.perf_counter() - t0, "ok": k is not None,
                                        "built": bool(k and k.built), "why": compiled.unavailable_reason()}))
    return 0


# Three distinct pixels near the spec's traced one (slow, fast): a click after Run never repeats a traced pixel.
CLICK_PIXELS = (CLI_FLAGS_003_PIXEL, (CLI_FLAGS_003_PIXEL[0], CLI_FLAGS_003_PIXEL[1] + 2),
                (CLI_FLAGS_003_PIXEL[0] + 1, CLI_FLAGS_003_PIXEL[1] - 3))


def _click(session, slow: int, fast: int) -> float:
    """One click as the window's trace worker computes it (app/qt/run_model.py `inspect`): both traces, the per-phi
    comparison and the pipeline diff. Returns its wall time (s)."""
    from app.core.inspection_pipeline import pipeline_for

    t0 = time.perf_counter()
    insp = session.inspect_pixel(slow, fast)
    pipeline_for(insp, session.thresholds)
    t = time.perf_counter() - t0
    if insp.errors or insp.comparison is None:
        raise RuntimeError(f"inspection of ({slow}, {fast}) failed: {insp.errors or 'no per-phi comparison'}")
    return t


def _click_worker(payload: str) -> int:
    """Child process: a session on (f) with side A = payload["a"] (an ENGINE spelling) and B = torch float32.

    payload["run"] true: both sides rendered first as the window's Run does (`run_both`: preflight, then the engines
    by `schedule()`; then the image metrics), then one click on each of CLICK_PIXELS (the window has paid imports
    and the HKL parse by then). False: one click on CLI_FLAGS_003_PIXEL in this fresh process (the cold figure: a
    click before any Run, paying imports and first calls)."""
    from app.core.session import ComparisonSession, SessionOptions, SideOptions

    spec = json.loads(payload)
    s = ComparisonSession(spec["args"], SessionOptions(SideOptions(spec["a"]), SideOptions("torch:float32")))
    if not spec["run"]:
        print("BENCH_WORKER " + json.dumps({"cold_s": _click(s, *CLI_FLAGS_003_PIXEL)}), flush=True)
        return 0
    t0 = time.perf_counter()
    a, b = s.run_both()
    if not (a.ok and b.ok):
        raise RuntimeError(f"the run failed: A {a.error}, B {b.error}")
    s.compare(a.result, b.result)
    run_s = time.perf_counter() - t0
    times = [_click(s, *px) for px in CLICK_PIXELS]
    print("BENCH_WORKER " + json.dumps({"run_s": run_s, "times": times}), flush=True)
    return 0


def measure_click(args: list[str], side_a: str, threads: int) -> dict:
    """Click → plots on case (f) with side A = side_a and B = torch float32, in fresh processes (see _click_worker):
    {"first_after_run_s", "later_after_run_s" [2], "pixels" [(slow, fast)] in click order, "run_s" (the Run before
    them: both renders and the metrics), "cold_s" (a click in a process that never ran)}."""
    out = {}
    for run in (True, False):
        with tempfile.TemporaryDirectory() as tmp:
            _, text = _run_child([sys.executable, "-m", "app.cli.bench", "--click-worker",
                                  json.dumps({"args": args, "a": side_a, "run": run})], _torch_env(threads), tmp)
        out.update(_worker_result(text))
    times = out.pop("times")
    return {"first_after_run_s": times[0], "later_after_run_s": times[1:], "pixels": [list(p) for p in CLICK_PIXELS],
            "run_s": out["run_s"], "cold_s": out["cold_s"]}


def measure_window(args: list[str], side_a: str, side_b: str, threads: int) -> dict:
    """The real window's figures on case (f) (app/cli/bench_window.py, offscreen, its own process): Run → each
    engine finished and each display plan applied (ms), then click → plots on three neighbouring pixels."""
    slow, fast = CLI_FLAGS_003_PIXEL
    spec = {"args": args, "a": side_a, "b": side_b, "pixels": [[slow, fast], [slow, fast + 1], [slow + 1, fast]]}
    env = dict(_torch_env(threads), QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    with tempfile.TemporaryDirectory() as tmp:
        try:
            _, out = _run_child([sys.executable, "-m", "app.cli.bench_window", json.dumps(spec)], env, tmp)
        except RuntimeError as exc:
            return {"error": str(exc).splitlines()[0]}
    return _worker_result(out)


def window_line(label: str, res: dict) -> str:
    """One line of measure_window's figures."""
    if "error" in res:
        return f"window (f) {label}: not measured ({res['error']})"
    ev = dict((name, ms) for name, ms in res["events"])
    first = next(((n, ms) for n, ms in res["events"] if n.startswith("applied ")), ("", float("nan")))
    both = [ms for n, ms in res["events"] if n == "applied ab"]
    fin = {k: ev.get(f"{k} finished", float("nan")) for k in "ab"}
    last = max(fin.values())
    clicks = ", ".join(f"{c['plots_ms']:.0f}" for c in res["clicks"])
    return (f"window (f) {label}: Run -> first image ({first[0].split()[-1].upper()}) {first[1]:.0f} ms "
            f"(A finished {fin['a']:.0f}, B finished {fin['b']:.0f} ms); both shown {both[-1] - last:.0f} ms after "
            f"the last engine; click -> plots {clicks} ms" if both else f"window (f) {label}: {res['events']}")


def _worker(payload: str) -> int:
    """Child process: the first render (timed), then `repeat` timed renders; prints the times as JSON."""
    t_start = time.perf_counter()
    import torch

    from simulator.argv import parse_argv
    from simulator.engine import render

    spec = json.loads(payload)
    torch.set_num_threads(spec["threads"])
    cfg = parse_argv(spec["args"]).config
    t_imported = time.perf_counter()
    first = render(cfg, dtype=spec["dtype"])
    t_first = time.perf_counter() - t_imported
    times, cpu = [], []
    for _ in range(spec["repeat"]):
        t0, c0 = time.perf_counter(), time.process_time()
        render(cfg, dtype=spec["dtype"])
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    traces = []
    if spec.get("trace"):
        from simulator.engine import trace_pixel

        for _ in range(4):   # the first one pays the torch path's first calls
            t0 = time.perf_counter()
            trace_pixel(cfg, *spec["trace"], dtype=spec["dtype"])
            traces.append(time.perf_counter() - t0)
    print("BENCH_WORKER " + json.dumps({"times": times, "cpu": cpu, "first_s": t_first, "trace_s": traces[1:],
                                        "import_s": t_imported - t_start, "kernel": first.meta.get("kernel")}),
          flush=True)
    return 0


def _executable(path: str) -> str:
    """argparse type: an existing executable file (a sentence, exit 2, instead of a failure minutes into the run)."""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise argparse.ArgumentTypeError(f"{path!r} is not an executable file")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m app.cli.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads for both engines")
    ap.add_argument("--repeat", type=int, default=3, help="timed warm in-process renders (median reported)")
    ap.add_argument("--case", action="append", choices=[*CASES, "f"], help="cases to run (default: all)")
    ap.add_argument("--cli-flags-003", metavar="DIR", default=str(DEFAULT_SHARED),
                    help="folder with A.mat and scaled.hkl for case (f) (default: %(default)s)")
    ap.add_argument("--port", metavar="PYTHON", type=_executable,
                    help="the port team's venv python: adds nanobrag_torch's rows")
    ap.add_argument("--port-mode", action="append", choices=PORT_MODES,
                    help="port modes to run (default: all four)")
    ap.add_argument("--port-timeout", type=float, default=300.0, help="seconds per port run (default: %(default)s)")
    ap.add_argument("--quick", action="store_true", help="cases (a) and (f) only, one warm render")
    ap.add_argument("--golden", metavar="BINARY", type=_executable,
                    help="the port team's golden C: a click line with it on side A")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--click-worker", help=argparse.SUPPRESS)
    ap.add_argument("--build-worker", action="store_true", help=argparse.SUPPRESS)
    ns = ap.parse_args(argv)
    if ns.worker:
        return _worker(ns.worker)
    if ns.click_worker:
        return _click_worker(ns.click_worker)
    if ns.build_worker:
        return _build_worker()

    if ns.quick:
        ns.repeat = 1
    wanted = ns.case or (["a", "f"] if ns.quick else [*CASES, "f"])
    cases = {k: v for k, v in CASES.items() if k in wanted}
    if "f" in wanted:
        data = Path(ns.cli_flags_003)
        if (data / "A.mat").is_file() and (data / "scaled.hkl").is_file():
            cases["f"] = cli_flags_003_args(data)
        else:
            print(f"case (f) skipped: no A.mat/scaled.hkl in {data}")
    other = os.environ.get("NB_C_BIN")
    print(f"threads: {ns.threads} (C: OMP_NUM_THREADS, torch: set_num_threads); C reference: {c_reference()}; "
          f"NB_C_BIN: {other or 'not set'}")
    kb = measure_kernel_build(ns.threads)
    print(f"compiled kernel: build into an empty cache {kb['cold']['s']:.2f} s (built={kb['cold']['built']}), "
          f"load from the cache {kb['cached']['s']:.3f} s" + (f"; unavailable: {kb['cold']['why']}"
                                                              if not kb['cold']['ok'] else ""))
    up = "NB_C s" if other else ""
    header = (f"{'case':4s} {'dtype':7s} {'C ref s':>8s} {up:>7s} {'torch s':>8s} {'proc s':>7s} {'first s':>8s} "
              f"{'C/torch':>8s} {'C/proc':>7s} {'NB/torch':>8s} {'f64/f32':>7s} {'cpu C/t':>7s} {'C MB':>6s} "
              f"{'torch MB':>8s}  kernel")
    print(header)
    print("-" * len(header))
    rows, traces = [], {}
    for name, args in cases.items():
        c = measure_c(c_reference(), args, ns.threads)
        up_m = measure_c(other, args, ns.threads) if other else None
        warm = {}
        for dtype in ("float32", "float64"):
            proc = measure_torch_process(args, dtype, ns.threads)
            inproc = measure_torch_inprocess(args, dtype, ns.threads, ns.repeat,
                                             CLI_FLAGS_003_PIXEL if name == "f" else None)
            if inproc.extra["trace_s"]:
                traces[dtype] = statistics.median(inproc.extra["trace_s"])
            warm[dtype] = inproc.wall_s
            torch_rss = max(proc.peak_rss_mb, inproc.peak_rss_mb)
            up_s = f"{up_m.wall_s:7.3f}" if up_m else ""
            up_r = f"{up_m.wall_s / inproc.wall_s:8.2f}" if up_m else ""
            f_ratio = f"{warm['float64'] / warm['float32']:7.2f}" if dtype == "float64" else ""
            print(f"({name})  {dtype:7s} {c.wall_s:8.3f} {up_s:>7s} {inproc.wall_s:8.3f} {proc.wall_s:7.3f} "
                  f"{inproc.extra['first_s']:8.3f} {c.wall_s / inproc.wall_s:8.2f} {c.wall_s / proc.wall_s:7.2f} "
                  f"{up_r:>8s} {f_ratio:>7s} {c.extra['cpu_s'] / inproc.extra['cpu_s']:7.2f} {c.peak_rss_mb:6.1f} "
                  f"{torch_rss:8.1f}  {inproc.extra['kernel']}",
                  flush=True)
            port_cols = {}
            for mode in (ns.port_mode or PORT_MODES) if ns.port else ():
                if mode.startswith(dtype):
                    pm = measure_port(ns.port, args, mode, ns.threads, ns.port_timeout)
                    port_cols[mode] = None if pm is None else {"s": pm.wall_s, "rss_mb": pm.peak_rss_mb}
                    if pm is not None:
                        print(f"      port {mode:18s} process {pm.wall_s:8.3f} s  peak {pm.peak_rss_mb:7.1f} MB  "
                              f"port/ours: {pm.wall_s / proc.wall_s:6.1f}x whole process, "
                              f"{pm.wall_s / inproc.wall_s:6.1f}x warm render", flush=True)
            rows.append({"port": port_cols,
                         "case": name, "what": CASE_NOTES[name], "dtype": dtype, "c_s": c.wall_s,
                         "nb_c_bin_s": up_m.wall_s if up_m else None, "torch_inprocess_s": inproc.wall_s,
                         "torch_times": inproc.extra["times"], "torch_first_s": inproc.extra["first_s"],
                         "torch_process_s": proc.wall_s, "c_over_torch": c.wall_s / inproc.wall_s,
                         "c_rss_mb": c.peak_rss_mb, "torch_process_rss_mb": proc.peak_rss_mb,
                         "torch_inprocess_rss_mb": inproc.peak_rss_mb, "kernel": inproc.extra["kernel"],
                         "c_cpu_s": c.extra["cpu_s"], "torch_cpu_s": inproc.extra["cpu_s"]})
    print("cases: " + "; ".join(f"({k}) {CASE_NOTES[k]}" for k in cases))
    print("columns: torch s = in-process warm render (median), proc s = whole `python -m simulator` process, first s "
          "= first render in a fresh process (kernel from the disk cache), C/torch = C ref s / torch s, cpu C/t = "
          "the same ratio of CPU seconds (steadier on a loaded machine), MB = peak RSS")
    if traces:
        print(f"pixel trace (f) {CLI_FLAGS_003_PIXEL} in-process, warm: "
              + ", ".join(f"{d} {1000 * t:.0f} ms" for d, t in traces.items()))
    clicks = {}
    if "f" in cases:
        for label, side_a in [("cref", f"bin:{c_reference()}")] + ([("golden", f"bin:{ns.golden}")] if ns.golden
                                                                      else []):
            try:
                clicks[label] = c = measure_click(cases["f"], side_a, ns.threads)
            except RuntimeError as exc:   # a click worker that failed: said, and the other figures still come
                print(f"click -> plots (f), {label}: not measured ({str(exc).splitlines()[0]})", flush=True)
                continue
            print(f"click -> plots (f), {label} C + torch float32, pixels "
                  + ", ".join(f"({s}, {f})" for s, f in c["pixels"])
                  + f": first click after Run {1000 * c['first_after_run_s']:.0f} ms, then "
                  + ", ".join(f"{1000 * t:.0f}" for t in c["later_after_run_s"])
                  + f" ms (Run {c['run_s']:.1f} s); cold (no Run, fresh process) {1000 * c['cold_s']:.0f} ms",
                  flush=True)
    windows = {}
    if "f" in cases:
        pairs = [("torch float32 | cref C", "torch:float32", f"bin:{c_reference()}")]
        if ns.golden:
            pairs.append(("golden C | torch float32", f"bin:{ns.golden}", "torch:float32"))
        for label, a, b in pairs:
            windows[label] = measure_window(cases["f"], a, b, ns.threads)
            print(window_line(label, windows[label]), flush=True)
    with open("/proc/loadavg") as f:
        print("load average (1, 5, 15 min): " + " ".join(f.read().split()[:3]))
    print("BENCH_JSON " + json.dumps({"kernel_build": kb, "rows": rows, "trace_s": traces, "clicks": clicks,
                                      "windows": windows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
