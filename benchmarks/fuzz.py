"""Fuzzing the readers: 10^4 mutants of every bundled format, and what became of each.

Every product of ``tests/io/mutants.py`` (CSV, MRT, netCDF, JIRAM imager and spectrometer
labels and data files, JWST s3d FITS) is mutated 10,000 times (``--quick``: 300) with
``mutants.random_operations`` (byte flips, truncations, insertions, deletions, label/CSV line
edits, FITS card edits; seeded, so every run draws the same mutants) and read with
``open_observation(timeout=10, max_memory=256 MiB)``. The goal: every mutant reads or raises an
``InputError`` ("crash" counts anything else), none takes more than a few seconds, and the
memory stays within the budget.

Each product runs in its own worker processes (two at a time; a process per chunk of
mutants), so that the peak memory of a product is its processes' peak resident set size
(``ru_maxrss``; the baseline after importing and reading the unmutated product is shown
beside it), and so that a reader that kills its process (a segmentation fault in a C library)
is counted as ``fatal`` and one that makes no progress for :data:`HANG` seconds (an endless
loop inside a C library, which no deadline in the process can stop) is killed and counted as
``hang``; the run goes on with the next mutant. ``fds left`` counts the file descriptors a
worker still holds at the end of its chunk beyond those it had before (a library that leaks
them on broken files). The full run takes about 15-20 minutes on two cores (``--quick``:
under a minute).

Prints per product: mutants, read OK, InputError, crashes (other exceptions), fatal (process
died), hangs, the slowest read that returned [s], mutants per second, baseline and peak RSS
[MB], file descriptors left open; then each crash, fatal or hang with the chunk's seed and
the mutant's index (``_operations`` regenerates it; its files are also kept as
``fuzz-<hang or fatal>-<format>-<seed>-<index>`` in the temporary folder).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from multiprocessing.connection import wait

from benchmarks._common import print_table
from tests.io import mutants

TIMEOUT = 10.0  # [s] open_observation's deadline per mutant
ISOLATED_TIMEOUT = 2.5  # [s] with --isolated: the reading child is killed 2 s after it
BUDGET = 256 * 2**20  # [bytes] max_memory per mutant
CHUNK = 2500  # mutants per worker process
WORKERS = 2
HANG = 60.0  # [s] without progress: the worker is killed and its mutant counted as a hang


def _operations(name: str, seed: int, count: int):
    """The (index, target file, operations) of the mutants of a chunk, from its seed."""
    item = mutants.product(name)
    rng = random.Random(f"{name}/{seed}")
    for index in range(count):
        target = rng.randrange(len(item.files))
        data = mutants.original(item.files[target])
        yield index, target, mutants.random_operations(rng, data, item.kinds[target])


def _worker(name: str, seed: int, count: int, start: int, connection, isolated=False) -> None:
    """Read mutants ``start:count`` of a chunk; send each outcome as it comes, and at the end
    the memory and file descriptors."""
    item = mutants.product(name)
    with tempfile.TemporaryDirectory(prefix=f"thermal-fuzz-{name}-") as folder:
        mutants.read(mutants.materialise(item, folder, -1, []), timeout=TIMEOUT)
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        descriptors = _descriptors()
        connection.send(("folder", folder))
        for index, target, operations in _operations(name, seed, count):
            if index < start:
                continue
            connection.send(("at", index))
            path = mutants.materialise(item, folder, target, operations)
            outcome, seconds, error = mutants.read(
                path, timeout=ISOLATED_TIMEOUT if isolated else TIMEOUT, max_memory=BUDGET,
                isolated=isolated,
            )  # fmt: skip
            detail = None
            if outcome == "crash":
                detail = (target, operations, f"{type(error).__name__}: {error}"[:300])
            connection.send(("result", outcome, seconds, detail))
        leaked = _descriptors() - descriptors
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    connection.send(("done", baseline, peak, leaked))


def _descriptors() -> int:
    """Open file descriptors of this process (Linux; 0 elsewhere)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def _run(tasks, workers: int, isolated: bool = False) -> dict:
    """Run the chunks ``(name, seed, count)`` in fresh processes, ``workers`` at a time;
    restart a chunk after a process that died, from the mutant after the one it died on."""
    context = multiprocessing.get_context("spawn")
    results = {
        name: {
            "mutants": 0,
            "ok": 0,
            "input_error": 0,
            "crash": 0,
            "fatal": 0,
            "hang": 0,
            "leaked": 0,
            "slowest": 0.0,
            "baseline": 0.0,
            "peak": 0.0,
            "crashes": [],
            "seconds": 0.0,
        }
        for name, _, _ in tasks
    }
    pending = [(name, seed, count, 0) for name, seed, count in tasks]
    running = {}  # sentinel -> [process, connection, task, last index, started, progress, folder]
    while pending or running:
        while pending and len(running) < workers:
            name, seed, count, start = pending.pop(0)
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(  # not a daemon with isolated: it forks readers
                target=_worker,
                args=(name, seed, count, start, sender, isolated),
                daemon=not isolated,
            )
            process.start()
            sender.close()
            now = time.perf_counter()
            running[process.sentinel] = [
                process,
                receiver,
                (name, seed, count),
                start,
                now,
                now,
                "",
            ]
        ready = set(wait([*running, *(entry[1] for entry in running.values())], timeout=5.0))
        now = time.perf_counter()
        for sentinel, entry in list(running.items()):
            process, receiver, (name, seed, count), last, started, progress, folder = entry
            hung = now - progress > HANG
            if receiver not in ready and sentinel not in ready and not hung:
                continue
            finished = None
            try:
                while receiver.poll():
                    message = receiver.recv()
                    if message[0] == "at":
                        entry[3] = last = message[1]
                        entry[5] = progress = now
                        hung = False
                    elif message[0] == "result":
                        _, outcome, seconds, detail = message
                        total = results[name]
                        total[outcome] += 1
                        total["mutants"] += 1
                        total["slowest"] = max(total["slowest"], seconds)
                        if detail is not None and len(total["crashes"]) < 10:
                            total["crashes"].append((seed, last, *detail))
                    elif message[0] == "folder":
                        entry[6] = folder = message[1]
                    else:
                        finished = message
            except EOFError:
                pass
            if finished is None and process.is_alive() and not hung:
                continue
            if hung and finished is None and process.is_alive():
                process.kill()
            process.join()
            del running[sentinel]
            total = results[name]
            total["seconds"] += time.perf_counter() - started
            if finished is not None:
                _, baseline, peak, leaked = finished
                total["baseline"] = max(total["baseline"], baseline)
                total["peak"] = max(total["peak"], peak)
                total["leaked"] += leaked
            else:  # the process died or hung on mutant `last`: count it, go on after it
                kind = "hang" if hung else "fatal"
                _keep(folder, kind, name, seed, last)
                total[kind] += 1
                total["mutants"] += 1
                what = (
                    f"no progress for {HANG:g} s: killed"
                    if hung
                    else f"process died (exit code {process.exitcode})"
                )
                total["crashes"].append((seed, last, kind, what))
                if last + 1 < count:
                    pending.insert(0, (name, seed, count, last + 1))
    return results


def _keep(folder: str, kind: str, name: str, seed: int, index: int) -> None:
    """Move the files of a mutant that hung or killed its worker out of the worker's folder
    (which a dead worker leaves behind), for a bug report."""
    if not folder or not os.path.isdir(folder):
        return
    target = os.path.join(tempfile.gettempdir(), f"fuzz-{kind}-{name}-{seed}-{index}")
    os.makedirs(target, exist_ok=True)
    for entry in os.listdir(folder):
        if not entry.endswith(".new"):
            shutil.copy(os.path.join(folder, entry), target)
    shutil.rmtree(folder, ignore_errors=True)


def main(quick: bool = False, isolated: bool = False, only: tuple[str, ...] = ()) -> None:
    """Fuzz every bundled format (``only``: those named), reading each mutant in-process or,
    with ``isolated``, as the command line does (a child process killed at the deadline)."""
    per_product = 300 if quick else 10_000
    products = [item for item in mutants.PRODUCTS if not only or item.name in only]
    tasks = []
    for item in products:
        for seed, start in enumerate(range(0, per_product, CHUNK)):
            tasks.append((item.name, seed, min(CHUNK, per_product - start)))
    started = time.perf_counter()
    results = _run(tasks, min(WORKERS, os.cpu_count() or 1), isolated)
    rows = []
    for item in products:
        r = results[item.name]
        rate = r["mutants"] / r["seconds"] if r["seconds"] else float("nan")
        rows.append(
            (
                item.name,
                r["mutants"],
                r["ok"],
                r["input_error"],
                r["crash"],
                r["fatal"],
                r["hang"],
                r["slowest"],
                rate,
                r["baseline"],
                r["peak"],
                r["leaked"],
            )
        )
    how = (
        f"open_isolated, timeout {ISOLATED_TIMEOUT:g} s + 2 s grace" if isolated
        else f"open_observation, timeout {TIMEOUT:g} s"
    )  # fmt: skip
    print_table(
        f"Reader fuzzing: mutants of every bundled format ({how}, max_memory "
        f"{BUDGET / 2**20:g} MiB; {time.perf_counter() - started:.0f} s wall)",
        (
            "format",
            "mutants",
            "read OK",
            "InputError",
            "crash",
            "fatal",
            "hang",
            "max s/input",
            "mutants/s",
            "base RSS MB",
            "peak RSS MB",
            "fds left",
        ),
        rows,
    )
    for item in products:
        for crash in results[item.name]["crashes"]:
            print(f"  {item.name}: {crash}")
    total = sum(results[i.name][k] for i in products for k in ("crash", "fatal", "hang"))
    print(f"\ngoal: no crash, fatal or hang: {'met' if total == 0 else f'NOT met ({total})'}")


if __name__ == "__main__":
    # python -m benchmarks.fuzz [--quick] [--isolated] [FORMAT ...]
    main(
        quick="--quick" in sys.argv,
        isolated="--isolated" in sys.argv,
        only=tuple(a for a in sys.argv[1:] if not a.startswith("--")),
    )
