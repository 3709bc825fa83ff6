"""Repository-wide pytest configuration.

Test helpers are modules of the ``tests`` package (``tests/__init__.py``,
``tests/fit/__init__.py``) and import as ``from tests.fit.reference import ...``: the
repository root is on ``sys.path`` through ``pythonpath = ["."]`` in pyproject.toml's
``[tool.pytest.ini_options]``, in every import mode, so no test edits ``sys.path``. The
benchmarks (``python -m benchmarks``, run from the root) import the same helpers.

The suite keeps every test under :data:`BUDGET` seconds; statistics that need longer runs live
in ``benchmarks/`` (``optimum``: the fit's global optimum over 15,000 spectra). Tests over
the budget are listed at the end of the run (not failed: timings on shared machines wander).
The fit kernels are compiled once after collection (``pytest_collection_finish``, when tests
that fit were collected), not in whichever test happens to fit first; the time it took is
printed with the summary.
"""

from __future__ import annotations

import time

import numpy as np

BUDGET = 20.0  # [s] per test phase (setup, call or teardown)
_WARM_UP: list[float] = []


_FITTING = (
    "tests/fit/",
    "tests/kernels/",
    "tests/test_cli.py",
    "tests/test_summary.py",
    "tests/test_batch.py",
)


def pytest_collection_finish(session):
    """Compile (or load from the cache) the fit kernels once, before the first test, when the
    run holds tests that fit: with an empty numba cache that takes ~38 s on 2 cores (the
    least-squares kernel's stages here and the profile-interval kernel, ~35 s alone, in a
    background process at the same time), which would otherwise land in whichever test fits
    first. The time is printed at the end."""
    if not any(item.nodeid.startswith(_FITTING) for item in session.items):
        return
    start = time.perf_counter()
    from thermal import simulate
    from thermal._kernels import ahead, profile
    from thermal.fit import fit_spectra

    ahead.compile_ahead(profile.profile_batch)  # on the other core while this one compiles the fit

    observation = simulate.observation(
        [[900.0, 400.0]], [[1e6, 1e8]], wavelength=np.linspace(1.5, 5.0, 17), n=2, seed=0
    )
    fit_spectra(observation, model="2T", intervals="profile")  # both big kernels
    _WARM_UP.append(time.perf_counter() - start)


def pytest_terminal_summary(terminalreporter):
    if _WARM_UP:
        terminalreporter.write_line(
            f"fit kernels compiled or loaded before the first test in {_WARM_UP[0]:.1f} s"
        )
    slow = sorted(
        (report.duration, report.nodeid, report.when)
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "duration", 0.0) > BUDGET and hasattr(report, "when")
    )
    if slow:
        terminalreporter.section(f"tests over the {BUDGET:g} s budget")
        for duration, nodeid, when in reversed(slow):
            terminalreporter.write_line(f"{duration:7.1f} s {when:8s} {nodeid}")
