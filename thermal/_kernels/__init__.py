"""Compiled kernels (numba, float64). Nothing here knows about xarray, units or files.

One place decides how kernels are compiled and which target runs them:

* :func:`jit` compiles scalar helpers and serial loops (``error_model="numpy"`` so divisions
  vectorise, ``fastmath`` off so results are exact to the last bits we promise, on-disk
  caching unless ``THERMAL_NUMBA_CACHE=0``). The fit kernels' weighted sums alone allow
  reassociation and fused multiply-adds (:data:`SUMS`).
* :class:`Kernel` wraps one loop body written with ``numba.prange`` and compiles it twice, a
  serial and a ``parallel=True`` version, lazily. :meth:`Kernel.__call__` runs the parallel
  one only for large inputs, on the main thread, and when ``THERMAL_PARALLEL`` is not ``0``:
  numba's default (workqueue) threading layer must never be entered from two threads at once,
  which is exactly what dask worker threads would do (dask/dask#5132).

Hot functions that create no arrays are compiled with ``jit(allocates=False)``, and the fit's
parallel loop allocates its scratch once per chunk and hands the chunk to such a function:
numba's reference counting of array arguments (an atomic add and subtract per array per call)
otherwise took 55 % of a fit's time. (The profile-interval loop allocates per spectrum, which
costs nothing next to its ~200 us of work.)

Kernels never apply ``**`` to floats (``planck.pow4`` and plain products instead): numba compiles
the power operator once per process and reuses it with the ``fastmath`` flags of its first
caller, so a fit's last bits depended on whether a cooling model had run before it
(``tests/kernels/test_reproducible.py``).
"""

from __future__ import annotations

import hashlib
import os
import threading
import types
from pathlib import Path

import numba

CACHE = os.environ.get("THERMAL_NUMBA_CACHE", "1") != "0"


def _drop_stale_cache() -> None:
    """Empty this package's numba cache when any kernel source changed.

    numba checks only the timestamp of the file that defines a cached function, but kernels
    inline helpers from sibling modules (``exp_reduced`` into every kernel): after an edit of
    ``exp.py`` the cached ``planck`` kernels would run the old code. A digest of all kernel
    sources, kept beside the cache, catches that. (An installed package that cannot write here
    caches elsewhere, and an upgrade changes every file's timestamp, which numba notices.)
    """
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for source in sorted(here.glob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    stamp = here / "__pycache__" / "thermal-kernels.sha256"
    try:
        if stamp.is_file() and stamp.read_text() == digest.hexdigest():
            return
        for stale in [*stamp.parent.glob("*.nbi"), *stamp.parent.glob("*.nbc")]:
            stale.unlink(missing_ok=True)
        stamp.parent.mkdir(exist_ok=True)
        stamp.write_text(digest.hexdigest())
    except OSError:  # read-only install: nothing cached here
        pass


if CACHE:
    _drop_stale_cache()
PARALLEL_MIN_SIZE = 200_000
# fastmath flags of the fit kernels. Reassociation lets LLVM vectorise the many short weighted
# sums (and contract fuses multiply-adds). Not "nnan"/"ninf": NaN marks missing data and failed
# evaluations there. The machine code is the same for every spectrum, so results still do not
# depend on the batch.
SUMS = {"reassoc", "contract"}
_OPTIONS = {"cache": CACHE, "error_model": "numpy", "nogil": True}


def jit(function=None, *, allocates=True, **options):
    """``numba.njit`` with the project's options (cache, ``error_model="numpy"``, nogil).

    Parameters
    ----------
    function : callable, optional
        The function (decorator use without arguments).
    allocates : bool, optional
        False compiles a function that creates no arrays without numba's runtime
        (``_nrt=False``): its array arguments are then borrowed from the caller, so it must
        neither allocate (numba refuses at compile time) nor return an array (numba accepts
        returning an argument, but the caller would then hold a reference it never counted).
        With the runtime, numba increments and decrements an atomic reference count of every
        array argument at every call, and its pruning pass removes those pairs only in
        functions without other calls or views; in the fit kernel that was ~1,800 atomic
        operations and 55 % of the time per fit.
    **options
        Further ``numba.njit`` options (e.g. ``fastmath``, ``inline``).
    """
    merged = {**_OPTIONS, **options}
    if not allocates:
        merged["_nrt"] = False
    if function is None:
        return lambda f: numba.njit(**merged)(f)
    return numba.njit(**merged)(function)


def parallel_allowed() -> bool:
    """True when a parallel kernel may run here: main thread and not disabled by the user."""
    if os.environ.get("THERMAL_PARALLEL", "1") == "0":
        return False
    return threading.current_thread() is threading.main_thread()


class Kernel:
    """A loop kernel compiled for a serial and a parallel target, chosen per call.

    Parameters
    ----------
    function : callable
        Python function using ``numba.prange`` for its outer loop.
    """

    def __init__(self, function):
        self.function = function
        self.__doc__ = function.__doc__
        self.__name__ = function.__name__
        self._serial = None
        self._parallel = None

    @property
    def serial(self):
        if self._serial is None:
            self._serial = jit(self.function)
        return self._serial

    @property
    def parallel(self):
        if self._parallel is None:
            # A renamed copy: numba's cache keys on the qualified name and signature only, so
            # the parallel build must not share the serial build's cache entry.
            f = self.function
            copy = types.FunctionType(f.__code__, f.__globals__, f.__name__ + "_parallel")
            copy.__qualname__ = f.__qualname__ + "_parallel"
            self._parallel = jit(copy, parallel=True)
        return self._parallel

    def __call__(self, *args, size: int | None = None):
        """Run the kernel; ``size`` (the work count) picks the target."""
        if size is not None and size >= PARALLEL_MIN_SIZE and parallel_allowed():
            return self.parallel(*args)
        return self.serial(*args)


def kernel(function):
    """Decorator form of :class:`Kernel`."""
    return Kernel(function)
