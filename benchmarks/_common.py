"""Helpers shared by the benchmark sections: timing, peak memory and table printing."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Sequence


def best_time(function: Callable[[], object], repeat: int = 5, number: int = 1) -> float:
    """Best wall time [s] of ``number`` calls of ``function`` over ``repeat`` trials."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def peak_memory(function: Callable[[], object]) -> tuple[object, float]:
    """(result, peak Python-allocated memory [MB]) of one call (numpy buffers included)."""
    tracemalloc.start()
    try:
        result = function()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak / 1e6


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a plain-text table with a title line."""
    cells = [[_format(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
        for i, h in enumerate(headers)
    ]
    print(f"\n## {title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def _format(value: object) -> str:
    if isinstance(value, float):
        if value == 0 or 1e-3 <= abs(value) < 1e6:
            return f"{value:.4g}"
        return f"{value:.3e}"
    return str(value)
