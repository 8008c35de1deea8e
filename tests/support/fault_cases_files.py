"""The fault catalogue of the files nbparity reads back (issue 18, part B), as data: sweeps, bundles, settings and
loaded images.

Each `FileCase` names its surface, the kind of fault (the 125-fault probe's kinds: truncated, garbage, empty, huge,
wrong-type, symlink, permission, newer-version, plus escape (a path leaving its folder), forged (a consistent
edit), dead (an address or binary), leftover), what is done, the expected outcome and the words the message must
hold. `probe` names a function of `fault_probes_files` that sets the fault up in a scratch folder and does what a
user would do; it returns a `Seen` (or raises, and the harness sorts the exception).

Outcome classes (the closing note of issue 18 counts them): handled (refused in words, or accepted with defaults
and said so), crash, hang, traceback (an exception that is not one of the program's error values), silent (a bad
input accepted without a word), data loss (the user's files or settings overwritten or wiped), orphan (a
process or folder left behind), misleading (refused or reported with the wrong words: another file, another
fault), outside (a file read or written outside the folder it belongs to).

    .venv/bin/python tests/support/fault_baseline_files.py /tmp/base   # before (a checkout of 0f89551) -> after
"""
from __future__ import annotations

from dataclasses import dataclass, field

CLASSES = ("crash", "hang", "traceback", "silent", "data loss", "orphan", "misleading", "outside", "handled")
SURFACES = ("sweeps", "bundles", "settings", "images")


@dataclass(frozen=True)
class FileCase:
    id: str
    surface: str
    kind: str
    what: str                                  # what is done, one sentence
    words: tuple[str, ...] = ()                # every one in the message (case-insensitive)
    accept: bool = False                       # the right outcome is to go on (with defaults) rather than refuse
    probe: str = ""                            # fault_probes_files.<probe> (default: the id with '-' -> '_')
    needs: tuple[str, ...] = field(default=())  # "nonroot": skipped as root (permissions do not bind root)

    @property
    def probe_name(self) -> str:
        return self.probe or "probe_" + self.id.replace("-", "_")


C = FileCase
CASES: list[FileCase] = [
    # ---- sweeps --------------------------------------------------------------------------------------------------
    C("sweep-record-forged-pass", "sweeps", "forged", "a failed case's record.json edited fail -> pass, then the "
      "sweep resumed", ("record.json said pass",)),
    C("sweep-record-garbage", "sweeps", "garbage", "record.json replaced by random bytes; resume"),
    C("sweep-record-truncated", "sweeps", "truncated", "record.json cut in half; resume"),
    C("sweep-record-empty", "sweeps", "empty", "record.json of 0 bytes; resume"),
    C("sweep-record-wrong-type", "sweeps", "wrong-type", "record.json a JSON list; resume"),
    C("sweep-record-status-number", "sweeps", "wrong-type", "record.json's fields of the wrong types; resume"),
    C("sweep-bundle-edited", "sweeps", "forged", "the case bundle's metrics.json edited fail -> pass (manifest "
      "hashes not updated); resume"),
    C("sweep-bundle-nan-image", "sweeps", "forged", "side B's image replaced by NaN, manifest re-hashed, record "
      "says pass; resume"),
    C("sweep-bundle-symlink", "sweeps", "symlink", "record.json's bundle is a link to a folder outside the case"),
    C("sweep-out-foreign", "sweeps", "data loss", "--out is a folder of the user's (its own report.html)",
      ("--out", "not a sweep's")),
    C("sweep-out-file", "sweeps", "wrong-type", "--out is a file", ("--out",)),
    C("sweep-case-dotdot", "sweeps", "escape", "a case named '..'", accept=True),
    C("sweep-case-floatfile", "sweeps", "escape", "a case with -floatfile /abs/x.bin",
      ("-floatfile", "outside the case's folder")),
    C("sweep-case-intfile-relative", "sweeps", "escape", "a case with -intfile x.img (the worker's folder)",
      ("-intfile", "outside the case's folder")),
    C("sweep-grid-huge", "sweeps", "huge", "a grid of 1000 x 1000 values", ("1,000,000 cases",)),
    C("sweep-scheduler-dead", "sweeps", "dead", "--scheduler at a port nobody listens on",
      ("--scheduler", "nothing answers")),
    C("sweep-scheduler-garbage", "sweeps", "garbage", "--scheduler http://x:1/path",
      ("--scheduler", "not a scheduler address")),
    C("sweep-engine-missing", "sweeps", "dead", "the matrix's engine bin:/.../no/nanoBragg does not exist",
      ("no/nanoBragg", "cannot run here")),
    C("sweep-matrix-empty", "sweeps", "empty", "a matrix file of 0 bytes", ("no cases",)),
    C("sweep-matrix-garbage", "sweeps", "garbage", "a matrix file of random bytes", ("matrix",)),
    C("sweep-matrix-folder", "sweeps", "wrong-type", "the matrix path is a folder", ("matrix", "cannot read")),
    C("sweep-matrix-unreadable", "sweeps", "permission", "a matrix file chmod 000", ("matrix", "permission"),
      needs=("nonroot",)),
    # ---- bundles -------------------------------------------------------------------------------------------------
    C("bundle-manifest-truncated", "bundles", "truncated", "manifest.json cut in half", ("manifest.json",)),
    C("bundle-manifest-garbage", "bundles", "garbage", "manifest.json of random bytes", ("manifest.json",)),
    C("bundle-manifest-empty", "bundles", "empty", "manifest.json of 0 bytes", ("manifest.json",)),
    C("bundle-manifest-list", "bundles", "wrong-type", "manifest.json a JSON list",
      ("manifest.json", "JSON object")),
    C("bundle-files-not-list", "bundles", "wrong-type", "manifest files: 5", ("manifest.json", "files")),
    C("bundle-missing-argv", "bundles", "wrong-type", "manifest without argv", ("manifest.json", "argv")),
    C("bundle-shape-negative", "bundles", "wrong-type", "side A's shape [-16, 16]",
      ("manifest.json", "shape", "positive")),
    C("bundle-shape-huge", "bundles", "huge", "side A's shape [100000, 100000]", ("manifest.json", "shape")),
    C("bundle-shape-text", "bundles", "wrong-type", "side A's shape ['a', 16]", ("manifest.json", "shape")),
    C("bundle-name-dotdot", "bundles", "escape", "side A's image listed as ../outside.bin (hash of that file)",
      ("manifest.json", "inside the bundle")),
    C("bundle-name-absolute", "bundles", "escape", "side A's image listed as an absolute path (its hash)",
      ("manifest.json", "inside the bundle")),
    C("bundle-image-symlink", "bundles", "symlink", "side A's image a link to an identical file outside",
      ("symbolic link",)),
    C("bundle-nan-image", "bundles", "forged", "side B's image NaN, manifest re-hashed", ("NaN",)),
    C("bundle-newer-format", "bundles", "newer-version", "manifest bundle_format 99", ("newer nbparity", "99")),
    C("bundle-unlisted-table", "bundles", "forged", "a per-phi table the manifest does not list",
      ("not listed",)),
    C("bundle-metrics-wrong-type", "bundles", "wrong-type", "metrics.json {\"metrics\": 5}, re-hashed",
      ("metrics.json",)),
    C("bundle-table-wrong-type", "bundles", "wrong-type", "a per-phi table's rows a number, re-hashed",
      ("pixel_s",)),
    C("bundle-image-unreadable", "bundles", "permission", "side A's image chmod 000", ("permission",),
      needs=("nonroot",)),
    C("bundle-partial-opened", "bundles", "leftover", "a killed writer's .compare-*.partial folder opened as a "
      "bundle", ("unfinished",)),
    C("bundle-partial-cleaned", "bundles", "leftover", "a dead writer's .partial beside the bundles; the next "
      "bundle is written", accept=True),
    # ---- settings ------------------------------------------------------------------------------------------------
    C("settings-carryover-list", "settings", "wrong-type", "engines/side_b carryover: [1]; the window starts",
      ("carryover", "[1]"), accept=True),
    C("settings-threads-text", "settings", "wrong-type", "engines/side_b threads: 'many'", ("threads", "many"),
      accept=True),
    C("settings-engine-garbage", "settings", "garbage", "engines/side_a engine 'warp-drive'", ("warp-drive",),
      accept=True),
    C("settings-side-not-json", "settings", "truncated", "engines/side_b a cut JSON text", ("side_b",),
      accept=True),
    C("settings-profiles-list", "settings", "wrong-type", "engines/profiles a JSON list", ("profiles",),
      accept=True),
    C("settings-percentile-text", "settings", "wrong-type", "view/percentile 'lots'", ("percentile",),
      accept=True),
    C("settings-newer-schema", "settings", "newer-version", "a settings file of schema 99 with a profile",
      ("newer nbparity",), accept=True),
    C("settings-cmd-then-torch", "settings", "wrong-type", "side B saved as cmd:PATH, then --b torch",
      accept=True),
    C("settings-file-garbage", "settings", "garbage", "the settings file is random bytes", accept=True),
    C("settings-geometry-garbage", "settings", "garbage", "window/geometry a text", accept=True),
    # ---- loaded images -------------------------------------------------------------------------------------------
    C("image-zero-size", "images", "empty", "a 0 x 0 .npy image loaded as side B", ("z.npy", "empty")),
    C("image-wrong-size", "images", "wrong-type", "a 16 x 16 EDF as B beside an 8 x 8 EDF as A", ("b16.edf",)),
    C("image-1e300", "images", "huge", "an EDF of float64 1e300", ("big.edf", "float32")),
    C("image-fifo", "images", "wrong-type", "a FIFO named x.edf", ("x.edf", "FIFO")),
    C("image-folder", "images", "wrong-type", "a folder named x.edf", ("x.edf", "folder")),
    C("image-dangling-link", "images", "symlink", "a link to nothing named x.edf", ("x.edf", "no such file")),
    C("image-truncated-smv", "images", "truncated", "an SMV whose data stops half-way", ("t.img",)),
    C("image-garbage", "images", "garbage", "random bytes named g.cbf", ("g.cbf",)),
    C("image-empty-file", "images", "empty", "an EDF of 0 bytes", ("e.edf",)),
    C("image-raw-wrong-size", "images", "wrong-type", "a raw .bin of 100 bytes for a 16 x 16 detector",
      ("r.bin", "bytes")),
    C("image-raw-nan", "images", "garbage", "a raw .bin full of NaN", ("n.bin", "NaN")),
    C("image-unreadable", "images", "permission", "an EDF chmod 000", ("p.edf", "permission"),
      needs=("nonroot",)),
]
CASE_IDS = [c.id for c in CASES]
assert len(set(CASE_IDS)) == len(CASE_IDS)
assert all(c.surface in SURFACES for c in CASES)
