"""Compiled kernels (numba, float64). Nothing here knows about xarray, units or files.

One place decides how kernels are compiled, cached and run:

* :func:`jit` compiles a kernel function (``error_model="numpy"`` so divisions vectorise,
  ``fastmath`` off so results are exact to the last bits we promise, ``nogil``, on-disk cache
  unless ``THERMAL_NUMBA_CACHE=0``). The fit kernels' weighted sums alone allow reassociation
  and fused multiply-adds (:data:`SUMS`).
* **Borrowed arrays.** numba counts references to every array a compiled function receives,
  views or swaps: an atomic increment and decrement, and a call that keeps the surrounding
  code from being optimised. Its pruning pass removes the pairs only in simple functions;
  in the fit they took 40 % of the time. :func:`jit` therefore recompiles each function from
  its source with ``p = borrow(p)`` for every parameter as its first statement:
  :func:`borrow` replaces each C-contiguous array (also inside named tuples) by a
  ``numba.carray`` view of the same memory that has no reference-counted owner, and numba's
  pruning pass deletes every reference count it can see is on a null owner. So a kernel
  function, and every function LLVM inlines into it, counts no references at all
  (``tests/kernels/test_jit.py`` checks the fit's). The caller owns the memory for the
  duration of the call, which gives the one rule: **a kernel never returns an argument array
  or keeps it beyond the call**. Kernels allocate no arrays: :class:`Kernel` passes them
  scratch space allocated in Python, one set per chunk of rows.
* **Few, shallow compiled functions, no IR inlining.** numba optimises every compiled callee
  again inside each caller, and ``inline="always"`` re-runs its front end (type inference) at
  every call site: the fit is three compiled stages per block of rows (``fit.fit_batch``)
  with a few compiled callees (the Levenberg-Marquardt run, the line scans), and small
  helpers are ordinary compiled functions that LLVM inlines (``planck.pow4`` alone is inlined
  by numba, so that it takes its caller's float flags). Dropping numba's IR inlining cut
  the fit kernel's cold compilation from 41 s to 27 s with bit-identical results and the same
  speed (measured 2026-12-04). A :class:`Kernel` of several stages, each a compiled function
  over a block of rows handing the next what it found through the scratch space, compiles
  its stages apart, so they compile side by side in several processes
  (:mod:`thermal._kernels.ahead`).
* **One compilation per signature.** Kernels called from Python are :class:`Kernel` objects:
  they pass input arrays as read-only C-contiguous float64 (int64) views, given scalars as
  floats and check outputs, so the Python side cannot create a second signature by accident.
  Inside kernels, an ``int`` literal passed to a compiled callee (or a counter started at a
  literal) would compile that callee a second time for the literal's type; such arguments
  are ``np.int64(...)``, and ``test_jit`` checks the fit's callees compile once.
* **Threads, not a parallel target.** Every batch kernel is one serial loop over a range of
  rows, compiled once. :class:`Kernel` runs large batches as chunks of rows on a small thread
  pool (the compiled code releases the GIL) and only from the main thread, unless
  ``THERMAL_PARALLEL=0``: inside dask worker threads the kernels run serially, so thread pools
  are never nested. (A numba ``parallel=True`` build was a second compilation of every
  kernel, ~16 s for the fit.)
* **Cache.** Compiled kernels go to the user's cache folder (``$XDG_CACHE_HOME/thermal`` or
  ``~/.cache/thermal``, or ``$NUMBA_CACHE_DIR/thermal`` when that is set), into a subfolder
  named by a digest of the kernel sources and of the constants they compile in: numba checks
  only the file that defines a function, but kernels inline helpers from sibling modules, so
  an edit anywhere starts a fresh cache instead of running stale code. Nothing is written
  into, or deleted from, the installed package; folders of other versions unused for 30 days
  are deleted (:func:`prune_cache`). A kernel the cache lacks can be compiled in a background
  process while the caller does other work (:mod:`thermal._kernels.ahead`).

Kernels never apply ``**`` to floats (``planck.pow4`` and plain products instead): numba compiles
the power operator once per process and reuses it with the ``fastmath`` flags of its first
caller, so a fit's last bits depended on whether a cooling model had run before it
(``tests/kernels/test_reproducible.py``).
"""

from __future__ import annotations

import ast
import concurrent.futures
import contextlib
import copy
import functools
import hashlib
import inspect
import itertools
import os
import shutil
import threading
import time
import typing
from pathlib import Path

import numba
import numpy as np
from numba import types
from numba.extending import overload

CACHE = os.environ.get("THERMAL_NUMBA_CACHE", "1") != "0"
PARALLEL_MIN_SIZE = 200_000
"""Work (in a kernel's own units, ~ns) below which a batch runs serially."""
CHUNK_MIN_SIZE = 100_000
"""Least work per chunk of a threaded batch (a chunk costs ~20 us of Python dispatch)."""
# fastmath flags of the fit kernels. Reassociation lets LLVM vectorise the many short weighted
# sums (and contract fuses multiply-adds). Not "nnan"/"ninf": NaN marks missing data and failed
# evaluations there. The machine code is the same for every spectrum, so results still do not
# depend on the batch, provided no loop both stores into an array and sums (LLVM would then pick
# a vector or a scalar version by where the arrays lie in memory: see thermal._kernels.fit).
SUMS = {"reassoc", "contract"}
_OPTIONS = {"error_model": "numpy", "nogil": True}
_HERE = Path(__file__).resolve().parent


def _source_digest() -> str:
    """Digest of everything compiled into the kernels: their sources, the constants and the
    status codes they read, and the numba version."""
    digest = hashlib.sha256(numba.__version__.encode())
    package = _HERE.parent
    for source in [*sorted(_HERE.glob("*.py")), package / "constants.py", package / "status.py"]:
        try:
            digest.update(source.name.encode() + source.read_bytes())
        except OSError:  # pragma: no cover - a zipped or partial install: still distinct
            digest.update(source.name.encode())
    return digest.hexdigest()[:16]


def cache_dir() -> Path | None:
    """Where compiled kernels are cached (None when caching is off or nowhere is writable)."""
    if not CACHE:
        return None
    root = os.environ.get("NUMBA_CACHE_DIR") or numba.config.CACHE_DIR
    if root:
        base = Path(root) / "thermal"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "thermal"
    path = base / f"numba-{_source_digest()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(path, os.W_OK):
        return None
    prune_cache(base, path)
    return path


CACHE_KEEP_DAYS = 30
"""Compiled kernels of other versions (or edits) of thermal unused this long are deleted."""


def prune_cache(base: Path, current: Path, keep_days: float = CACHE_KEEP_DAYS) -> list[Path]:
    """Mark ``current`` (a ``numba-<digest>`` folder in ``base``) used now and delete its
    siblings unused for ``keep_days`` days: every edit or version of the kernels compiles into a
    new folder (~10 MB), which would otherwise pile up. Returns the folders deleted.

    A folder is first renamed out of the way, then deleted: a process still using it (running
    since before the limit) finds no folder and numba makes a new one when it next saves,
    instead of losing the folder between creating it and writing into it. Symbolic links are
    left alone; so is what cannot be renamed.
    """
    with contextlib.suppress(OSError):
        os.utime(current)
    deleted = []
    limit = time.time() - keep_days * 86400.0
    try:
        entries = list(base.iterdir())
    except OSError:
        return deleted
    for folder in entries:
        trash = folder.name.startswith(".trash-")  # left by a prune that was interrupted
        if folder == current or not (trash or folder.name.startswith("numba-")):
            continue
        try:
            if folder.is_symlink() or not folder.is_dir() or folder.stat().st_mtime > limit:
                continue
            if not trash:
                moved = base / f".trash-{folder.name}-{os.getpid()}-{time.monotonic_ns()}"
                folder.rename(moved)
            else:
                moved = folder
        except OSError:
            continue
        shutil.rmtree(moved, ignore_errors=True)
        if not moved.exists() and not trash:
            deleted.append(folder)
    return deleted


CACHE_DIR = cache_dir()


def _compile(function, options, signature=None):
    """``numba.njit(signature, **options)(function)``, cached in :data:`CACHE_DIR`.

    numba picks a function's cache folder when it is decorated, from ``numba.config.CACHE_DIR``
    (the documented ``NUMBA_CACHE_DIR`` setting): it is set for this decoration only, so other
    packages' kernels keep theirs.
    """
    args = () if signature is None else (signature,)
    options = dict(options)
    if CACHE_DIR is None or options.get("inline") == "always" or not options.pop("cache", True):
        return numba.njit(*args, **options)(function)
    previous = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(CACHE_DIR)
    try:
        return numba.njit(*args, cache=True, **options)(function)
    finally:
        numba.config.CACHE_DIR = previous


def _address(address):
    """The address of an array's data as a ``void *`` (numba converts ``array.ctypes``)."""
    return address


@functools.lru_cache(maxsize=1)
def _pointer():
    """:func:`_address` compiled (on first use: compiling initialises numba's target)."""
    return _compile(_address, _OPTIONS, types.voidptr(types.voidptr))


def borrow(value):
    """In compiled code: ``value`` with every C-contiguous array in it (also inside tuples and
    named tuples) replaced by a view of the same memory that numba does not reference-count;
    anything else unchanged. In Python: ``value``."""
    return value


@overload(borrow)
def _borrow(value):
    if isinstance(value, types.Array):
        if value.layout != "C" or value.ndim == 0:
            return lambda value: value
        dtype = np.dtype(str(value.dtype))
        pointer = _pointer()
        return lambda value: numba.carray(pointer(value.ctypes), value.shape, dtype)
    if isinstance(value, types.BaseTuple) and len(value) > 0:
        items = ", ".join(f"borrow(value[{i}])" for i in range(len(value)))
        scope = {"borrow": borrow}
        if isinstance(value, types.BaseNamedTuple):
            scope["cls"] = value.instance_class
            source = f"def impl(value):\n    return cls({items})\n"
        else:
            source = f"def impl(value):\n    return ({items},)\n"
        exec(source, scope)
        return scope["impl"]
    return lambda value: value


def _is_named_tuple(hint) -> bool:
    return isinstance(hint, type) and issubclass(hint, tuple) and hasattr(hint, "_fields")


def _borrowed(expression: str, hint, classes: list) -> str:
    """Source of ``expression`` borrowed: a named tuple (by its annotation) field by field,
    so that no generic :func:`borrow` of the whole tuple has to be compiled; scalars as they
    are; anything else through :func:`borrow`."""
    if _is_named_tuple(hint):
        fields = typing.get_type_hints(hint)
        index = len(classes)
        classes.append(hint)
        items = ", ".join(
            _borrowed(f"{expression}[{i}]", fields.get(name), classes)
            for i, name in enumerate(hint._fields)
        )
        return f"_class{index}({items})"
    if hint in (int, float, bool):
        return expression
    return f"borrow({expression})"


@functools.cache
def _module_tree(filename: str) -> ast.Module:
    return ast.parse(Path(filename).read_text(), filename)


def _definition(function) -> ast.FunctionDef:
    """The syntax tree of ``function``'s definition, found in its module's (parsed once)."""
    code = function.__code__
    for node in ast.walk(_module_tree(code.co_filename)):
        if isinstance(node, ast.FunctionDef) and node.name == code.co_name:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            if first == code.co_firstlineno:
                return node
    raise ValueError(f"no source of {function.__qualname__}")  # pragma: no cover


def _borrowing(function):
    """``function`` compiled anew from its source (same file, lines, globals and cache entry)
    with every parameter borrowed (:func:`_borrowed`) by its first statement."""
    original = _definition(function)
    definition = copy.copy(original)  # shares the body: nothing below changes its nodes
    definition.decorator_list = []
    classes = []
    hints = typing.get_type_hints(function)
    names = [a.arg for a in original.args.posonlyargs + original.args.args]
    values = [_borrowed(n, hints.get(n), classes) for n in names]
    borrow_all = ast.parse(f"({', '.join(names)},) = ({', '.join(values)},)").body[0]
    for node in ast.walk(borrow_all):
        ast.copy_location(node, original)
    definition.body = [borrow_all, *original.body]
    # closure variables (numba reads them as constants) stay closure variables
    free = [*function.__code__.co_freevars, *(f"_class{i}" for i in range(len(classes)))]
    cells = [c.cell_contents for c in function.__closure__ or ()] + classes
    factory = ast.parse(f"def _factory({', '.join(('borrow', *free))}):\n    pass").body[0]
    factory.body = [
        definition,
        ast.copy_location(ast.Return(ast.Name(original.name, ast.Load())), original),
    ]
    ast.fix_missing_locations(factory.body[1])
    module = ast.Module([factory], type_ignores=[])
    namespace = {}
    exec(compile(module, function.__code__.co_filename, "exec"), function.__globals__, namespace)
    recompiled = namespace["_factory"](borrow, *cells)
    recompiled.__qualname__ = function.__qualname__
    recompiled.__module__ = function.__module__
    recompiled.__doc__ = function.__doc__
    return recompiled


def jit(function=None, **options):
    """Compile a kernel function with the project's options; its array arguments are borrowed.

    Parameters
    ----------
    function : callable, optional
        The function (decorator use without arguments).
    **options
        Further ``numba.njit`` options (``fastmath``, ``inline``). ``inline="always"`` compiles
        the function into each caller, with the caller's float flags (kept for ``planck.pow4``
        alone: an expression such as ``eps * sigma * pow4(t) * area`` must round as one
        expression in the caller), and borrows nothing.

    Returns
    -------
    numba dispatcher
        Of ``function`` with ``p = borrow(p)`` for each parameter ``p`` as its first statement
        (:func:`borrow`; recompiled from the source, so lines, cache entry and globals are
        those of ``function``).
    """
    if function is None:
        return lambda f: jit(f, **options)
    merged = {**_OPTIONS, **options}
    if merged.get("inline") == "always":
        return _compile(function, merged)
    return _compile(_borrowing(function), merged)


# ---- running batches ----------------------------------------------------------------------


def parallel_allowed() -> bool:
    """True when a batch may run on threads: main thread and not disabled by the user."""
    if os.environ.get("THERMAL_PARALLEL", "1") == "0":
        return False
    return threading.current_thread() is threading.main_thread()


def threads() -> int:
    """Threads of a batch: numba's ``NUMBA_NUM_THREADS`` (the usable CPUs by default)."""
    return max(1, int(numba.config.NUMBA_NUM_THREADS))


_POOL: concurrent.futures.ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = concurrent.futures.ThreadPoolExecutor(threads(), "thermal-kernel")
        return _POOL


def _forget_pool() -> None:
    """In a forked child the pool's threads do not exist: start a new pool there."""
    global _POOL, _POOL_LOCK
    _POOL = None
    _POOL_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _chunks(n: int, size: int | None) -> list[tuple[int, int]]:
    """Row ranges of a batch of ``n`` rows and ``size`` work."""
    if size is None or size < PARALLEL_MIN_SIZE or n < 2 or not parallel_allowed():
        return [(0, n)]
    k = threads()
    if k == 1:
        return [(0, n)]
    # a few chunks per thread balance rows of unequal cost
    count = max(k, min(4 * k, size // CHUNK_MIN_SIZE, n))
    edges = np.linspace(0, n, count + 1).astype(np.int64)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


def _combine(results):
    first = results[0]
    if first is None:
        return None
    if isinstance(first, tuple):
        return tuple(sum(r[i] for r in results) for i in range(len(first)))
    return sum(results)


def _as_input(value):
    """A read-only C-contiguous view (float64 unless integer or bool), so that every call of
    a kernel has the same argument types."""
    array = np.asarray(value)
    if array.dtype.kind == "f":
        array = np.ascontiguousarray(array, dtype=np.float64)
    elif array.dtype.kind in "iu":
        array = np.ascontiguousarray(array, dtype=np.int64)
    else:
        array = np.ascontiguousarray(array)
    view = array.view()
    view.flags.writeable = False
    return view


class Kernel:
    """A kernel called from Python: one compilation per stage, optional threads over rows.

    Parameters
    ----------
    function : callable
        The kernel. With ``rows`` its first two parameters are ``first`` and ``last``, the range
        of rows it computes; the caller does not pass them.
    rows : str, optional
        The parameter whose first axis (its size, for 1-d arrays) counts the rows.
    inputs : tuple of str
        Array parameters passed as read-only views (see :func:`_as_input`); every other array
        argument must be a writable C-contiguous array (an output).
    floats : tuple of str
        Scalar parameters passed as ``float`` (an ``int`` would compile a second signature).
    scratch : callable, optional
        Called with the arguments, returns the kernel's last argument, scratch space that the
        caller owns (allocated per chunk of rows, so every thread has its own).
    example : callable, optional
        Returns small arguments of every call's types: :meth:`warm` compiles the kernel for
        them (:mod:`thermal._kernels.ahead` compiles kernels in background processes so).
    stages : tuple of callable, optional
        Functions with ``function``'s parameters that do its work in turn, each compiled on its
        own (``function`` then only names and documents the kernel). Whatever one stage hands
        the next goes through the scratch space. With an empty cache and more than one core,
        the first call (from the main thread) compiles them side by side in several processes
        (:mod:`thermal._kernels.ahead`).
    ahead : tuple of int, optional
        The stages in the order to compile them in background processes when the cache lacks
        them, longest first (:mod:`thermal._kernels.ahead`); by default all, in order.
    block : int, optional
        With ``rows``: run the rows block by block of at most this many, each block through
        every stage before the next (so the scratch space holds per-row state for one block).
    **options
        :func:`jit` options.

    Attributes
    ----------
    stages : tuple
        The compiled stages (numba dispatchers); one, ``function`` compiled, without ``stages``.
    """

    def __init__(
        self, function, rows=None, inputs=(), floats=(), scratch=None, example=None, stages=(),
        ahead=None, block=None, **options,
    ):  # fmt: skip
        self.function = function
        self.__doc__ = function.__doc__
        self.__name__ = function.__name__
        self.__module__ = function.__module__
        self.stages = tuple(jit(f, **options) for f in stages or (function,))
        self.ahead = tuple(range(len(self.stages)) if ahead is None else ahead)
        indices = set(range(len(self.stages)))
        if len(set(self.ahead)) != len(self.ahead) or not set(self.ahead) <= indices:
            raise ValueError(
                f"ahead must be distinct stage indices in 0..{len(self.stages) - 1}; "
                f"got {self.ahead!r}"
            )
        self._block = block
        self._scratch = scratch
        self.example = example
        self._called = False
        names = list(inspect.signature(function).parameters)
        if rows is not None:
            names = names[2:]
            self._rows = names.index(rows)
        else:
            self._rows = None
        self._inputs = {names.index(n) for n in inputs}
        self._floats = {names.index(n) for n in floats}

    def _arguments(self, args):
        out = []
        for k, value in enumerate(args):
            if k in self._inputs:
                value = _as_input(value)
            elif k in self._floats:
                value = float(value)
            elif isinstance(value, np.ndarray):
                if not (value.flags.c_contiguous and value.flags.writeable):
                    raise TypeError(
                        f"{self.__name__}: output {k} must be writable and C-contiguous"
                    )
            elif isinstance(value, bool | np.bool_):
                value = bool(value)
            elif isinstance(value, int | np.integer):
                value = int(value)
            elif isinstance(value, float | np.floating):
                value = float(value)
            out.append(value)
        return out

    def __call__(self, *args, size: int | None = None):
        """Run the kernel on every row; ``size`` (the work, ~ns) decides on threads. Returns
        the kernel's result, summed over chunks (counts) when it ran on threads."""
        if self._called or self.example is None:
            return self._run(args, size)
        # its first call in this process: compile the stages not compiling in the background
        # while those do (a kernel of several stages the cache lacks starts them now, unless
        # its caller did), then wait for them; once it ran, say that this cache holds it
        # (thermal._kernels.ahead)
        from thermal._kernels import ahead

        if len(self.stages) > 1 and not ahead.background(self) and parallel_allowed():
            ahead.compile_ahead(self)  # (not in a worker's thread: its process is one of many)
        elsewhere = ahead.background(self)
        if elsewhere:
            signature = self.signature(*args)
            for k, stage in enumerate(self.stages):
                if k not in elsewhere:
                    stage.compile(signature)
        ahead.wait(self)
        result = self._run(args, size)
        self._called = True
        ahead.mark_compiled(self)
        return result

    def _run(self, args, size):
        args = self._arguments(args)
        scratch = (lambda: (self._scratch(*args),)) if self._scratch else (lambda: ())
        if self._rows is None:
            extra = scratch()  # one for every stage: what one hands the next goes through it
            for stage in self.stages:
                result = stage(*args, *extra)
            return result
        rows = args[self._rows]
        n = rows.shape[0] if rows.ndim else 0
        chunks = _chunks(n, size)
        if len(chunks) == 1:
            return self.rows(0, n, *args, *scratch())
        futures = [_pool().submit(self.rows, a, b, *args, *scratch()) for a, b in chunks]
        return _combine([f.result() for f in futures])

    def rows(self, first: int, last: int, *args):
        """Run the rows ``first`` to ``last - 1`` with ``args`` as the compiled stages take them
        (converted, scratch included): block by block, each through every stage. Returns the
        last stage's result, summed over blocks."""
        step = self._block or max(last - first, 1)
        results = []
        for a in range(first, max(last, first + 1), step):
            b = min(a + step, last)
            for stage in self.stages:
                result = stage(a, b, *args)
            results.append(result)
        return _combine(results)

    def signature(self, *args) -> tuple:
        """The numba argument types of a call with ``args`` (what it compiles or loads)."""
        args = self._arguments(args)
        scratch = (self._scratch(*args),) if self._scratch else ()
        rows = () if self._rows is None else (0, 0)
        return tuple(numba.typeof(a) for a in (*rows, *args, *scratch))

    def warm(self, stage: int | None = None) -> None:
        """Compile the kernel (or load it from the cache) by running it on its example; with
        ``stage``, compile that stage alone (an index into :attr:`stages`) for the example's
        argument types."""
        if self.example is None:
            raise ValueError(f"{self.__name__} has no example arguments to compile it with")
        if stage is None:
            self(*self.example())
        else:
            self.stages[stage].compile(self.signature(*self.example()))


def kernel(function=None, **options):
    """Decorator form of :class:`Kernel`."""
    if function is None:
        return lambda f: Kernel(f, **options)
    return Kernel(function, **options)
