"""Import time of brainlm_decode next to NiMARE, each in a fresh interpreter.

Run: ``python benchmarks/bench_import.py``. Prints the median of a few cold-process
imports (the first run warms the bytecode cache and is discarded) and the ratio.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

REPEATS = 5
HEAVY = ("torch", "transformers", "nimare", "sentence_transformers", "sklearn")


def time_import(module: str) -> float:
    """Seconds to import ``module`` in a new interpreter (median of REPEATS)."""
    code = (
        "import time; t = time.perf_counter(); "
        f"import {module}; print(time.perf_counter() - t)"
    )
    runs = []
    for i in range(REPEATS + 1):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        if i:  # the first run compiles bytecode
            runs.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(runs)


def heavy_modules_loaded() -> list[str]:
    """Heavy dependencies that ``import brainlm_decode`` pulls in (should be none)."""
    code = (
        "import sys, brainlm_decode; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return [m for m in out.stdout.strip().split(",") if m]


def main() -> None:
    ours = time_import("brainlm_decode")
    nimare = time_import("nimare")
    print(f"{'package':<16}{'import (s)':>12}")
    print(f"{'brainlm_decode':<16}{ours:>12.3f}")
    print(f"{'nimare':<16}{nimare:>12.3f}")
    print(f"ratio nimare / brainlm_decode: {nimare / ours:.1f}x")
    print(
        f"heavy modules loaded by 'import brainlm_decode': {heavy_modules_loaded() or 'none'}"
    )


if __name__ == "__main__":
    main()
