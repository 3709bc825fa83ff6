"""Reading in a killable child process (thermal.io.isolated): hangs in C, leaks, crashes."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
import xarray as xr

from thermal.io import InputError, limits, open_observation
from thermal.io.formats import register_format, unregister_format
from thermal.io.isolated import (
    isolation_available,
    open_isolated,
    read_ahead,
    reader_session,
)
from thermal.io.limits import ReadTimeout

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "data", "examples", "nims_like_spectra.nc")
needs_fork = pytest.mark.skipif(not isolation_available(), reason="no fork here")


def _hang(path):
    """A reader stuck in C with every signal blocked, as a C library looping on a corrupt
    file: no Python-level deadline can stop it."""
    signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals))
    time.sleep(3600)


def _leak(path):
    for _ in range(50):
        os.open(path, os.O_RDONLY)
    raise InputError(path, "broken after leaking 50 descriptors")


def _crash(path):
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.fixture
def hostile(tmp_path):
    """Files of three hostile test formats, registered by extension."""
    readers = {"hang": _hang, "leak": _leak, "crash": _crash}
    paths = {}
    for name, reader in readers.items():
        register_format(f"test-{name}", reader, extensions=(f".{name}",), replace=True)
        paths[name] = tmp_path / f"input.{name}"
        paths[name].write_bytes(b"x" * 100)
    yield paths
    for name in readers:
        unregister_format(f"test-{name}")


@needs_fork
def test_a_reader_stuck_in_c_is_killed_at_the_deadline(hostile):
    start = time.monotonic()
    with pytest.raises(ReadTimeout, match="killed"):
        open_isolated(hostile["hang"], timeout=0.5)
    assert time.monotonic() - start < 0.5 + 2.0 + 2.0  # deadline, grace, margin


@needs_fork
def test_descriptors_leaked_by_a_reader_end_with_its_process(hostile):
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        with pytest.raises(InputError, match="50 descriptors"):
            open_isolated(hostile["leak"])
    assert len(os.listdir("/proc/self/fd")) == before


@needs_fork
def test_a_reader_that_dies_is_an_input_error(hostile):
    with pytest.raises(InputError, match="died .signal 9"):
        open_isolated(hostile["crash"])


def test_the_observation_is_the_one_read_in_process():
    isolated = open_isolated(EXAMPLE)
    xr.testing.assert_identical(isolated, open_observation(EXAMPLE).load())


def _warning_reader(path):
    import warnings

    warnings.warn(f"{path}: a fact about this file the user must see", UserWarning, stacklevel=1)
    return open_observation(EXAMPLE)


@needs_fork
def test_the_warnings_of_a_read_in_a_reader_process_reach_the_caller(tmp_path):
    """The reader runs in a child process; what it warns about is raised again here, so that
    thermal fit reports it (a label's impossible distance, a relabelled unit)."""
    register_format("test-warn", _warning_reader, extensions=(".warn",), replace=True)
    try:
        path = tmp_path / "input.warn"
        path.write_bytes(b"x")
        with pytest.warns(UserWarning, match="a fact about this file the user must see"):
            observation = open_isolated(path)
        xr.testing.assert_identical(observation, open_observation(EXAMPLE).load())
        with reader_session(), pytest.warns(UserWarning, match="a fact about this file"):
            open_isolated(path)
    finally:
        unregister_format("test-warn")


def test_off_the_main_thread_the_read_runs_in_process():
    got = []
    worker = threading.Thread(target=lambda: got.append(open_isolated(EXAMPLE)))
    worker.start()
    worker.join()
    np.testing.assert_array_equal(got[0]["intensity"], open_observation(EXAMPLE)["intensity"])


@pytest.mark.parametrize("bad", [0, -1, "soon"])
def test_bad_timeouts_are_refused(bad):
    with pytest.raises(ValueError, match="timeout"):
        open_isolated(EXAMPLE, timeout=bad)


def _pid(path):
    """A reader that says which process read it."""
    return xr.Dataset(attrs={"pid": os.getpid(), "name": os.path.basename(path)})


def _fail(path):
    raise InputError(path, "broken")


@pytest.fixture
def probes(tmp_path, hostile):
    """Besides the hostile formats: ``.pid`` files (the reader's process id) and ``.fail``
    files (a read that fails)."""
    register_format("test-pid", _pid, extensions=(".pid",), replace=True)
    register_format("test-fail", _fail, extensions=(".fail",), replace=True)
    paths = dict(hostile)
    for name in ("pid", "fail"):
        paths[name] = tmp_path / f"input.{name}"
        paths[name].write_bytes(b"x" * 100)
    yield paths
    unregister_format("test-pid")
    unregister_format("test-fail")


def _reader_pid(path) -> int:
    return int(open_isolated(path).attrs["pid"])


@needs_fork
def test_a_session_reads_every_input_in_one_process(probes):
    with reader_session():
        pids = {_reader_pid(probes["pid"]) for _ in range(5)}
        isolated = open_isolated(EXAMPLE)
    assert len(pids) == 1 and os.getpid() not in pids
    xr.testing.assert_identical(isolated, open_observation(EXAMPLE).load())
    # outside a session, each read has a process of its own
    assert _reader_pid(probes["pid"]) != _reader_pid(probes["pid"])


@needs_fork
def test_a_failed_read_ends_the_session_process_and_what_it_leaked(probes):
    before = len(os.listdir("/proc/self/fd"))
    with reader_session():
        first = _reader_pid(probes["pid"])
        for name, error, match in [
            ("leak", InputError, "50 descriptors"),
            ("crash", InputError, "died .signal 9"),
            ("hang", ReadTimeout, "killed"),
        ]:
            with pytest.raises(error, match=match):
                open_isolated(probes[name], timeout=0.5)
            after = _reader_pid(probes["pid"])  # the next input is read as usual
            assert after != first
            first = after
    assert len(os.listdir("/proc/self/fd")) == before


@needs_fork
def test_a_session_process_sees_formats_registered_after_its_fork(probes, tmp_path):
    with reader_session():
        first = _reader_pid(probes["pid"])
        register_format("test-late", _pid, extensions=(".late",), replace=True)
        try:
            late = tmp_path / "input.late"
            late.write_bytes(b"x")
            assert int(open_isolated(late).attrs["pid"]) != first
        finally:
            unregister_format("test-late")


def _other_pid(path):
    return xr.Dataset(attrs={"pid": -os.getpid(), "name": os.path.basename(path)})


@needs_fork
def test_a_session_process_sees_a_format_replaced_after_its_fork(probes):
    """A replacement under the same name (its object may even get the old one's id)."""
    with reader_session():
        for _ in range(5):
            unregister_format("test-pid")
            register_format("test-pid", _other_pid, extensions=(".pid",))
            assert _reader_pid(probes["pid"]) < 0
            unregister_format("test-pid")
            register_format("test-pid", _pid, extensions=(".pid",))
            assert _reader_pid(probes["pid"]) > 0


@needs_fork
def test_a_session_reads_relative_paths_from_the_working_folder_of_each_read(
    probes, tmp_path, monkeypatch
):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "input.pid").write_bytes(b"x")
    with reader_session():
        monkeypatch.chdir(tmp_path / "a")
        first = _reader_pid("input.pid")
        monkeypatch.chdir(tmp_path / "b")
        assert open_isolated("input.pid").attrs["name"] == "input.pid"
        assert _reader_pid("input.pid") != first  # a new reader in the new folder
        monkeypatch.chdir(tmp_path / "a")
        os.remove(tmp_path / "a" / "input.pid")
        with pytest.raises(InputError):  # not b's file of the same name
            open_isolated("input.pid")


@needs_fork
def test_a_session_read_keeps_the_memory_budget_in_force(tmp_path):
    big = tmp_path / "big.nc"
    xr.Dataset({"intensity": ("spectrum", np.zeros(1000))}).to_netcdf(big)
    with reader_session():
        _ = open_isolated(EXAMPLE)  # the reader exists before the budget is set
        with limits.memory_budget(100), pytest.raises(InputError, match="memory|budget"):
            open_isolated(EXAMPLE)


@needs_fork
def test_a_session_process_is_replaced_after_max_reads(probes, monkeypatch):
    monkeypatch.setattr("thermal.io.isolated.MAX_READS", 2)
    with reader_session():
        pids = [_reader_pid(probes["pid"]) for _ in range(4)]
    assert pids[0] == pids[1] != pids[2] == pids[3]


_LOG = {"path": None}


def _logged(path):
    """A reader that takes 0.3 s and notes each read in the log."""
    time.sleep(0.3)
    with open(_LOG["path"], "a") as log:
        log.write(os.path.basename(path) + "\n")
    if "fail" in os.path.basename(path):
        raise InputError(path, "broken")
    return xr.Dataset(attrs={"pid": os.getpid(), "name": os.path.basename(path)})


@pytest.fixture
def slow(tmp_path):
    """``.slow`` files read by :func:`_logged`; returns (paths by name, the names read)."""
    _LOG["path"] = str(tmp_path / "reads.log")
    register_format("test-slow", _logged, extensions=(".slow",), replace=True)
    paths = {}
    for name in ("a", "b", "c", "fail"):
        paths[name] = tmp_path / f"{name}.slow"
        paths[name].write_bytes(b"x")

    def reads():
        with open(_LOG["path"]) as log:
            return log.read().split()

    yield paths, reads
    unregister_format("test-slow")


@needs_fork
def test_a_read_ahead_happens_while_this_process_works(slow):
    paths, reads = slow
    with reader_session():
        read_ahead(paths["b"])  # sent once the read under way has its answer
        assert open_isolated(paths["a"]).attrs["name"] == "a.slow"
        time.sleep(0.6)  # this process works; the reader reads b meanwhile
        start = time.monotonic()
        assert open_isolated(paths["b"]).attrs["name"] == "b.slow"
        assert time.monotonic() - start < 0.2
    assert reads() == ["a.slow", "b.slow"]


@needs_fork
def test_an_answer_read_ahead_for_another_input_is_kept_for_one_read(slow):
    paths, reads = slow
    with reader_session():
        read_ahead(paths["c"])
        open_isolated(paths["a"])
        assert open_isolated(paths["b"]).attrs["name"] == "b.slow"  # not c: c is kept
        assert open_isolated(paths["c"]).attrs["name"] == "c.slow"
        # kept for the next read only
        read_ahead(paths["c"])
        open_isolated(paths["a"])
        open_isolated(paths["b"])
        open_isolated(paths["a"])
        open_isolated(paths["c"])
    # c read once; then again, after a read of another input came between
    first, second = ["a.slow", "c.slow", "b.slow"], ["a.slow", "c.slow", "b.slow", "a.slow"]
    assert reads() == [*first, *second, "c.slow"]


@needs_fork
def test_a_failure_read_ahead_is_raised_by_its_own_read(slow):
    paths, reads = slow
    with reader_session():
        read_ahead(paths["fail"])
        open_isolated(paths["a"])
        with pytest.raises(InputError, match="broken"):
            open_isolated(paths["fail"])
        assert open_isolated(paths["b"]).attrs["name"] == "b.slow"
    assert reads() == ["a.slow", "fail.slow", "b.slow"]


@needs_fork
def test_a_read_ahead_outside_a_session_or_with_bad_arguments_does_nothing(slow):
    paths, reads = slow
    read_ahead(paths["a"])
    with reader_session():
        read_ahead(paths["b"], timeout="soon")
        open_isolated(paths["a"])
        read_ahead(paths["b"], timeout=-1)
        open_isolated(paths["a"])
        open_isolated(paths["a"])
    assert reads() == ["a.slow", "a.slow", "a.slow"]


@needs_fork
def test_a_read_ahead_that_hangs_times_out_from_its_start(slow, hostile):
    paths, reads = slow
    with reader_session():
        read_ahead(hostile["hang"], timeout=0.5)
        open_isolated(paths["a"])  # the hanging read starts when this one is answered
        time.sleep(0.5 + 2.0)  # its deadline and grace pass while this process works
        start = time.monotonic()
        with pytest.raises(ReadTimeout, match="killed"):
            open_isolated(hostile["hang"], timeout=0.5)
        assert time.monotonic() - start < 0.5  # not a whole new deadline
        assert open_isolated(paths["b"]).attrs["name"] == "b.slow"  # a new reader
    assert reads() == ["a.slow", "b.slow"]


@needs_fork
def test_an_answer_read_ahead_before_a_registration_is_read_again(slow, tmp_path):
    paths, reads = slow
    with reader_session():
        read_ahead(paths["b"])
        open_isolated(paths["a"])  # b is read ahead by this reader
        register_format("test-late", _pid, extensions=(".late",), replace=True)
        try:
            assert open_isolated(paths["b"]).attrs["name"] == "b.slow"
        finally:
            unregister_format("test-late")
    assert reads() == ["a.slow", "b.slow", "b.slow"]  # read again by a new reader
