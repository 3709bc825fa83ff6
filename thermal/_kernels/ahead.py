"""Compiling kernels ahead, in a background process, while this one does other work.

With an empty cache the fit kernel takes ~20 s to compile on one core (:mod:`thermal._kernels`),
and a run spends its first seconds on other things: imports, reading inputs, detecting hot
spots, the radiometry kernels. A caller that knows which kernels it will run (the command line
does, from its arguments) calls :func:`compile_ahead` first: each kernel the cache lacks is
compiled by ``python -m thermal._kernels.ahead <module>:<kernel>`` on another core, which runs
the kernel on its example arguments (:meth:`thermal._kernels.Kernel.warm`) and so leaves it in
the cache. At its first call in this process the kernel waits for that process (:func:`wait`)
and then loads the cache instead of compiling.

Whether the cache holds a kernel is known without asking numba: a kernel marks its cache folder
(``<module>.<kernel>-<digest>.compiled``, the digest of its source file's path, time stamp and
size, which numba's cache index checks) after its first run in any process
(:func:`mark_compiled`). Should a mark be wrong, the kernel compiles in the process that calls
it, as it would without this module; so it does when the background process fails.
Background processes still running when this process exits are killed (numba writes a cache
entry whole or not at all).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib
import os
import subprocess
import sys
import threading
from pathlib import Path

from thermal import _kernels

__all__ = ["WAIT_LIMIT", "compile_ahead", "is_compiled", "mark_compiled", "wait"]

WAIT_LIMIT = 900.0
"""Seconds [s] a kernel's first call waits for its background compilation, which is then
killed (the call compiles the kernel itself)."""

_RUNNING: dict[str, subprocess.Popen] = {}
_LOCK = threading.Lock()


def _key(kernel) -> str:
    return f"{kernel.__module__}:{kernel.__name__}"


def _mark(kernel) -> Path | None:
    """The mark of ``kernel`` in the cache folder. numba keeps a cache index per source file,
    in a folder per checkout path, valid while the file's time stamp and size are unchanged:
    the mark's name holds the same (a fresh clone of the same sources compiles again)."""
    folder = _kernels._CACHE_DIR
    if folder is None:
        return None
    source = kernel.function.__code__.co_filename
    try:
        stat = os.stat(source)
        stamp = f"{source}\0{stat.st_mtime_ns}\0{stat.st_size}"
    except OSError:
        stamp = source
    digest = hashlib.sha256(stamp.encode()).hexdigest()[:16]
    return folder / f"{kernel.__module__}.{kernel.__name__}-{digest}.compiled"


def is_compiled(kernel) -> bool:
    """True when ``kernel`` has run in some process with this cache (so the cache holds it);
    also when nothing is cached (there is nothing to compile ahead then)."""
    mark = _mark(kernel)
    return mark is None or mark.exists()


def mark_compiled(kernel) -> None:
    """Mark the cache as holding ``kernel`` (after its first run in this process)."""
    mark = _mark(kernel)
    if mark is not None and not mark.exists():
        with contextlib.suppress(OSError):
            mark.touch()


def compile_ahead(*kernels) -> list[str]:
    """Start compiling each of ``kernels`` (:class:`thermal._kernels.Kernel` objects with an
    example) that the cache lacks, each in a background process of its own.

    Returns
    -------
    list of str
        The kernels (``module:name``) being compiled in the background.
    """
    started = []
    for kernel in kernels:
        key = _key(kernel)
        if kernel._example is None:
            raise ValueError(f"{key} has no example arguments to compile it with")
        with _LOCK:
            if is_compiled(kernel) or key in _RUNNING:
                continue
            root = str(Path(__file__).resolve().parents[2])  # where `thermal` imports from
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
            try:
                _RUNNING[key] = subprocess.Popen(
                    # -P: not the working folder first on the path (another `thermal` there)
                    [sys.executable, "-P", "-m", "thermal._kernels.ahead", key],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=env,
                )
            except OSError:  # no process to be had: the kernel compiles where it is called
                continue
        started.append(key)
    return started


def wait(kernel) -> None:
    """Wait for ``kernel``'s background compilation, if one is under way (at most
    :data:`WAIT_LIMIT` seconds)."""
    with _LOCK:
        process = _RUNNING.pop(_key(kernel), None)
    if process is None:
        return
    try:
        process.wait(WAIT_LIMIT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    except BaseException:  # interrupted: the compilation goes with us
        process.kill()
        process.wait()
        raise


@atexit.register
def _stop() -> None:
    with _LOCK:
        running = list(_RUNNING.values())
        _RUNNING.clear()
    for process in running:
        process.kill()
        process.wait()


def main(keys: list[str]) -> int:
    """Run each ``module:kernel`` of ``keys`` on its example (``python -m
    thermal._kernels.ahead``)."""
    for key in keys:
        module, _, name = key.partition(":")
        getattr(importlib.import_module(module), name).warm()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
