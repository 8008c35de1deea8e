"""tracing.bundle: new folders only, whole-or-nothing writes, manifest helpers."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re

import numpy as np
import pytest

from tracing.bundle import BundleWriter, git_commit, json_safe, new_bundle_dir, sha256_file

NOW = dt.datetime(2026, 11, 28, 16, 5, 9)


def test_new_bundle_dir_never_reuses(tmp_path):
    a = new_bundle_dir(tmp_path, "compare", now=NOW)
    b = new_bundle_dir(tmp_path, "compare", now=NOW)
    c = new_bundle_dir(tmp_path, "compare", now=NOW)
    assert [p.name for p in (a, b, c)] == ["compare-20261128-160509", "compare-20261128-160509-2",
                                            "compare-20261128-160509-3"]
    assert all(p.is_dir() for p in (a, b, c))
    assert re.fullmatch(r"snap-\d{8}-\d{6}", new_bundle_dir(tmp_path, "snap").name)


def test_writer_commits_whole_bundle(tmp_path):
    img = np.arange(6, dtype=np.float32).reshape(2, 3)
    with BundleWriter(tmp_path, "compare", now=NOW) as w:
        w.write_text("notes/readme.txt", "hello")
        w.write_bytes("raw.bin", b"\x00\x01")
        w.write_json("summary.json", {"r": math.nan, "shape": (2, 3), "x": np.float32(1.5)})
        w.write_array_f32("c_float.bin", img)
        w.write_manifest(extra={"argv_c": ["-detpixels", "3"]})
        # Nothing is visible under the final name while it is being built.
        assert not (tmp_path / "compare-20261128-160509").exists()
        assert w.tmp.name.startswith(".compare-")
    assert w.path == tmp_path / "compare-20261128-160509"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compare-20261128-160509"]  # temp folder gone
    assert (w.path / "notes" / "readme.txt").read_text() == "hello"
    assert json.loads((w.path / "summary.json").read_text()) == {"r": None, "shape": [2, 3], "x": 1.5}
    # Raw float32, row-major, little-endian: reads back as the C's float file would.
    np.testing.assert_array_equal(np.fromfile(w.path / "c_float.bin", "<f4").reshape(2, 3), img)
    man = json.loads((w.path / "manifest.json").read_text())
    assert [f["name"] for f in man["files"]] == ["notes/readme.txt", "raw.bin", "summary.json", "c_float.bin"]
    assert man["files"][1] == {"name": "raw.bin", "bytes": 2, "sha256": hashlib.sha256(b"\x00\x01").hexdigest()}
    assert man["argv_c"] == ["-detpixels", "3"]


def test_writer_exception_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with BundleWriter(tmp_path, "compare", now=NOW) as w:
            w.write_text("a.txt", "partial")
            raise RuntimeError("export failed half way")
    assert list(tmp_path.iterdir()) == []


def test_writer_does_not_overwrite_existing(tmp_path):
    old = tmp_path / "compare-20261128-160509"
    old.mkdir()
    (old / "keep.txt").write_text("earlier snapshot")
    with BundleWriter(tmp_path, "compare", now=NOW) as w:
        w.write_text("new.txt", "x")
    assert w.path.name == "compare-20261128-160509-2"
    assert (old / "keep.txt").read_text() == "earlier snapshot"


def test_path_for_rejects_escape(tmp_path):
    with BundleWriter(tmp_path) as w:
        with pytest.raises(ValueError):
            w.path_for("../outside.txt")
        w.write_text("ok.txt", "")


def test_sha256_and_git(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    assert sha256_file(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # sha256("abc")
    assert git_commit(tmp_path) is None  # not a git checkout


def test_json_safe():
    assert json_safe({"a": (1, float("inf")), 2: np.int64(3)}) == {"a": [1, None], "2": 3}
