"""Benchmarks of `thermal` against named baselines, measured in the same run.

Run all with ``python -m benchmarks`` (or ``python benchmarks/run.py``); ``--quick`` for a
smoke run, ``--only planck fit`` for some sections. Not part of the test suite.
"""
