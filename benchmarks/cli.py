"""``thermal fit`` end to end: files/s and spectra/s over a batch of observation files, serial
and on a 2-process dask cluster, next to the in-process ``fit_spectra`` rate on the same data.

Full size: 10 files x 10,000 spectra x 17 wavelengths (1e5 spectra; 1.5-5 um, 2T truth, 2 %
noise), then 10 files x 100,000 (1e6 spectra, where the start-up weighs less). ``--quick``: 10
files x 1,000 spectra. The command line runs in a fresh interpreter (import and numba cache
load included, as a user sees it); "kept" is its spectra/s over the in-process ``fit_spectra``
rate (goal: >= 0.8 at 1e5 spectra). Two rows bound what any command line can keep: the same job
as a Python script in a fresh interpreter (imports, kernel cache load, read, fit, write: what a
user's own script pays), and the same end to end in a warm interpreter (read, fit, write). A
last table runs many files of 256 spectra (a JIRAM spectrometer product's size), where the cost
per file beyond the fits decides the throughput.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import xarray as xr

from benchmarks._common import print_table
from thermal import simulate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _make_files(folder: str, files: int, spectra: int) -> list[str]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(files):
        t = np.column_stack([rng.uniform(800, 1400, spectra), rng.uniform(300, 600, spectra)])
        a = np.column_stack(
            [10 ** rng.uniform(5, 6.5, spectra), 10 ** rng.uniform(7, 8.5, spectra)]
        )
        ds = simulate.observation(
            t, a, wavelength=np.linspace(1.5, 5.0, 17), noise=0.02, seed=i
        ).drop_vars(["true_temperature", "true_area"])
        path = os.path.join(folder, f"obs{i:03d}.nc")
        ds.to_netcdf(path)
        paths.append(path)
    return paths


def _in_process(paths: list[str]) -> float:
    from thermal.fit import fit_spectra
    from thermal.io import open_observation

    observations = [open_observation(p) for p in paths]
    fit_spectra(
        observations[0].isel(spectrum=slice(0, 10)), model="2T"
    )  # compile / load the cache
    start = time.perf_counter()
    for obs in observations:
        fit_spectra(obs, model="2T")
    return time.perf_counter() - start


def _io_only(paths: list[str], folder: str) -> float:
    """Read, fit and write every file in this (warm) interpreter: the command line's floor."""
    from thermal.fit import fit_spectra
    from thermal.io import open_observation, write_results

    start = time.perf_counter()
    for path in paths:
        obs = open_observation(path)
        write_results(fit_spectra(obs, model="2T"), os.path.join(folder, os.path.basename(path)))
    return time.perf_counter() - start


_SCRIPT = """
import os, sys
from thermal.fit import fit_spectra
from thermal.io import open_observation, write_results
out = sys.argv[1]
for path in sys.argv[2:]:
    result = fit_spectra(open_observation(path), model="2T")
    write_results(result, os.path.join(out, os.path.basename(path)))
"""


def _script(paths: list[str], folder: str) -> float:
    """The command line's job as the shortest script doing it, run in a fresh interpreter:
    what every run of a program built on xarray and numba pays before its first fit."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", _SCRIPT, folder, *paths], env=env, check=True)
    return time.perf_counter() - start


def _command_line(paths: list[str], output: str, *extra: str) -> float:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "thermal.cli", "fit", *paths, "-o", output, "-q"]
    command += ["--model", "2T"]
    command += ["--overwrite", *extra]
    start = time.perf_counter()
    subprocess.run(command, env=env, check=False, capture_output=True)
    elapsed = time.perf_counter() - start
    written = [n for n in os.listdir(output) if n.endswith(".fit.nc")]
    if len(written) != len(paths):
        raise RuntimeError(
            f"{' '.join(extra) or 'serial'}: {len(written)} of {len(paths)} written"
        )
    return elapsed


def _identical(a: str, b: str) -> bool:
    for name in sorted(os.listdir(a)):
        with (
            xr.open_dataset(os.path.join(a, name)) as x,
            xr.open_dataset(os.path.join(b, name)) as y,
        ):
            if not x.equals(y):
                return False
    return True


def main(quick: bool = False) -> None:
    # the goal's size, and in a full run ten times it: the start-up weighs less there
    for spectra in (1_000,) if quick else (10_000, 100_000):
        _batch(10, spectra)
    _many_small_files(20 if quick else 100)


def _batch(files: int, spectra: int) -> None:
    """The command line against ``fit_spectra`` in process on ``files`` files of ``spectra``."""
    total = files * spectra
    with tempfile.TemporaryDirectory(prefix="thermal-bench-cli-") as folder:
        paths = _make_files(folder, files, spectra)
        serial_out = os.path.join(folder, "serial")
        workers_out = os.path.join(folder, "workers")
        os.makedirs(serial_out)
        os.makedirs(workers_out)
        _command_line(paths[:1], serial_out)  # warm the numba cache on disk
        io_folder = os.path.join(folder, "io")
        os.makedirs(io_folder)
        io_only = _io_only(paths, io_folder)
        script_folder = os.path.join(folder, "script")
        os.makedirs(script_folder)
        script = _script(paths, script_folder)
        in_process = _in_process(paths)
        serial = _command_line(paths, serial_out)
        workers = _command_line(paths, workers_out, "--workers", "2")
        same = _identical(serial_out, workers_out)
    rate = total / in_process
    rows = [
        ("fit_spectra in process (baseline)", files / in_process, rate, 1.0),
        ("thermal fit, serial", files / serial, total / serial, total / serial / rate),
        ("thermal fit --workers 2", files / workers, total / workers, total / workers / rate),
        (
            "read + fit + write, in process",
            files / io_only,
            total / io_only,
            total / io_only / rate,
        ),
        (
            "same job as a script, fresh interpreter",
            files / script,
            total / script,
            total / script / rate,
        ),
    ]
    print_table(
        f"thermal fit: {files} files x {spectra} spectra x 17 wavelengths, 2T "
        f"(workers identical to serial: {same}; serial against the script: "
        f"{script / serial:.2f})",
        ("run", "files/s", "spectra/s", "kept vs in-process"),
        rows,
    )


def _many_small_files(files: int, spectra: int = 256) -> None:
    """Files of a JIRAM spectrometer product's size (256 spectra): what a run over an archive
    pays per file beyond the fits (read in the reader process, result built and written)."""
    with tempfile.TemporaryDirectory(prefix="thermal-bench-cli-small-") as folder:
        paths = _make_files(folder, files, spectra)
        out = os.path.join(folder, "out")
        os.makedirs(out)
        in_process = _in_process(paths)
        io_folder = os.path.join(folder, "io")
        os.makedirs(io_folder)
        io_only = _io_only(paths, io_folder)
        serial = _command_line(paths, out)
        os.makedirs(os.path.join(folder, "one"))
        start_only = _command_line(paths[:1], os.path.join(folder, "one"))
    per_file = (serial - start_only) / (files - 1)
    print_table(
        f"thermal fit: {files} files x {spectra} spectra (an archive of small products)",
        ("run", "files/s", "ms per file"),
        [
            ("fit_spectra in process", files / in_process, 1e3 * in_process / files),
            ("read + fit + write, in process", files / io_only, 1e3 * io_only / files),
            ("thermal fit, serial", files / serial, 1e3 * serial / files),
            ("thermal fit, beyond its start", 1 / per_file, 1e3 * per_file),
        ],
    )


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
