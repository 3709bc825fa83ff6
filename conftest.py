"""Repository-wide pytest configuration.

Test helpers are modules of the ``tests`` package (``tests/__init__.py``,
``tests/fit/__init__.py``) and import as ``from tests.fit.reference import ...``: the
repository root is on ``sys.path`` through ``pythonpath = ["."]`` in pyproject.toml's
``[tool.pytest.ini_options]``, in every import mode, so no test edits ``sys.path``. The
benchmarks (``python -m benchmarks``, run from the root) import the same helpers.

The suite keeps every test under :data:`BUDGET` seconds; statistics that need longer runs live
in ``benchmarks/`` (``optimum``: the fit's global optimum over 15,000 spectra). Tests over
the budget are listed at the end of the run (not failed: timings on shared machines wander).
"""

from __future__ import annotations

BUDGET = 20.0  # [s] per test phase (setup, call or teardown)


def pytest_terminal_summary(terminalreporter):
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
