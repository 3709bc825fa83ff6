"""Reading an untrusted input in a child process that can be killed.

:func:`thermal.io.open_observation` bounds a read with a deadline that acts between Python
bytecodes, and with checks of declared sizes before allocating. Neither can stop a C library
that loops on a corrupt file (a netCDF/HDF5 file with two flipped bytes was seen to spin in the
HDF5 library for ever), nor reclaim the file descriptors a C library leaks on broken files
(240 leaked in 7,000 broken netCDF files). :func:`open_isolated` reads in a forked child
process: the child sends the observation back through a pipe, and the parent kills it when the
deadline passes (``SIGKILL`` cannot be ignored or blocked), so one file never stalls a batch,
and whatever the child leaked ends with it.

Isolation needs ``fork`` (Linux) and a process allowed to have children: inside a daemonic
process (a dask worker process), off the main thread or elsewhere, the read runs in-process
with the soft deadline only. Costs: ~5-30 ms per input to fork, plus pickling the observation
through the pipe (~0.1 s per 100 MB).
"""

from __future__ import annotations

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

__all__ = ["GRACE", "isolation_available", "open_isolated"]

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


def _child(receiver, connection, path, timeout, max_memory, options) -> None:
    """Read ``path`` and send ("ok", observation) or ("error", exception) to the parent."""
    receiver.close()  # the parent's end: if the parent dies, sending fails and we end
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and kills us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)
    from thermal.io import open_observation

    try:
        observation = open_observation(
            path, timeout=timeout, max_memory=max_memory, **options
        ).load()
        message = ("ok", observation)
    except BaseException as error:  # everything goes back to the parent as it is
        error.__cause__ = error.__context__ = None  # causes may not pickle (deadline classes)
        error.__traceback__ = None
        message = ("error", error)
    try:
        try:
            payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # an unpicklable exception: send its text
            text = f"{type(message[1]).__name__}: {limits.one_line(message[1])}"
            payload = pickle.dumps(("error", InputError(path, f"reader failed: {text} ({error})")))
        connection.send_bytes(payload)
    except OSError:  # the parent is gone (interrupted): nobody to tell
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
        formats._resolve(fmt.reader, fmt)
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
    _prepare(path, options.get("format"))
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_child, args=(receiver, sender, path, timeout, max_memory, options), daemon=True
    )
    # Ctrl-C or SIGTERM during the fork would be raised inside an at-fork hook, where Python
    # prints and drops it: hold them until the child exists (the child unblocks them); one
    # that came meanwhile is raised when they are released, inside the try that kills it.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        try:
            with warnings.catch_warnings():
                # Python >= 3.12 warns that forking a multi-threaded process may deadlock the
                # child. Our threads (kernel pools, progress) hold no lock the child takes.
                warnings.filterwarnings("ignore", ".*fork.*", DeprecationWarning)
                child.start()
            sender.close()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        limit = None if timeout is None else time.monotonic() + timeout + GRACE
        while True:
            wait = 0.5 if limit is None else min(0.5, max(0.0, limit - time.monotonic()))
            if receiver.poll(wait):
                try:
                    kind, value = pickle.loads(receiver.recv_bytes())
                except (EOFError, OSError):
                    kind, value = "died", None
                break
            if not child.is_alive():
                kind, value = "died", None
                if receiver.poll(0):  # it sent and ended at once
                    continue
                break
            if limit is not None and time.monotonic() >= limit:
                kind, value = "timeout", None
                break
    finally:
        if child.pid is not None and child.is_alive():
            child.kill()
        sender.close()
        if child.pid is not None:
            child.join(5.0)
        receiver.close()
    code = child.exitcode
    if code is not None:
        child.close()  # its sentinel descriptor
    if kind == "ok":
        return value
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
