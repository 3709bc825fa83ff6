"""Compiling kernels ahead in a background process (thermal._kernels.ahead)."""

import os

import numpy as np
import pytest

import thermal._kernels as kernels
from thermal._kernels import Kernel, ahead, fit, kernel, profile
from thermal.fit import fit_spectra


def _double_example():
    return np.arange(3.0), np.zeros(3)


@kernel(rows="x", inputs=("x",), example=_double_example)
def double(first, last, x, out):
    for i in range(first, last):
        out[i] = 2.0 * x[i]


def _broken_example():
    raise RuntimeError("no example today")


@kernel(rows="x", inputs=("x",), example=_broken_example)
def triple(first, last, x, out):
    for i in range(first, last):
        out[i] = 3.0 * x[i]


@kernel(rows="x", inputs=("x",))
def no_example(first, last, x, out):
    for i in range(first, last):
        out[i] = x[i]


@pytest.fixture
def cold_cache(tmp_path, monkeypatch):
    """An empty cache folder for this process and its children; kernels count as never run
    here."""
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.path.dirname(__file__))  # this module, for the child
    monkeypatch.delenv("THERMAL_NUMBA_CACHE", raising=False)
    folder = kernels.cache_dir()
    monkeypatch.setattr(kernels, "_CACHE_DIR", folder)
    for k in (double, triple):
        monkeypatch.setattr(k, "_called", False)
    return folder


@pytest.mark.parametrize(
    "k, sample", [(fit.fit_batch, fit.example), (profile.profile_batch, profile.example)]
)
def test_the_examples_have_the_types_of_every_fit(k, sample):
    """What runs ahead is what a fit loads: a real fit (with profile intervals) has compiled
    (or loaded) one signature of each kernel, the one of its example."""
    from thermal import simulate

    obs = simulate.observation([[900.0, 400.0]], [[1e6, 1e8]], wavelength=[1.5, 2, 3, 4, 5])
    fit_spectra(obs, model="2T", intervals="profile")
    assert k.compiled.signatures == [k.signature(*sample())]


def test_a_cold_kernel_compiles_in_the_background_and_its_first_call_waits(cold_cache):
    # a kernel of the same function made now caches in the cold folder, as the child's does
    here = Kernel(double.function, rows="x", inputs=("x",), example=_double_example)
    marks = f"{__name__}.double-*.compiled"
    assert not ahead.is_compiled(here)
    assert ahead.compile_ahead(here) == [f"{__name__}:double"]
    assert ahead.compile_ahead(here) == []  # under way already
    process = ahead._RUNNING[f"{__name__}:double"]
    process.wait()
    assert process.returncode == 0
    assert len(list(cold_cache.glob(marks))) == 1  # the background process ran the example
    out = np.zeros(3)
    here(np.arange(3.0), out)  # loads what the background process compiled
    np.testing.assert_array_equal(out, [0.0, 2.0, 4.0])
    assert here.compiled.stats.cache_hits and not here.compiled.stats.cache_misses
    assert ahead.compile_ahead(here) == []  # the cache holds it now


def test_a_failed_background_compilation_leaves_the_kernel_to_its_caller(cold_cache):
    assert ahead.compile_ahead(triple) == [f"{__name__}:triple"]
    process = ahead._RUNNING[f"{__name__}:triple"]
    out = np.zeros(2)
    triple(np.ones(2), out)
    assert process.returncode != 0
    np.testing.assert_array_equal(out, [3.0, 3.0])
    assert list(cold_cache.glob(f"{__name__}.triple-*.compiled"))  # marked by the call here


def test_a_kernel_is_marked_per_source_path_and_time_stamp(cold_cache, tmp_path):
    """As numba's cache index: a new time stamp of the source (a checkout) compiles again."""
    before = ahead._mark(double)
    source = tmp_path / "copy.py"
    source.write_text("pass\n")
    moved = Kernel(double.function, rows="x", inputs=("x",), example=_double_example)
    moved.function = type(double.function)(
        double.function.__code__.replace(co_filename=str(source)), {}, "double"
    )
    assert ahead._mark(moved) != before
    touched = ahead._mark(moved)
    os.utime(source, ns=(0, 0))
    assert ahead._mark(moved) != touched


def test_without_a_cache_nothing_runs_ahead(monkeypatch):
    monkeypatch.setattr(kernels, "_CACHE_DIR", None)
    assert ahead.is_compiled(double)
    assert ahead.compile_ahead(double) == []


def test_a_kernel_without_an_example_cannot_run_ahead():
    with pytest.raises(ValueError, match="no example"):
        ahead.compile_ahead(no_example)
    with pytest.raises(ValueError, match="no example"):
        no_example.warm()
