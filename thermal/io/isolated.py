"""Reading an untrusted input in a child process that can be killed.

:func:`thermal.io.open_observation` bounds a read with a deadline that acts between Python
bytecodes, and with checks of declared sizes before allocating. Neither can stop a C library
that loops on a corrupt file (a netCDF/HDF5 file with two flipped bytes was seen to spin in the
HDF5 library for ever), nor reclaim the file descriptors a C library leaks on broken files
(240 leaked in 7,000 broken netCDF files). :func:`open_isolated` reads in a forked child
process: the child sends the observation back through a pipe, and the parent kills it when the
deadline passes (``SIGKILL`` cannot be ignored or blocked), so one file never stalls a batch,
and whatever the child leaked ends with it.

Forking a process that has numba and xarray loaded, and reaping it, costs ~40 ms per input;
within :func:`reader_session` (a batch of the command line) one reader process answers the
inputs one after the other (~1 ms each beyond the read itself, plus pickling the observation
through the pipe, ~0.1 s per 100 MB), and a new one is forked after a read that failed (the
failure may have leaked), timed out or killed the reader.

Isolation needs ``fork`` (Linux) and a process allowed to have children: inside a daemonic
process (a dask worker process), off the main thread or elsewhere, the read runs in-process
with the soft deadline only.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import warnings

from thermal.io import limits
from thermal.layout import InputError

__all__ = [
    "GRACE",
    "MAX_READS",
    "isolation_available",
    "open_isolated",
    "read_ahead",
    "reader_session",
]

_HELD = {signal.SIGINT, signal.SIGTERM}
GRACE = 2.0
"""Seconds [s] the parent waits beyond the deadline for the child's own (soft) timeout error
before it kills the child."""


def isolation_available() -> bool:
    """True when a read can run in a killable child here (Linux, main thread, not a daemon)."""
    if not sys.platform.startswith("linux"):
        return False
    if threading.current_thread() is not threading.main_thread():
        return False
    return not multiprocessing.current_process().daemon


def _child_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and kills us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)


def _answer(connection, path, timeout, max_memory, options) -> bool:
    """Read ``path`` and send ("ok", (observation, warnings)) or ("error", exception) to the
    parent, the warnings the read raised as (category, text) pairs for the parent to raise
    again; True when the read succeeded."""
    from thermal.io import open_observation

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            observation = open_observation(
                path, timeout=timeout, max_memory=max_memory, **options
            ).load()
        raised = [(w.category, str(w.message)) for w in caught]
        message = ("ok", (observation, raised))
    except BaseException as error:  # everything goes back to the parent as it is
        error.__cause__ = error.__context__ = None  # causes may not pickle (deadline classes)
        error.__traceback__ = None
        message = ("error", error)
    try:
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:  # an unpicklable exception: send its text
        text = f"{type(message[1]).__name__}: {limits.one_line(message[1])}"
        message = ("error", InputError(path, f"reader failed: {text} ({error})"))
        payload = pickle.dumps(message)
    connection.send_bytes(payload)
    return message[0] == "ok"


def _child(receiver, connection, path, timeout, max_memory, options) -> None:
    """Read ``path`` once and send the answer to the parent (:func:`_answer`)."""
    receiver.close()  # the parent's end: if the parent dies, sending fails and we end
    _child_signals()
    try:
        _answer(connection, path, timeout, max_memory, options)
    except OSError:  # the parent is gone (interrupted): nobody to tell
        pass
    finally:
        connection.close()


def _serve(parent_end, connection) -> None:
    """Answer read requests (pickled ``(path, timeout, max_memory, options)``) one after the
    other until the parent closes the pipe or a read fails: a failed read may have left
    descriptors or memory behind, so the process ends with it."""
    parent_end.close()
    _child_signals()
    try:
        while True:
            request = connection.recv_bytes()
            try:
                arguments = pickle.loads(request)
            except Exception:  # e.g. an option of a class defined after our fork
                connection.send_bytes(pickle.dumps(("retry", None)))
                continue
            if not _answer(connection, *arguments):
                break
    except (EOFError, OSError):  # the parent closed the pipe, or is gone
        pass
    finally:
        connection.close()


_PREPARED: set[str] = set()


def _prepare(path: str, format: str | None) -> None:
    """Import the reader of ``path``'s format here, once, so that no child pays for it (a
    child starts from this process's memory: ~0.4 s per input otherwise). Failures are left
    for the child to report."""
    from thermal.io import formats

    if not _PREPARED:
        # xarray looks for dask at its first indexing operation (~0.3 s to import)
        try:
            import dask.array  # noqa: F401
        except ImportError:
            pass
    try:
        name = format or formats.detect_format(path)
        if name in _PREPARED:
            return
        fmt = formats.get_format(name, path)
        fmt.load_reader()
        if name == "netcdf":
            import netCDF4  # noqa: F401  (xarray's netCDF4 backend and its C library)
            import xarray.backends.netCDF4_  # noqa: F401
        _PREPARED.add(name)
    except Exception:  # the child reads it and says what is wrong
        return


def open_isolated(
    path,
    *,
    timeout: float | None = limits.DEFAULT_TIMEOUT,
    max_memory: float | None = None,
    **options,
):
    """:func:`thermal.io.open_observation` in a child process killed at the deadline.

    Parameters
    ----------
    path : str or path-like
        The input.
    timeout : float or None, optional
        Deadline [s] of the read (default 60; None: none). The child gets it as its own soft
        deadline, and the parent kills the child :data:`GRACE` seconds after it.
    max_memory : float, optional
        Memory budget [bytes] of the read (see :func:`thermal.io.open_observation`).
    **options
        The reader's options, as for :func:`thermal.io.open_observation`.

    Returns
    -------
    xarray.Dataset
        The observation, loaded into memory.

    Raises
    ------
    InputError
        Anything the reader raises, as it raised it; :class:`thermal.io.limits.ReadTimeout`
        when the child was killed at the deadline, and ``InputError`` when it died otherwise
        (e.g. killed by the kernel for its memory).
    OptionError
        Bad options (checked before a child is started).
    """
    from thermal.io import open_observation
    from thermal.io.formats import OptionError

    if timeout is not None:
        try:
            timeout = float(timeout)
        except (TypeError, ValueError):
            raise OptionError(f"timeout must be a number [s] or None; got {timeout!r}") from None
        if not timeout > 0:
            raise OptionError(f"timeout must be > 0 [s] or None; got {timeout}")
    if not isolation_available():
        return open_observation(path, timeout=timeout, max_memory=max_memory, **options)
    path = os.fspath(path)
    request, limit = _request(path, timeout, max_memory, options)
    session = _session()
    if session is not None:
        kind, value, code = session.read(request, limit)
    else:
        kind, value, code = _read_once(request, limit)
    if kind == "ok":
        observation, raised = value
        for category, text in raised:  # the reader's warnings, as if it had run here
            warnings.warn(text, category, stacklevel=2)
        return observation
    if kind == "error":
        raise value
    if kind == "timeout":
        raise limits.ReadTimeout(
            path,
            f"reading took longer than {timeout:g} s (timeout; the reader was killed): a "
            "corrupt or hostile file, or a very large one (then raise the timeout)",
        )
    how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
    raise InputError(path, f"the reader process died ({how}), e.g. out of memory")


def _request(path: str, timeout, max_memory, options: dict) -> tuple:
    """The request a reader process gets for ``path`` and the parent's wait limit [s]."""
    _prepare(path, options.get("format"))
    if max_memory is None:  # the budget in force here (a context variable the child lacks)
        max_memory = limits.current_max_memory()
    limit = None if timeout is None else timeout + GRACE
    options = dict(sorted(options.items()))  # equal requests pickle alike (read_ahead)
    return (os.path.abspath(path), timeout, max_memory, options), limit


def _session() -> _Session | None:
    """The reader session this process (main thread, isolation available) is in, if any."""
    if _SESSION is None or _SESSION.owner != os.getpid() or not isolation_available():
        return None
    return _SESSION


def read_ahead(
    path, *, timeout: float | None = limits.DEFAULT_TIMEOUT, max_memory=None, **options
) -> None:
    """Within :func:`reader_session`, have the reader process read ``path`` next.

    The read starts as soon as the reader has answered the read under way, while this process
    works on that one. A later :func:`open_isolated` with the same arguments takes the answer
    (a failure or timeout included; the deadline counts from when the read ahead started)
    instead of reading again; a read of another input first waits for that answer and keeps
    it for the next read only. The reader then holds a second observation while this process
    works on the first: callers skip large inputs (:func:`thermal.batch.fit_read_ahead`).

    Parameters
    ----------
    path : str or path-like
        The input.
    timeout : float or None, optional
        Deadline [s] of the read, as for :func:`open_isolated`.
    max_memory : float, optional
        Memory budget [bytes] of the read, as for :func:`open_isolated`.
    **options
        The reader's options, as for :func:`open_isolated`.

    Notes
    -----
    Outside a session (or where reads are not isolated), and for arguments that
    :func:`open_isolated` would refuse, nothing happens: the read itself reports them.
    """
    session = _session()
    if session is None:
        return
    try:
        timeout = None if timeout is None else float(timeout)
        if timeout is not None and not timeout > 0:
            return
        request, limit = _request(os.fspath(path), timeout, max_memory, options)
    except Exception:
        return
    session.read_ahead(request, limit)


def _start(target, *args):
    """A forked daemon process running ``target(*args)``."""
    child = multiprocessing.get_context("fork").Process(target=target, args=args, daemon=True)
    # Ctrl-C or SIGTERM during the fork would be raised inside an at-fork hook, where Python
    # prints and drops it: hold them until the child exists (the child unblocks them); one
    # that came meanwhile is raised when they are released, after the child is killed.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        with warnings.catch_warnings():
            # Python >= 3.12 warns that forking a multi-threaded process may deadlock the
            # child. Our threads (kernel pools, progress) hold no lock the child takes.
            warnings.filterwarnings("ignore", ".*fork.*", DeprecationWarning)
            child.start()
    finally:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        except BaseException:  # a signal held meanwhile: the child goes before it is raised
            _end(child)
            raise
    return child


def _await(child, receiver, limit: float | None) -> tuple[str, object]:
    """("ok" | "error", value) as the child sent it, ("died", None) or ("timeout", None)
    when nothing came within ``limit`` seconds [s] (None: no limit)."""
    deadline = None if limit is None else time.monotonic() + limit
    while True:
        wait = 0.5 if deadline is None else min(0.5, max(0.0, deadline - time.monotonic()))
        if receiver.poll(wait):
            try:
                return pickle.loads(receiver.recv_bytes())
            except (EOFError, OSError):
                return "died", None
        if not child.is_alive():
            if receiver.poll(0):  # it sent and ended at once
                continue
            return "died", None
        if deadline is not None and time.monotonic() >= deadline:
            return "timeout", None


def _end(child) -> int | None:
    """Kill ``child`` if it still runs, reap it, and return its exit code."""
    if child.pid is not None and child.is_alive():
        child.kill()
    if child.pid is None:
        return None
    child.join(5.0)
    code = child.exitcode
    if code is not None:
        child.close()  # its sentinel descriptor
    return code


def _read_once(request, limit):
    """(kind, value, exit code) of ``request`` read by a child forked for it alone."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = None
    try:
        child = _start(_child, receiver, sender, *request)
        sender.close()
        kind, value = _await(child, receiver, limit)
    finally:
        sender.close()
        code = None if child is None else _end(child)
        receiver.close()
    return kind, value, code


MAX_READS = 200
"""Reads one reader process of :func:`reader_session` answers before it is replaced (a
C library may leak a little on every file, not only on broken ones)."""


def _state() -> tuple:
    """What a reader process took over from this one at its fork and that may have changed
    since: the registered formats and bands (the objects themselves, compared by identity),
    the working folder, the environment and the import path."""
    from thermal import bands
    from thermal.io import formats

    return (
        formats.formats(),
        tuple(bands.registered()),
        os.getcwd(),
        tuple(sorted(os.environ.items())),
        tuple(sys.path),
    )


def _same(a: tuple, b: tuple | None) -> bool:
    if b is None:
        return False
    registered = all(
        len(x) == len(y) and all(p is q for p, q in zip(x, y, strict=True))
        for x, y in zip(a[:2], b[:2], strict=True)
    )
    return registered and a[2:] == b[2:]


class _Session:
    """One reader process serving the reads of :func:`reader_session`, one ahead at most."""

    def __init__(self) -> None:
        self.owner = os.getpid()
        self.child = None
        self.connection = None
        self.reads = 0
        self.state = None
        self.upcoming = None  # (request, limit) to send once the next answer is in
        self.pending = None  # (payload, limit, time sent) sent ahead, answer not yet taken
        self.kept: dict[bytes, tuple] = {}  # answers read ahead, not yet asked for, and the
        # state the reader had (see _state)

    def read(self, request, limit):
        try:
            payload = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # options that do not pickle: a child of its own gets them
            return _read_once(request, limit)
        if self.upcoming is not None and self.upcoming[0] == request:
            self.upcoming = None  # asked for before it could be sent ahead
        state = _state()
        kept, self.kept = self.kept.get(payload), {}  # an answer kept is for the next read only
        if kept is not None and _same(state, kept[1]):
            answer = kept[0]
        elif self.pending is not None and self.pending[0] == payload and _same(state, self.state):
            answer = self._take(self._left(limit))
        else:
            if self.pending is not None:  # a read ahead of another input: keep its answer
                ahead, ahead_limit, _ = self.pending
                self.kept = {ahead: (self._take(self._left(ahead_limit)), self.state)}
            self._send(payload, state)
            answer = self._take(limit)
        self._send_upcoming()
        if answer[0] == "retry":  # the reader could not take the request: a child of its own
            return _read_once(request, limit)
        return answer

    def read_ahead(self, request, limit) -> None:
        """Have the reader read ``request`` once it has answered the read under way."""
        self.upcoming = (request, limit)

    def _send(self, payload: bytes, state) -> None:
        alive = self.child is not None and self.child.is_alive()
        if not alive or self.reads >= MAX_READS or not _same(state, self.state):
            self.stop()
            receiver, sender = multiprocessing.get_context("fork").Pipe(duplex=True)
            try:
                self.child = _start(_serve, receiver, sender)
            finally:
                sender.close()
            self.connection, self.state, self.reads = receiver, state, 0
        try:
            self.connection.send_bytes(payload)
        except OSError:  # it ended (killed from outside): its answer tells how
            pass

    def _left(self, limit):
        """What is left of ``limit`` [s] for the read ahead under way (its deadline counts from
        when it was sent); it is no longer pending."""
        sent = self.pending[2]
        self.pending = None
        return None if limit is None else max(0.0, limit - (time.monotonic() - sent))

    def _take(self, limit) -> tuple:
        """(kind, value, exit code) of the request sent last."""
        try:
            kind, value = _await(self.child, self.connection, limit)
        except BaseException:  # interrupted mid-read: the process is in an unknown state
            self.stop()
            raise
        self.reads += 1
        code = None
        if kind not in ("ok", "retry"):  # it ended (or must end) with the failed read
            code = self.stop()
        return kind, value, code

    def _send_upcoming(self) -> None:
        """Send the read ahead, if one is queued; any failure (a fork refused for memory)
        leaves the input to be read when it is asked for."""
        if self.upcoming is None or self.pending is not None:
            return
        request, limit = self.upcoming
        self.upcoming = None
        try:
            payload = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
            if payload not in self.kept:
                self._send(payload, _state())
                self.pending = (payload, limit, time.monotonic())
        except Exception:
            self.stop()

    def stop(self) -> int | None:
        code = None
        self.pending = None  # a read ahead goes with the process
        if self.connection is not None:
            self.connection.close()  # a serving process ends at the closed pipe
            self.connection = None
        if self.child is not None:
            self.child.join(0.05)
            code = _end(self.child)
            self.child = None
        return code


_SESSION: _Session | None = None


@contextlib.contextmanager
def reader_session():
    """A context in which :func:`open_isolated` reuses one reader process.

    Within the block, reads on this process's main thread go to one long-lived reader process
    instead of a process forked per input (~40 ms each on a process that has numba and xarray
    loaded), and :func:`read_ahead` can queue the next input. The process is forked at the
    first read and replaced after a read that failed, timed out or killed it, after
    :data:`MAX_READS` reads, and when what it took over at its fork has changed here: the
    registered formats and bands, the working folder, the environment or the import path (each
    read also passes the memory budget in force). Other changes to this process's state after
    the fork (a function replaced in a reader's module) are not seen.

    Yields
    ------
    None
        The process ends with the block. Blocks nest (the outermost one owns the process).
    """
    global _SESSION
    if _SESSION is not None:
        yield
        return
    with contextlib.suppress(ImportError):  # it sets HDF5_PLUGIN_PATH on import: before any
        import netCDF4  # noqa: F401  fork, not at the first write (the state would change)
    session = _SESSION = _Session()
    try:
        yield
    finally:
        _SESSION = None
        session.stop()
