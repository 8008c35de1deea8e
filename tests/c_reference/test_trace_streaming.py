"""The trace parser streams (issue 22): memory is bounded by the samples kept, not by the lines an engine prints."""
from __future__ import annotations

import tracemalloc

import pytest
from test_driver import fake

from c_reference.driver import trace_c
from tracing.parse import MAX_SAMPLES, TraceReader

N_LINES = 100_000
FLOOD = f"""
write_image()
print("TRACE_CONFIG: tracing pixel (spixel=1, fpixel=1)")
out = sys.stdout
for i in range({N_LINES}):
    out.write(f"TRACE_C_PHI phi_tic={{i}} phi_deg={{0.01 * i:.15g}} k_frac=1.5 F_latt_b=2.5 F_latt=3.5\\n")
print("TRACE_C: I_pixel_final 7")
"""


@pytest.mark.slow
def test_a_flood_of_phi_lines_keeps_only_the_bounded_samples(tmp_path):
    binary = fake(tmp_path, FLOOD)
    kept = 1_000
    tracemalloc.start()
    try:
        tr = trace_c(["-detpixels", "4"], 1, 1, binary=binary, trace_options={"max_samples": kept})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 100,000 lines of ~80 bytes are 8 MB of text and ~45 MB as samples (~450 bytes each: 20,000 kept samples
    # peak at ~14 MB); 1,000 kept samples are under 0.5 MB. The bound, 8 MiB, is the driver's log follower (1 MiB
    # read chunks: the chunk, the joined partial line, the split lines and the decoded tail, ~5 MB measured) plus
    # the kept samples: a reader that held the lines or the samples could not pass.
    assert len(tr.samples) == kept and tr.samples_dropped == N_LINES - kept
    assert tr.scalar("I_pixel_final") == 7.0
    assert any(f"{N_LINES - kept} more per-phi lines were read and not kept" in n for n in tr.notes)
    assert peak < 8 * 1024 * 1024, peak


def test_reader_default_bound_and_order():
    r = TraceReader("c", 0, 0)
    for i in range(MAX_SAMPLES + 5):
        r.feed(f"TRACE_C_PHI phi_tic={i} phi_deg=0 k_frac=1 F_latt_b=1 F_latt=1")
    tr = r.finish()
    assert len(tr.samples) == MAX_SAMPLES and tr.samples_dropped == 5
    assert [s.phi_tic for s in tr.samples[:3]] == [0, 1, 2]   # the first ones are kept, in print order
