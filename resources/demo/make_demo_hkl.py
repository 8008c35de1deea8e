"""Writes demo.hkl: a deterministic, made-up structure-factor table for the built-in demo scenario.

F(h,k,l) = 10 + 90 * frac(|sin(12.9898 h + 78.233 k + 37.719 l)| * 43758.5453), for -10 <= h,k,l <= 10, which gives
varied spot intensities without any real structure. Run: python resources/demo/make_demo_hkl.py
"""
from __future__ import annotations

import math
from pathlib import Path


def demo_F(h: int, k: int, l: int) -> float:  # noqa: E741 (crystallographic index names)
    x = abs(math.sin(12.9898 * h + 78.233 * k + 37.719 * l)) * 43758.5453
    return 10.0 + 90.0 * (x - math.floor(x))


def main() -> None:
    out = Path(__file__).with_name("demo.hkl")
    lines = [
        f"{h} {k} {l} {demo_F(h, k, l):.2f}"
        for h in range(-10, 11) for k in range(-10, 11) for l in range(-10, 11)  # noqa: E741
    ]
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out} ({len(lines)} reflections)")


if __name__ == "__main__":
    main()
