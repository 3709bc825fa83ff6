"""Compiling kernels ahead in background processes (thermal._kernels.ahead)."""

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
    monkeypatch.setattr(kernels, "CACHE_DIR", folder)
    for k in (double, triple):
        monkeypatch.setattr(k, "_called", False)
    running = {}
    monkeypatch.setattr(ahead, "_RUNNING", running)  # none of other tests', none left after
    yield folder
    ahead._kill([p for processes in running.values() for p in processes.values()])


@pytest.mark.parametrize(
    "k, sample", [(fit.fit_batch, fit.example), (profile.profile_batch, profile.example)]
)
def test_the_examples_have_the_types_of_every_fit(k, sample):
    """What runs ahead is what a fit loads: a real fit (with profile intervals) has compiled
    (or loaded) one signature of each kernel, the one of its example."""
    from thermal import simulate

    obs = simulate.observation([[900.0, 400.0]], [[1e6, 1e8]], wavelength=[1.5, 2, 3, 4, 5])
    fit_spectra(obs, model="2T", intervals="profile")
    for stage in k.stages:
        assert stage.signatures == [k.signature(*sample())]


def test_a_cold_kernel_compiles_in_the_background_and_its_first_call_waits(cold_cache):
    # a kernel of the same function made now caches in the cold folder, as the child's does
    here = Kernel(double.function, rows="x", inputs=("x",), example=_double_example)
    marks = f"{__name__}.double-*.compiled"
    assert not ahead.is_compiled(here)
    assert ahead.compile_ahead(here) == [f"{__name__}:double"]
    assert ahead.compile_ahead(here) == []  # under way already
    assert ahead.background(here) == {0}
    process = ahead._RUNNING[f"{__name__}:double"][0]
    process.wait()
    assert process.returncode == 0
    assert not list(cold_cache.glob(marks))  # a kernel is marked once it ran
    out = np.zeros(3)
    here(np.arange(3.0), out)  # loads what the background process compiled
    np.testing.assert_array_equal(out, [0.0, 2.0, 4.0])
    (stage,) = here.stages
    assert stage.stats.cache_hits and not stage.stats.cache_misses
    assert len(list(cold_cache.glob(marks))) == 1
    assert ahead.compile_ahead(here) == []  # the cache holds it now


def _stage_one(first, last, x, out, s):
    for i in range(first, last):
        s[i - first] = x[i] + 1.0  # what the next stage needs, per row of the block


def _stage_two(first, last, x, out, s):
    for i in range(first, last):
        out[i] = 10.0 * s[i - first]


def _staged(function):
    return Kernel(
        function, rows="x", inputs=("x",), scratch=lambda x, out: np.zeros(2),
        example=_double_example, stages=(_stage_one, _stage_two), ahead=(1, 0), block=2,
    )  # fmt: skip


@_staged
def staged(first, last, x, out, s):
    """10 (x + 1), in two stages over blocks of two rows (the first hands the second x + 1)."""


@pytest.mark.parametrize(
    "cores, announced, elsewhere",
    [(2, True, {1}), (4, True, {0, 1}), (2, False, {1}), (1, True, set()), (1, False, set())],
)
def test_stages_compile_side_by_side_the_longest_in_the_background(
    cold_cache, monkeypatch, cores, announced, elsewhere
):
    """With 2 cores the first stage of the ``ahead`` order compiles in a background process
    and the other in this one, at the first call, before it waits for the background; with 4
    cores both compile in the background; with one, both here. The first call of a kernel of
    several stages starts the background process itself when its caller did not."""
    monkeypatch.setattr(ahead, "_cores", lambda: cores)
    here = _staged(staged.function)  # caches in the cold folder, as the children's do
    if announced:
        assert ahead.compile_ahead(here) == ([f"{__name__}:staged"] if elsewhere else [])
        assert ahead.background(here) == elsewhere
    started = []
    original_compile_ahead = ahead.compile_ahead

    def compile_ahead(*kernels):
        started.append(original_compile_ahead(*kernels))
        return started[-1]

    monkeypatch.setattr(ahead, "compile_ahead", compile_ahead)
    waited = []

    def wait(kernel):  # the stages compiled here are compiled before the call waits
        waited.append([len(stage.signatures) for stage in kernel.stages])
        original_wait(kernel)

    original_wait = ahead.wait
    monkeypatch.setattr(ahead, "wait", wait)
    out = np.zeros(5)
    here(np.arange(5.0), out)  # blocks of 2, 2 and 1 rows through both stages
    np.testing.assert_array_equal(out, 10.0 * (np.arange(5.0) + 1.0))
    assert ahead.background(here) == set()
    # with nothing in the background the stages compile as they run, after the (empty) wait
    assert waited == [[int(bool(elsewhere) and k not in elsewhere) for k in range(2)]]
    if not announced:
        assert started == ([[f"{__name__}:staged"]] if elsewhere else [[]])
    for k, stage in enumerate(here.stages):
        assert len(stage.signatures) == 1
        if k in elsewhere:
            assert stage.stats.cache_hits and not stage.stats.cache_misses
        else:
            assert stage.stats.cache_misses and not stage.stats.cache_hits


def test_background_processes_leave_this_process_a_core(cold_cache, monkeypatch):
    """Over all the kernels of a call and those already compiling: on 2 cores one background
    process in all, the first kernel's longest stage."""
    monkeypatch.setattr(ahead, "_cores", lambda: 2)
    first = _staged(staged.function)
    second = Kernel(double.function, rows="x", inputs=("x",), example=_double_example)
    assert ahead.compile_ahead(first, second) == [f"{__name__}:staged"]
    assert ahead.background(first) == {1} and ahead.background(second) == set()
    assert ahead.compile_ahead(second) == []
    ahead.wait(first)
    assert ahead.compile_ahead(second) == [f"{__name__}:double"]  # a core is free again
    ahead.wait(second)


def test_a_worker_thread_starts_no_background_process(cold_cache, monkeypatch):
    """Inside a dask worker (a thread, one process of many) a kernel compiles where it is
    called: each worker starting processes of its own would crowd the machine."""
    import threading

    monkeypatch.setattr(ahead, "_cores", lambda: 4)
    here = _staged(staged.function)
    out = np.zeros(5)
    worker = threading.Thread(target=here, args=(np.arange(5.0), out))
    worker.start()
    worker.join()
    np.testing.assert_array_equal(out, 10.0 * (np.arange(5.0) + 1.0))
    assert ahead._RUNNING == {}
    assert all(stage.stats.cache_misses for stage in here.stages)


def test_finished_background_processes_free_their_core(cold_cache, monkeypatch):
    import subprocess
    import sys

    monkeypatch.setattr(ahead, "_cores", lambda: 2)
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    ahead._RUNNING["elsewhere:finished"] = {0: done}  # its wait not called yet
    here = Kernel(double.function, rows="x", inputs=("x",), example=_double_example)
    assert ahead.compile_ahead(here) == [f"{__name__}:double"]
    ahead.wait(here)


def test_the_ahead_order_names_each_stage_once():
    for order in ((0, 0), (2,), (-1,)):
        with pytest.raises(ValueError, match="ahead must be distinct stage indices in 0..1"):
            Kernel(staged.function, rows="x", stages=(_stage_one, _stage_two), ahead=order)


def test_a_failed_background_compilation_leaves_the_kernel_to_its_caller(cold_cache):
    assert ahead.compile_ahead(triple) == [f"{__name__}:triple"]
    (process,) = ahead._RUNNING[f"{__name__}:triple"].values()
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
    monkeypatch.setattr(kernels, "CACHE_DIR", None)
    assert ahead.is_compiled(double)
    assert ahead.compile_ahead(double) == []


def test_a_kernel_without_an_example_cannot_run_ahead():
    with pytest.raises(ValueError, match="no example"):
        ahead.compile_ahead(no_example)
    with pytest.raises(ValueError, match="no example"):
        no_example.warm()
