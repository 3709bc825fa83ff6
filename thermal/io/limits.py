"""What reading one untrusted input file may cost: time, memory, and the shape of its errors.

Observation files come from archives and colleagues; a broken or hostile one must cost a
bounded time and a bounded amount of memory and end in one :class:`~thermal.layout.InputError`
naming the file (``SECURITY.md``).

- :func:`deadline` (``with deadline(seconds, path): ...``) turns a read that takes too long
  into a :class:`ReadTimeout`, an :class:`~thermal.layout.InputError`. On the main thread of a
  platform with ``SIGALRM`` it uses an interval timer (which also interrupts blocking system
  calls); on other threads a watchdog thread raises an exception into the reading thread
  (CPython's ``PyThreadState_SetAsyncExc``). Both act between Python bytecodes: a single long
  call into C (a decompression, a system call that is restarted) ends before the deadline is
  noticed, so the limit is best effort. Deadlines nest; the shorter one wins.
- :func:`memory_budget` (a context) and :func:`current_max_memory` (the budget in force) bound what
  a reader may allocate; readers compare what a file *declares* (array shapes, sizes of
  compressed content) with the budget and the file's size with :func:`check_memory` before
  allocating anything. The default budget is half the physical memory.
- :func:`one_line` and :func:`reason` make an exception's text fit the one-line
  ``"<file>: <problem>"`` messages of :class:`~thermal.layout.InputError`.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import signal
import threading
import time

from thermal.layout import InputError

__all__ = [
    "DEFAULT_TIMEOUT",
    "ReadTimeout",
    "check_memory",
    "current_max_memory",
    "deadline",
    "default_max_memory",
    "format_bytes",
    "memory_budget",
    "one_line",
    "reason",
]

DEFAULT_TIMEOUT = 60.0
"""Default deadline [s] for reading one input (``open_observation(timeout=)``)."""
FALLBACK_MEMORY = 4 * 2**30
"""Budget [bytes] used where the physical memory cannot be found (4 GiB)."""
_MESSAGE_CHARS = 300


# ---------------------------------------------------------------------------------------------
# Messages


def one_line(text, limit: int = _MESSAGE_CHARS) -> str:
    """``text`` as one line of at most ``limit`` characters: control characters (line breaks
    included) become spaces, runs of spaces one space, and a long text ends in ``...``."""
    cleaned = "".join(c if c.isprintable() else " " for c in str(text))
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 3].rstrip() + "..."
    return cleaned


def reason(error: BaseException) -> str:
    """A short one-line reason for an unexpected exception: its type and the first line of its
    message (``"struct.error: unpack requires a buffer of 4 bytes"``)."""
    text = str(error).strip()
    name = type(error).__name__
    module = type(error).__module__
    if module not in ("builtins", "__main__") and "." not in name:
        name = f"{module.rsplit('.', 1)[-1]}.{name}"
    first = text.splitlines()[0] if text else ""
    return one_line(f"{name}: {first}" if first else name)


def format_bytes(count: float) -> str:
    """A byte count for messages: ``"11.9 GiB"``, ``"512 bytes"``."""
    count = float(count)
    if count < 1024:
        return f"{count:.0f} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        count /= 1024.0
        if count < 1024 or unit == "PiB":
            return f"{count:.3g} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------------------------------------
# Memory


def default_max_memory() -> int:
    """Half of the physical memory [bytes] (``os.sysconf``), or 4 GiB where it is unknown."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        total = 0
    return int(total // 2) if total > 0 else FALLBACK_MEMORY


_budget: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "thermal_io_max_memory", default=None
)


def checked_budget(value) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"max_memory must be a number of bytes > 0; got {value!r}") from None
    if not (number > 0 and math.isfinite(number)):
        raise ValueError(f"max_memory must be a number of bytes > 0; got {value!r}")
    return int(number)


@contextlib.contextmanager
def memory_budget(max_memory=None):
    """Within the context, readers refuse inputs that would need more than ``max_memory``.

    Parameters
    ----------
    max_memory : int or float, optional
        Budget [bytes] (> 0); None keeps the budget in force (by default
        :func:`default_max_memory`). The budget is a context variable: it follows the thread
        or task that reads and does not leak into others.

    Raises
    ------
    ValueError
        If ``max_memory`` is not a positive number.
    """
    if max_memory is None:
        yield current_max_memory()
        return
    token = _budget.set(checked_budget(max_memory))
    try:
        yield _budget.get()
    finally:
        _budget.reset(token)


def current_max_memory() -> int:
    """The memory budget [bytes] readers must respect now (see :func:`memory_budget`)."""
    value = _budget.get()
    return default_max_memory() if value is None else value


def check_memory(path, need: float, what: str) -> None:
    """Refuse an input before allocating when reading it would need more than the budget.

    Parameters
    ----------
    path : str or path-like
        The input, named in the error.
    need : float
        Estimated peak memory of reading what the file declares [bytes].
    what : str
        What would be read, for the message (``"the SCI cube (2 x 3 x 4 values)"``).

    Raises
    ------
    InputError
        If ``need`` exceeds :func:`current_max_memory`.
    """
    budget = current_max_memory()
    if need > budget:
        raise InputError(
            path,
            f"{what} would need about {format_bytes(need)} of memory, more than the "
            f"{format_bytes(budget)} allowed (max_memory); refused before reading",
        )


# ---------------------------------------------------------------------------------------------
# Time


class ReadTimeout(InputError):
    """Reading an input took longer than its deadline (:func:`deadline`)."""

    def __reduce__(self):
        return (type(self), (self.path, self.problem))


class Expired(BaseException):
    """Raised into the reading code when a deadline passes.

    A ``BaseException``, like ``KeyboardInterrupt``, so that the ``except Exception`` and
    ``except ValueError`` of parsers (pvl's recovery loop catches ``ValueError``) cannot
    swallow it; the deadline that raised it turns it into a :class:`ReadTimeout`. Each
    deadline raises its own subclass (``owner`` is the deadline), because an exception raised
    into a thread is given as a class.
    """

    owner: deadline | None = None


class deadline:
    """Context manager: raise :class:`ReadTimeout` if the block runs longer than ``seconds``.

    Parameters
    ----------
    seconds : float or None
        The limit [s] (> 0); None or ``math.inf`` for no limit.
    path : str or path-like
        The input named in the error.
    what : str, optional
        What the block does, for the message (default ``"reading"``).

    Notes
    -----
    On the main thread, with ``SIGALRM`` available and no interval timer of someone else
    running, an ``ITIMER_REAL`` timer and a ``SIGALRM`` handler are installed for the duration
    of the outermost deadline (the previous handler is restored afterwards); it also
    interrupts blocking system calls. Elsewhere a daemon watchdog thread raises the expiry
    into the reading thread; without ``ctypes.pythonapi`` (not CPython) that fallback cannot
    stop the code and the deadline is not enforced. Either way the expiry is noticed between
    Python bytecodes, not inside a long C call. A block that ends as its deadline passes keeps
    its result.

    Examples
    --------
    >>> with deadline(60.0, "cube.fits"):
    ...     pass
    """

    def __init__(self, seconds, path, what: str = "reading"):
        if seconds is not None:
            seconds = float(seconds)
            if not seconds > 0:
                raise ValueError(f"timeout must be > 0 [s] or None; got {seconds}")
            if math.isinf(seconds):
                seconds = None
        self.seconds = seconds
        self.path = os.fspath(path) if not isinstance(path, str) else path
        self.what = what
        self.end = math.inf
        self.fired = False
        self.closing = False
        self._timer = None
        self.expired = type("Expired", (Expired,), {"owner": self, "__module__": __name__})

    # the error -----------------------------------------------------------------------------
    def error(self) -> ReadTimeout:
        """The :class:`ReadTimeout` this deadline raises."""
        return ReadTimeout(
            self.path,
            f"{self.what} took longer than {self.seconds:g} s (timeout): a corrupt or hostile "
            "file, or a very large one (then raise the timeout)",
        )

    # context -------------------------------------------------------------------------------
    def __enter__(self):
        if self.seconds is None:
            return self
        self.end = time.monotonic() + self.seconds
        if _signals.usable():
            self._timer = _signals
        else:
            self._timer = _watchdog()
        self._timer.push(self)
        return self

    def __exit__(self, kind, value, traceback):
        if self._timer is None:
            return False
        self.closing = True
        timer, self._timer = self._timer, None
        timer.pop(self, value)
        if isinstance(value, Expired) and value.owner is self:
            raise self.error() from value
        return False  # a block that ended as its deadline passed keeps its result


def expired_error(error: Expired) -> ReadTimeout:
    """The :class:`ReadTimeout` for a deadline expiry that escaped its ``with`` block (it can
    only happen in the few bytecodes where the block ends as the deadline passes)."""
    owner = error.owner
    if owner is None:  # pragma: no cover - every expiry has its owner
        return ReadTimeout("<input>", "reading took longer than its timeout")
    return owner.error()


class _SignalTimer:
    """Deadlines of the main thread, on one ``ITIMER_REAL`` timer and ``SIGALRM`` handler."""

    def __init__(self):
        self.stack: list[deadline] = []
        self.previous = None

    def usable(self) -> bool:
        if not hasattr(signal, "setitimer") or not hasattr(signal, "SIGALRM"):
            return False
        if threading.current_thread() is not threading.main_thread():
            return False
        if self.stack:
            return True  # nested in our own deadline
        try:
            if signal.getitimer(signal.ITIMER_REAL)[0] > 0:
                return False  # someone else's timer runs: do not disturb it
            return signal.getsignal(signal.SIGALRM) is not None  # None: a C-level handler
        except (OSError, ValueError):  # pragma: no cover
            return False

    def push(self, item: deadline) -> None:
        self.stack = [d for d in self.stack if not (d.fired or d.closing)]  # stale entries
        if not self.stack:
            self.previous = signal.signal(signal.SIGALRM, self._alarm)
        self.stack.append(item)
        self._arm()

    def pop(self, item: deadline, value) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        if item in self.stack:
            del self.stack[self.stack.index(item) :]  # and anything above it left behind
        if self.stack:
            self._arm()
        else:
            previous, self.previous = self.previous, None
            signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)

    def _arm(self) -> None:
        live = [d.end for d in self.stack if not (d.fired or d.closing)]
        if not live:
            signal.setitimer(signal.ITIMER_REAL, 0)
            return
        signal.setitimer(signal.ITIMER_REAL, max(min(live) - time.monotonic(), 1e-4))

    def _alarm(self, signum, frame) -> None:
        now = time.monotonic()
        for item in self.stack:  # outermost first
            if not (item.fired or item.closing) and item.end <= now + 1e-3:
                item.fired = True
                self._arm()
                raise item.expired()
        self._arm()  # early (timer granularity): wait for the rest


_signals = _SignalTimer()


def _async_raise(thread_id: int, exception) -> bool:
    """Raise ``exception`` (a class; None clears a pending one) in thread ``thread_id``."""
    try:
        import ctypes

        function = ctypes.pythonapi.PyThreadState_SetAsyncExc
    except (ImportError, AttributeError):  # pragma: no cover - not CPython
        return False
    function.argtypes = [ctypes.c_ulong, ctypes.py_object]
    function.restype = ctypes.c_int
    value = ctypes.py_object() if exception is None else ctypes.py_object(exception)
    return function(ctypes.c_ulong(thread_id), value) == 1


class _Watchdog:
    """Deadlines of one thread that is not the main thread: a timer thread raises the expiry
    of the outermost expired deadline into it, once."""

    def __init__(self):
        self.thread_id = threading.get_ident()
        self.lock = threading.Lock()
        self.stack: list[deadline] = []
        self.timer: threading.Timer | None = None
        self.pending: deadline | None = None  # raised into the thread, not yet seen

    def push(self, item: deadline) -> None:
        with self.lock:
            self.stack = [d for d in self.stack if not (d.fired or d.closing)]
            if self.pending is not None and self.pending not in self.stack:
                self.pending = None
            self.stack.append(item)
            self._arm()

    def pop(self, item: deadline, value) -> None:
        with self.lock:
            if isinstance(value, Expired) and self.pending is value.owner:
                self.pending = None  # seen: it is this exception that ends the block
            if self.pending is item:  # raised for this block but not yet seen: cancel it
                _async_raise(self.thread_id, None)
                self.pending = None
            if item in self.stack:
                del self.stack[self.stack.index(item) :]
            self._arm()

    def _arm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.pending is not None:
            return
        live = [d.end for d in self.stack if not (d.fired or d.closing)]
        if not live:
            return
        self.timer = threading.Timer(max(min(live) - time.monotonic(), 1e-4), self._fire)
        self.timer.daemon = True
        self.timer.name = "thermal-io-deadline"
        self.timer.start()

    def _fire(self) -> None:
        with self.lock:
            self.timer = None
            now = time.monotonic()
            for item in self.stack:
                if not (item.fired or item.closing) and item.end <= now + 1e-3:
                    item.fired = True
                    if _async_raise(self.thread_id, item.expired):
                        self.pending = item
                    return
            self._arm()


_local = threading.local()


def _watchdog() -> _Watchdog:
    watchdog = getattr(_local, "watchdog", None)
    if watchdog is None:
        watchdog = _local.watchdog = _Watchdog()
    return watchdog
