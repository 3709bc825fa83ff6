"""Compiling kernels ahead, in background processes, while this one does other work.

With an empty cache the fit kernel takes ~29 s of CPU to compile (:mod:`thermal._kernels`): its
three stages, the search ~16 s, the starts ~9 s and the results ~4 s, compile apart from each
other. A caller that knows which kernels it will run (the command line does, from its
arguments) calls :func:`compile_ahead` first; a kernel of several stages calls it itself at its
first call from the main thread, unless ``THERMAL_PARALLEL=0`` (not from a dask worker's
thread: a worker is one process of many). The stages of each kernel the cache lacks then
compile at the same time: in the kernel's ``ahead`` order (longest first) each in a background
process of its own, ``python -m thermal._kernels.ahead <module>:<kernel>:<stage>``, while there
are free cores (all but this process's, counting background processes still running, over
every kernel in the order given), and the rest in this process at the kernel's first call,
before it waits for the background processes (:func:`wait`) and loads their stages from the
cache. A background process compiles its stage for the types of the kernel's example arguments
(:meth:`thermal._kernels.Kernel.warm`).

On 2 cores the fit's search compiles in the background while this process imports, reads,
detects hot spots and then compiles the starts and the results: the first
``thermal fit data/examples/*`` takes ~18 s, and a script's first ``fit_spectra`` ~15 s,
against ~22 s for the one function the fit kernel was before. On one core nothing runs in the
background and the three stages compile one after the other (~28 s).

Whether the cache holds a kernel is known without asking numba: a kernel marks its cache folder
(``<module>.<kernel>-<digest>.compiled``, the digest of its source file's path, time stamp and
size, which numba's cache index checks) after its first run in any process
(:func:`mark_compiled`). Should a mark be wrong, the kernel compiles in the process that calls
it, as it would without this module; so does a stage whose background process fails.
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
import time
from pathlib import Path

from thermal import _kernels

__all__ = ["WAIT_LIMIT", "background", "compile_ahead", "is_compiled", "mark_compiled", "wait"]

WAIT_LIMIT = 900.0
"""Seconds [s] a kernel's first call waits for its background compilation, which is then
killed (the call compiles the kernel itself)."""

_RUNNING: dict[str, dict[int, subprocess.Popen]] = {}
_LOCK = threading.Lock()


def _key(kernel) -> str:
    return f"{kernel.__module__}:{kernel.__name__}"


def _mark(kernel) -> Path | None:
    """The mark of ``kernel`` in the cache folder. numba keeps a cache index per source file,
    in a folder per checkout path, valid while the file's time stamp and size are unchanged:
    the mark's name holds the same (a fresh clone of the same sources compiles again)."""
    folder = _kernels.CACHE_DIR
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


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def compile_ahead(*kernels) -> list[str]:
    """Start compiling each of ``kernels`` (:class:`thermal._kernels.Kernel` objects with an
    example) that the cache lacks: its stages in the kernel's ``ahead`` order (longest first),
    each in a background process of its own, while there are free cores (all but this
    process's, counting the background processes already running: none on one core). Its
    other stages compile in the calling process at the kernel's first call.

    Returns
    -------
    list of str
        The kernels (``module:name``) being compiled in the background.
    """
    started = []
    for kernel in kernels:
        key = _key(kernel)
        if kernel.example is None:
            raise ValueError(f"{key} has no example arguments to compile it with")
        with _LOCK:
            if is_compiled(kernel) or key in _RUNNING or not sys.executable:
                continue  # (no interpreter to start: an embedded Python)
            running = sum(p.poll() is None for ps in _RUNNING.values() for p in ps.values())
            free = _cores() - 1 - running
            root = str(Path(__file__).resolve().parents[2])  # where `thermal` imports from
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
            processes = {}
            for stage in kernel.ahead[: max(free, 0)]:
                # -P: not the working folder first on the path (another `thermal` there)
                command = [sys.executable, "-P", "-m", "thermal._kernels.ahead", f"{key}:{stage}"]
                try:
                    processes[stage] = subprocess.Popen(
                        command,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        env=env,
                    )
                except OSError:  # no process to be had: the stage compiles where it is called
                    continue
            if processes:
                _RUNNING[key] = processes
                started.append(key)
    return started


def background(kernel) -> set[int]:
    """The stages of ``kernel`` compiling in background processes now."""
    with _LOCK:
        return set(_RUNNING.get(_key(kernel), ()))


def wait(kernel) -> None:
    """Wait for ``kernel``'s background compilations, if any are under way (at most
    :data:`WAIT_LIMIT` seconds in all)."""
    with _LOCK:
        processes = list(_RUNNING.pop(_key(kernel), {}).values())
    deadline = time.monotonic() + WAIT_LIMIT
    try:
        for process in processes:
            try:
                process.wait(max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                _kill([process])
    except BaseException:  # interrupted: the compilations go with us
        _kill(processes)
        raise


def _kill(processes) -> None:
    for process in processes:
        process.kill()
        process.wait()


@atexit.register
def _stop() -> None:
    with _LOCK:
        running = [p for processes in _RUNNING.values() for p in processes.values()]
        _RUNNING.clear()
    _kill(running)


def main(keys: list[str]) -> int:
    """Compile each ``module:kernel[:stage]`` of ``keys`` for its example (``python -m
    thermal._kernels.ahead``): the given stage, else every stage by running the kernel."""
    for key in keys:
        module, name, *stage = key.split(":")
        kernel = getattr(importlib.import_module(module), name)
        kernel.warm(int(stage[0]) if stage else None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
