"""Reading in a killable child process (thermal.io.isolated): hangs in C, leaks, crashes."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
import xarray as xr

from thermal.io import InputError, open_observation
from thermal.io.formats import register_format, unregister_format
from thermal.io.isolated import isolation_available, open_isolated
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
