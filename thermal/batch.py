"""Batches of observation files: every input fitted (``thermal fit``) or searched for hot spots
(``thermal detect``) into its own result file, the way the command line runs them.

What makes a batch safe to run over an archive lives here, apart from argument parsing and
printing (:mod:`thermal.cli`):

* **One input, one row.** :func:`fit_file` and :func:`detect_file` never raise: a failure is
  the row's ``error`` (one line naming the file), the other inputs go on.
* **Resuming.** A result records the identity of its input (:func:`input_identity`: names,
  sizes, times and the first and last MiB of its files) and the options that change it; a
  re-run skips inputs whose result is complete and current.
* **Concurrent runs.** An advisory lock per output (:func:`_claim`) makes a second run on the
  same machine wait and then find the result done; temporaries of dead runs are removed, those
  of live runs left alone; results are written atomically (:func:`thermal.io.write_results`).
* **Scale.** :func:`run_serial` in this process, :func:`run_dask` one task per input on a
  local or given dask.distributed cluster.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import time
import traceback
import warnings

RESULT_SUFFIX = ".fit.nc"


_IDENTITY_BYTES = 1 << 20


def input_identity(path: str) -> str:
    """The identity of an input for resuming: SHA-256 over each of its files' (label and data)
    name, size and modification time and its first and last MiB; "" if they cannot be read.
    Bounded: a huge (or sparse) file costs two MiB of reading, not a full checksum."""
    digest = hashlib.sha256()
    try:
        from thermal.io.jiram import input_files

        for name in input_files(path):
            if not os.path.isfile(name):
                return ""
            info = os.stat(name)
            digest.update(f"{os.path.basename(name)} {info.st_size} {info.st_mtime_ns}".encode())
            with open(name, "rb") as handle:
                digest.update(handle.read(_IDENTITY_BYTES))
                if info.st_size > 2 * _IDENTITY_BYTES:
                    handle.seek(-_IDENTITY_BYTES, os.SEEK_END)
                    digest.update(handle.read(_IDENTITY_BYTES))
    except OSError:
        return ""
    return digest.hexdigest()


def normalise_inputs(paths: list[str]) -> list[str]:
    """Replace JIRAM data files by their labels (when beside them) and drop duplicates."""
    from thermal.io.jiram import find_label

    seen: set[str] = set()
    out = []
    for path in paths:
        if os.path.isfile(path):
            path = find_label(path) or path
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            out.append(path)
    return out


def _output_name(path: str, suffix: str = RESULT_SUFFIX) -> str:
    """The result's name: the input's, without an extension a registered format claims."""
    from thermal.io.formats import formats

    base = os.path.basename(os.path.normpath(path))
    stem, extension = os.path.splitext(base)
    claimed = {e for fmt in formats() for e in fmt.extensions}
    return (stem if extension.lower() in claimed else base) + suffix


def plan_outputs(
    inputs: list[str], output: str | None, suffix: str = RESULT_SUFFIX, single: bool = True
) -> list[tuple[str, str]]:
    """Pair every input with its result file in the folder ``output`` (default: the current
    one), named after the input with ``suffix``; with ``single``, ``output`` may also name the
    ``.nc`` file of a single input. Raises ValueError (starting with ``output``) for impossible
    requests: many inputs into one file, an output folder that is a file, two inputs that would
    be written to the same result."""
    if single and output is not None and output.endswith(".nc") and not os.path.isdir(output):
        if len(inputs) != 1:
            raise ValueError(
                f"{output}: a single output file needs a single input ({len(inputs)} given);"
                " give a directory for many inputs"
            )
        return [(inputs[0], output)]
    if output is not None and os.path.exists(output) and not os.path.isdir(output):
        raise ValueError(f"{output}: exists and is not a directory")
    folder = output if output is not None else "."
    pairs = [(path, os.path.join(folder, _output_name(path, suffix))) for path in inputs]
    targets: dict[str, str] = {}
    for path, target in pairs:
        key = os.path.abspath(target)
        if key in targets:
            raise ValueError(
                f"{folder}: {path} and {targets[key]} would both be written to {target}; "
                "fit them into different directories"
            )
        targets[key] = path
    return pairs


def prepare_directory(folder: str) -> str | None:
    """Create ``folder`` and check it is writable; return a problem or None."""
    try:
        os.makedirs(folder, exist_ok=True)
        probe = os.path.join(folder, f".thermal-write-test-{os.getpid()}")
        with open(probe, "wb"):
            pass
        os.remove(probe)
    except OSError as error:
        return f"output directory is not writable: {error.strerror or error}"
    return None


def warning_lines(path: str, caught) -> list[str]:
    """One ``<path>: warning: <text>`` line per caught warning (its own leading path removed)."""
    return [f"{path}: warning: {str(w.message).removeprefix(f'{path}: ')}" for w in caught]


RESULTS_REVISION = 2
"""Raised whenever a fix changes what a fit or a detection gives for the same input and
options; a batch does not resume from a result of another revision (files without one are
revision 1). 2: poor_fit, the held scene background, AO photometry off the lit disk's profile,
deblended pieces under nsigma merged (December 2026)."""


def _is_current(output: str, checksum: str, **expected: str) -> bool:
    """True when ``output`` is a complete result of this input (same identity ``checksum``)
    made by this :data:`RESULTS_REVISION`, whose ``thermal_<name>`` attributes have the
    ``expected`` values (a missing one reads as its default: ``linear`` intervals, else
    empty)."""
    attrs = _result_attrs(output) if checksum else None
    if attrs is None or attrs.get("thermal_input_identity") != checksum:
        return False
    if int(attrs.get("thermal_results_revision", 1)) != RESULTS_REVISION:
        return False
    defaults = {"intervals": "linear"}
    return all(
        attrs.get(f"thermal_{name}", defaults.get(name, "")) == value
        for name, value in expected.items()
    )


def _foreign(output: str, path: str) -> str | None:
    """Why ``output`` may not be replaced by the result of ``path`` without ``overwrite``: it
    exists and is not a thermal result of that input (another input's result, an observation,
    any other file); None when it is absent or is one."""
    if not os.path.lexists(output):
        return None
    attrs = _result_attrs(output)
    made_from = None if attrs is None else attrs.get("thermal_input")
    if made_from is not None and os.path.realpath(str(made_from)) == os.path.realpath(path):
        return None
    what = (
        "is not a thermal result"
        if made_from is None
        else f"holds the result of {made_from}, not of this input"
    )
    return f"{output}: exists and {what}; give --overwrite (overwrite=True) to replace it"


def _stamp(dataset, path: str, checksum: str, **settings: str) -> str:
    """Write into ``dataset``'s attributes what :func:`_is_current` reads back: the input, its
    identity, the ``thermal_<name>`` settings, the version, and the product id (returned: the
    input's name when it has none)."""
    from thermal import __version__

    product = dataset.attrs.get("product_id", os.path.basename(path))
    dataset.attrs.update(
        thermal_input=os.path.abspath(path),
        thermal_input_identity=checksum,
        **{f"thermal_{name}": value for name, value in settings.items()},
        thermal_results_revision=RESULTS_REVISION,
        thermal_version=__version__,
        product_id=str(product),
    )
    return str(product)


def _bounds(options: dict) -> dict:
    """The read's bounds in a batch's options: ``timeout`` [s] and ``max_memory`` [bytes]."""
    return {"timeout": options.get("timeout", 60.0), "max_memory": options.get("max_memory")}


def _remove_stale_temporaries(output: str) -> None:
    """Remove temporaries of ``output`` left by runs that died (their process is gone); those
    of live runs, this one's included, are theirs to finish."""
    from thermal.io.results import TEMPORARY_PREFIX, temporary_owner

    folder = os.path.dirname(os.path.abspath(output))
    prefix = TEMPORARY_PREFIX + os.path.basename(output) + "."
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            if not name.startswith(prefix):
                continue
            owner = temporary_owner(name)
            if owner is not None and _alive(owner):
                continue
            with contextlib.suppress(OSError):
                os.remove(os.path.join(folder, name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


@contextlib.contextmanager
def _claim(output: str):
    """An advisory lock on ``output`` for the time of its fit: a concurrent run on this machine
    waits for it, then finds the output done (lock files live in the temporary folder)."""
    import fcntl
    import tempfile

    # the real path: one output reached through a symbolic link is still one lock
    key = hashlib.sha256(os.path.realpath(output).encode()).hexdigest()[:32]
    folder = os.path.join(tempfile.gettempdir(), "thermal-locks")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, key + ".lock"), "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def summarise_result(result) -> dict:
    from thermal.summary import summarise

    return summarise(result)


def fit_file(path: str, output: str, model="auto", options: dict | None = None) -> dict:
    """Read, fit and write one input; never raises (errors are returned in the row).

    Runs in the main process or in a dask worker (one task per input file). ``model`` is as for
    :func:`thermal.fit.fit_spectra`; ``options`` (all optional) are those of ``thermal fit``:
    ``intervals``, ``store``, ``temperature_range``, ``max_emission_angle``, ``reader`` (reader
    options), ``timeout`` [s] and ``max_memory`` [bytes] of the read, ``overwrite``,
    ``compress``, ``bands`` (bands to register in a worker), ``command`` (for the history) and
    ``debug`` (tracebacks in the row). Returns the row: ``input``, ``output``, ``error`` (one
    line or None), ``warnings``, ``skipped`` (resumed) and the summary counts.
    """
    return _one_input(path, output, options or {}, functools.partial(_fit_claimed, model=model))


def _one_input(path: str, output: str, options: dict, claimed) -> dict:
    """The row of one input: ``claimed(path, output, options, row)`` run while holding the
    claim on ``output``, any exception recorded in the row as one line, the time taken."""
    started = time.perf_counter()
    row = {"input": path, "output": output, "error": None, "warnings": [], "skipped": False}
    try:
        if os.path.realpath(path) == os.path.realpath(output):
            raise ValueError(f"{path}: output path is the input file; choose another output")
        with _claim(output):
            claimed(path, output, options=options, row=row)
    except Exception as error:
        _record_error(row, path, error, options.get("debug"))
    row["seconds"] = time.perf_counter() - started
    return row


def _fit_claimed(path: str, output: str, *, model, options: dict, row: dict) -> None:
    """The body of :func:`fit_file` while it holds the claim on ``output``."""

    checksum = input_identity(path)
    intervals = options.get("intervals", "linear")
    store = options.get("store", "")
    bounds = options.get("temperature_range")
    bounds_text = "" if bounds is None else f"{bounds[0]:g} {bounds[1]:g}"
    reader_text = "; ".join(f"{k}={v}" for k, v in sorted((options.get("reader") or {}).items()))
    if options.get("max_emission_angle", 80.0) != 80.0:
        bounds_text += f" limb {options['max_emission_angle']:g}"
    if not options.get("overwrite") and _is_current(
        output, checksum, model=model, intervals=intervals, store=store,
        temperature_range=bounds_text, reader_options=reader_text,
    ):  # fmt: skip
        row["skipped"] = True
        row.update(_summary_from_file(output))
        return
    problem = None if options.get("overwrite") else _foreign(output, path)
    if problem:
        row["error"] = problem
        return
    spots_output = _hotspots_output(output)
    routed = {
        **_bounds(options),
        "max_emission_angle": options.get("max_emission_angle", 80.0),
        "radiance_unit": (options.get("reader") or {}).get("band_integrated"),
        "distance": (options.get("reader") or {}).get("distance"),
        "command": options.get("command"),
    }
    if not options.get("overwrite") and _is_current(
        spots_output, checksum, detect_settings=_detect_settings(routed)
    ):
        row["skipped"] = True
        row.update(_routed_summary(load_result(spots_output), spots_output))
        return
    _remove_stale_temporaries(output)
    if options.get("bands"):
        from thermal import bands

        for band in options["bands"]:
            bands.register(band, overwrite=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from thermal.fit import fit_spectra
        from thermal.io import write_results

        observation = _open_with_options(path, options.get("reader") or {}, options)
        from thermal.layout import image_kind

        if image_kind(observation) == "bands":
            # one band per pixel: no per-pixel fit can work; its hot spots are the result
            with _claim(spots_output):
                _remove_stale_temporaries(spots_output)
                _detect_claimed(path, spots_output, options={**routed, "overwrite": True}, row=row)
            row.update(_routed_summary(load_result(spots_output), spots_output))
            return
        result = fit_spectra(
            observation,
            model=model,
            intervals=intervals,
            store=store,
            temperature_range=bounds,
            max_emission_angle=options.get("max_emission_angle", 80.0),
        )
    row["warnings"] = warning_lines(path, caught)
    result.attrs.update(_inherited(observation.attrs, result.attrs))
    if "product_id" in observation.attrs:
        result.attrs["product_id"] = observation.attrs["product_id"]
    product = _stamp(
        result, path, checksum, model=model, intervals=intervals, store=store,
        temperature_range=bounds_text, reader_options=reader_text,
    )  # fmt: skip
    write_results(
        result,
        output,
        compress=bool(options.get("compress")),
        history=options.get("command"),
        source=f"{os.path.basename(path)} (product {product})",
    )
    row.update(summarise_result(result))


def _hotspots_output(output: str) -> str:
    """Where ``thermal fit`` writes the hot spots of a one-band image instead of a fit."""
    return output.removesuffix(RESULT_SUFFIX).removesuffix(".nc") + HOTSPOTS_SUFFIX


def _routed_summary(spots, spots_output: str) -> dict:
    """A fit summary row for a one-band image whose hot spots were found instead."""
    detected = detection_summary(spots)
    nan = float("nan")
    return {
        **dict.fromkeys(COUNTS, 0),
        "hottest_temperature": nan,
        "total_power": nan,
        "output": spots_output,
        "note": f"one band per pixel: {detected['spots']} hot spots, no fit "
        f"(thermal detect; {os.path.basename(spots_output)})",
        "what": f"{detected['spots']} hot spots",
    }


def _summary_from_file(output: str) -> dict:
    import xarray as xr

    from thermal.io.results import signals_deferred

    with signals_deferred(), xr.open_dataset(output, engine="netcdf4") as result:
        return summarise_result(result.load())


COUNTS = ("spectra", "fitted", "poor_fit", "not_detected", "implausible", "limb", "failed")


def run_serial(plan, task, options, on_row, check=None, read_ahead=None) -> list[dict]:
    """Run ``task(path, output, options=options)`` for every (input, output) of ``plan`` in
    this process; ``on_row(row)`` is called as each finishes and ``check()`` (which may raise
    to stop the batch) before each input and after the last. ``read_ahead(path, output,
    options)`` (e.g. :func:`fit_read_ahead`) is called for the next input before each task, so
    that the reader process reads it while the task works on its own."""
    from thermal.io.isolated import reader_session

    rows = []
    with reader_session():  # one reader process for the batch's inputs, not one per input
        for i, (path, output) in enumerate(plan):
            if check is not None:
                check()
            if read_ahead is not None and i + 1 < len(plan):
                read_ahead(*plan[i + 1], options)
            row = task(path, output, options=options)
            on_row(row)
            rows.append(row)
    if check is not None:
        check()
    return rows


@contextlib.contextmanager
def _children_ignore_interrupts():
    """Processes started meanwhile ignore SIGINT (Ctrl-C reaches the whole process group):
    this process stops the batch and closes the cluster, and the workers print no
    KeyboardInterrupt tracebacks of their own. Only from the main thread (signals live
    there); elsewhere nothing changes."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_dask(plan, task, options, on_row, workers=None, scheduler=None) -> list[dict]:
    """Run ``task`` for every input of ``plan`` as one dask.distributed task each, on a local
    cluster of ``workers`` processes or the scheduler at ``scheduler``; ``on_row(row)`` as each
    finishes."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as error:
        raise ImportError(
            "run_dask needs dask.distributed: pip install 'io-thermal[dask]'"
        ) from error
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        with _children_ignore_interrupts():
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # the cluster's own log lines (its workers' included) only with --debug: a
                # batch reports each input's failure itself, and a Ctrl-C that cuts the cluster
                # off mid-call makes it log the cancellation
                silence_logs=logging.ERROR if options.get("debug") else logging.CRITICAL,
            )
        client = Client(cluster)
    try:
        futures = client.map(
            task, [p for p, _ in plan], [o for _, o in plan], options=options, pure=False
        )
        order = {f.key: i for i, f in enumerate(futures)}
        rows: list[dict | None] = [None] * len(plan)
        for future in as_completed(futures):
            i = order[future.key]
            try:
                row = future.result()
            except Exception as error:  # a worker died: report it as this input's failure
                path, output = plan[i]
                row = {
                    "input": path,
                    "output": output,
                    "skipped": False,
                    "warnings": [],
                    "error": f"{path}: worker failed: {first_line(error)}",
                }
            on_row(row)
            rows[i] = row
        return rows
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


_READER_OPTIONS = {
    "csv": ("unit", "distance", "columns"),
    "jiram": ("distance", "band_integrated", "relative_uncertainty"),
    "fits": ("distance",),
}
"""Which of the command line's reader options each built-in format takes."""


_FLOAT_READER_OPTIONS = ("distance", "relative_uncertainty")


def recorded_options(path: str, attrs: dict) -> dict:
    """The options a result file records that :func:`thermal.io.open_observation` and
    :func:`thermal.fit.fit_spectra` need to fit its input ``path`` again as it was fitted:
    ``reader`` (the reader options its format takes) and ``max_emission_angle`` [degree]."""
    from thermal.io.formats import detect_format

    reader = {}
    for item in str(attrs.get("thermal_reader_options", "")).split("; "):
        key, _, value = item.partition("=")
        if key:
            reader[key] = float(value) if key in _FLOAT_READER_OPTIONS else value
    taken = _READER_OPTIONS.get(detect_format(path), ()) if reader else ()
    words = str(attrs.get("thermal_temperature_range", "")).split()
    limb = float(words[words.index("limb") + 1]) if "limb" in words[:-1] else 80.0
    return {
        "reader": {k: v for k, v in reader.items() if k in taken},
        "max_emission_angle": limb,
    }


def _read_arguments(path: str, given: dict, options: dict) -> dict:
    """The arguments of ``open_isolated`` for ``path``: the bounds (``--timeout``,
    ``--max-memory``) and the given reader options that its format takes."""
    from thermal.io.formats import detect_format

    bounds = _bounds(options)
    if not given:
        return bounds
    fmt = detect_format(path)
    taken = {k: v for k, v in given.items() if k in _READER_OPTIONS.get(fmt, ())}
    return {"format": fmt, **bounds, **taken}


def _open_with_options(path: str, given: dict, options: dict):
    """The observation of ``path`` read in a killable child process (:func:`_read_arguments`)."""
    from thermal.io.isolated import open_isolated

    return open_isolated(path, **_read_arguments(path, given, options))


READ_AHEAD_FRACTION = 1 / 16
"""Inputs larger than this fraction of the memory budget are not read ahead: the reader would
hold one observation while this process holds another (:func:`fit_read_ahead`)."""


def fit_read_ahead(path: str, output: str, options: dict) -> None:
    """Queue the read of the next input of a :func:`fit_file` batch (``run_serial(...,
    read_ahead=fit_read_ahead)``) with :func:`thermal.io.isolated.read_ahead`.

    Nothing is queued when the input's result (or its hot spots) exists and will be kept (a
    resumed batch reads nothing it skips), or when its files are larger than
    :data:`READ_AHEAD_FRACTION` of the memory budget.

    Parameters
    ----------
    path, output : str
        The input and its result file, as in the batch's plan.
    options : dict
        The batch's options (``overwrite``, ``reader``, ``timeout`` [s], ``max_memory``
        [bytes]), as for :func:`fit_file`.
    """
    from thermal.io import limits
    from thermal.io.isolated import read_ahead
    from thermal.io.jiram import input_files

    if not options.get("overwrite") and (
        os.path.exists(output) or os.path.exists(_hotspots_output(output))
    ):
        return
    try:
        size = sum(os.path.getsize(name) for name in input_files(path))
        budget = options.get("max_memory") or limits.current_max_memory()
        if size > READ_AHEAD_FRACTION * budget:
            return
        arguments = _read_arguments(path, options.get("reader") or {}, options)
    except Exception:  # the read itself says what is wrong
        return
    read_ahead(path, **arguments)


HOTSPOTS_SUFFIX = ".hotspots.nc"


RADIANCE_UNITS = {
    "per-um": "relabelled",
    "relabelled": "relabelled",
    "band-integrated": "divide",
    "divide": "divide",
}
"""--radiance-unit choices and the JIRAM reader's ``band_integrated`` they mean."""


def _detect_settings(options: dict) -> str:
    """The options that change a detection result (recorded for resuming)."""
    keys = ("nsigma", "saturation", "max_emission_angle", "temperature_range", "radiance_unit",
            "distance", "kernels", "backplanes", "fit", "model")  # fmt: skip
    defaults = {"nsigma": 5.0, "max_emission_angle": 80.0, "fit": False, "model": "auto"}
    return "; ".join(f"{k}={options.get(k, defaults.get(k))}" for k in keys)


_NO_IMAGE = {
    "no_image": True,
    "what": "no image to search (a table, per-spot spectra or a slit: use thermal fit)",
}


def detect_file(path: str, output: str, options: dict | None = None) -> dict:
    """Read one input, find its hot spots and write them to ``output``; never raises (errors
    are returned in the row). Runs in the main process or in a dask worker. ``options`` (all
    optional) are those of ``thermal detect``: ``nsigma``, ``saturation``,
    ``max_emission_angle``, ``temperature_range``, ``radiance_unit``, ``distance``,
    ``kernels`` or ``backplanes`` (geometry), ``fit``, ``model``, ``timeout``, ``max_memory``,
    ``overwrite``, ``command`` and ``debug``."""
    return _one_input(path, output, options or {}, _detect_claimed)


def _record_error(row: dict, path: str, error: BaseException, debug) -> None:
    from thermal.io import InputError

    if isinstance(error, InputError):
        named = os.fspath(getattr(error, "path", path) or path)
        same = os.path.basename(named) == os.path.basename(path)
        row["error"] = str(error) if same else f"{path}: {error}"
    elif str(error).startswith(f"{path}:"):
        row["error"] = str(error).splitlines()[0]
    else:
        row["error"] = f"{path}: {first_line(error)}"
    if debug:
        row["traceback"] = traceback.format_exc()


def _detect_claimed(path: str, output: str, *, options: dict, row: dict) -> None:

    checksum = input_identity(path)
    settings = _detect_settings(options)
    if not options.get("overwrite") and _is_current(output, checksum, detect_settings=settings):
        row["skipped"] = True
        row.update(detection_summary(load_result(output)))
        return
    problem = None if options.get("overwrite") else _foreign(output, path)
    if problem:
        row["error"] = problem
        return
    _remove_stale_temporaries(output)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spots = _detect(path, options)
    row["warnings"] = warning_lines(path, caught)
    if spots is None:  # a table, per-spot spectra or a slit: nothing to search
        row.update(_NO_IMAGE)
        return
    product = _stamp(spots, path, checksum, detect_settings=settings)
    from thermal.io import write_results

    write_results(
        spots,
        output,
        history=options.get("command"),
        source=f"{os.path.basename(path)} (product {product})",
        title=f"thermal hot spots of {product}",
    )
    row.update(detection_summary(spots))


def _detect(path: str, options: dict):
    """The hot spots of one input (an xarray Dataset with dim hotspot)."""
    from thermal.detect.pipeline import detect_hotspots, image_kind
    from thermal.io.formats import detect_format
    from thermal.io.isolated import open_isolated

    fmt = detect_format(path)
    if fmt == "ao":
        return _detect_ao(path, options)
    reader = {}
    if fmt == "jiram" and options.get("radiance_unit"):
        reader["band_integrated"] = RADIANCE_UNITS[options["radiance_unit"]]
    if fmt in ("jiram", "fits") and options.get("distance"):
        reader["distance"] = options["distance"]
    observation = open_isolated(path, format=fmt, **_bounds(options), **reader)
    label_geometry = None
    ifov = None
    geometry = None
    if fmt == "jiram":
        from thermal.io.jiram import IFOV, frame_geometry

        ifov = IFOV
        label_geometry = frame_geometry(path)
        if options.get("distance"):
            for values in label_geometry.values():
                values["range"] = float(options["distance"])
    if options.get("backplanes"):
        from thermal.geometry import from_backplanes

        geometry = from_backplanes(options["backplanes"])
        ifov = ifov or options.get("ifov")
    elif options.get("kernels"):
        from thermal.geometry import jiram_spice_geometry
        from thermal.io import InputError

        if fmt != "jiram" or image_kind(observation) != "bands":
            raise InputError(path, "--kernels: SPICE geometry is computed for JIRAM imager frames")
        geometry = jiram_spice_geometry(observation, os.path.abspath(options["kernels"]))
    if not image_kind(observation):
        return None
    spots = detect_hotspots(
        observation,
        nsigma=options.get("nsigma", 5.0),
        saturation=options.get("saturation"),
        geometry=geometry,
        label_geometry=label_geometry,
        ifov=ifov,
        max_emission_angle=options.get("max_emission_angle", 80.0),
        temperature_range=options.get("temperature_range") or (300.0, 1400.0),
        fit=bool(options.get("fit")),
        model=options.get("model", "auto"),
    )
    time_attr = next(
        (observation.attrs[k] for k in ("jiram_start_time", "time", "date_obs")
         if k in observation.attrs), "")  # fmt: skip
    spots.attrs["time_coverage_start"] = _iso_time(time_attr)
    spots.attrs.update(_inherited(observation.attrs, spots.attrs))
    return spots


_VARIABLE_ATTRIBUTES = ("units", "long_name", "standard_name", "original_units",
                        "coverage_content_type", "_FillValue")  # fmt: skip
"""An image's attributes that describe its values, not the product: not global ones."""


def _inherited(observation: dict, result: dict) -> dict:
    """The observation's attributes a result made from it keeps: what it says of the
    instrument and product, not what describes its own file (title, summary, history, ...)."""
    from thermal.io.results import FILE_ATTRIBUTES

    return {k: v for k, v in observation.items() if k not in result and k not in FILE_ATTRIBUTES}


def _detect_ao(path: str, options: dict):
    """Spots of an adaptive-optics image of Io's disk and their aperture photometry."""
    import numpy as np

    from thermal.detect import find_disk_hotspots
    from thermal.detect.photometry import aperture_photometry
    from thermal.detect.pipeline import describe
    from thermal.io.ao import read_ao_image

    image = read_ao_image(
        path,
        distance=options.get("distance"),
        **_bounds(options),
    )
    # on the numbers (Jy per pixel: no radiance, so no brightness temperature)
    found = find_disk_hotspots(
        image.values, nsigma=options.get("nsigma", 5.0), psf_fwhm=image.attrs.get("psf_fwhm")
    )
    centre = (found.attrs["disk_centre_line"], found.attrs["disk_centre_sample"])
    reference = centre if np.all(np.isfinite(centre)) else None  # matches bands by the disk
    # the lit disk's profile off first: an annulus on a limb-darkened disk (or over its edge)
    # misjudges the background under the aperture by more than a faint spot's flux
    method = "disk" if reference is not None else "median"
    photometry = aperture_photometry(image, found, reference=reference, background=method)
    spots = photometry.assign(
        {name: found[name].drop_vars([c for c in found[name].coords if c != "hotspot"])
         for name in ("npix", "peak_radiance", "snr") if name in found}
    ).rename({"peak_radiance": "peak_flux_density", "snr": "detection_snr"})  # fmt: skip
    if "peak_flux_density" in spots:
        spots["peak_flux_density"].attrs.update(units="Jy", long_name="peak pixel flux density")
    image_attrs = {k: v for k, v in image.attrs.items() if k not in _VARIABLE_ATTRIBUTES}
    spots.attrs.update(
        {k: v for k, v in image_attrs.items() if isinstance(v, str | int | float)},
        geometry_source="none",
        source=os.path.basename(path),
        **{k: found.attrs[k] for k in ("disk_centre_line", "disk_centre_sample", "disk_radius")},
    )
    # time_coverage_*: the writer's, from the image's time coordinate the spots carry
    spots.attrs.update(describe(spots))
    return spots


def _iso_time(value) -> str:
    """An ISO 8601 UTC time without zone (``2017-02-02T11:40:06.123``), or "" if unknown."""
    import datetime

    text = str(value).strip()
    if not text:
        return ""
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds")


def _result_attrs(output: str) -> dict | None:
    """The global attributes of a result file, or None when there is none (or it is broken)."""
    if not os.path.isfile(output):
        return None
    try:
        import netCDF4

        from thermal.io.results import signals_deferred

        with signals_deferred(), netCDF4.Dataset(output) as nc:
            return {k: nc.getncattr(k) for k in nc.ncattrs()}
    except (OSError, RuntimeError):
        return None


def load_result(output: str):
    import xarray as xr

    from thermal.io.results import signals_deferred

    with signals_deferred(), xr.open_dataset(output, engine="netcdf4") as ds:
        return ds.load()


def detection_summary(spots) -> dict:
    import numpy as np

    def values(name):
        return spots[name].values if name in spots else np.zeros(spots.sizes["hotspot"])

    # no geometry, no flux: unknown, not zero
    n = spots.sizes["hotspot"]
    flux = (
        spots["spectral_flux"].values.astype(float)
        if "spectral_flux" in spots
        else np.full(n, np.nan)
    )
    known = np.isfinite(flux)
    bands = (
        np.broadcast_to(spots["band"].values.astype(str), (n,))
        if "band" in spots.variables
        else np.full(n, "")
    )
    # fluxes of different bands are not added: a total per band
    by_band = {str(b): float(flux[known & (bands == b)].sum()) for b in np.unique(bands[known])}
    saturated = np.asarray(values("saturated"), dtype=bool)
    # a total with a saturated spot in it is a lower limit, as that spot's flux is
    limited = sorted({str(b) for b in bands[known & saturated]})
    brightest = int(np.argmax(np.where(known, flux, -np.inf))) if known.any() else None
    return {
        "spots": int(spots.sizes["hotspot"]),
        "saturated": int(np.count_nonzero(saturated)),
        "limb": int(np.count_nonzero(values("limb"))),
        "brightest_flux": float(flux[brightest]) if brightest is not None else float("nan"),
        "brightest_saturated": bool(brightest is not None and saturated[brightest]),
        "brightest_band": str(bands[brightest]) if brightest is not None else "",
        "total_flux": next(iter(by_band.values())) if len(by_band) == 1 else float("nan"),
        "total_flux_by_band": by_band,
        "total_flux_lower_limit": limited,
        "geometry": str(spots.attrs.get("geometry_source", "none")),
        "what": f"{int(spots.sizes['hotspot'])} hot spots",
    }


CATALOGUE = "hotspots.csv"
"""The name of a batch's catalogue of hot spots (:func:`write_catalogue`)."""


def _with_columns(ds, columns, sides):
    """``ds`` with every one of ``columns`` (dim ``detection``): one it lacks is empty, in the
    type the other of ``sides`` gives it (NaN, NaT, False or "")."""
    import numpy as np

    n = ds.sizes["detection"]
    for name in columns:
        if name in ds.data_vars:
            continue
        kind = next(side[name].dtype.kind for side in sides if name in side.data_vars)
        empty = {"f": np.nan, "M": np.datetime64("NaT", "ns"), "b": False}
        if kind in "iu":
            kind, empty["f"] = "f", np.nan
        value = np.full(n, empty[kind]) if kind in empty else np.full(n, "", dtype=object)
        ds = ds.assign({name: ("detection", value)})
    return ds


def write_photometry_table(rows: list[dict], path: str) -> int:
    """The photometry of a batch's adaptive-optics images (the rows of :func:`detect_file`)
    as one table at ``path``, which ``thermal fit`` reads; returns how many images. Raises
    ValueError when there is none."""
    from thermal.detect.photometry import photometry_table

    done = [r for r in rows if not r["error"] and not r.get("no_image")]
    images = [load_result(r["output"]) for r in done]
    images = [ds for ds in images if "flux_density" in ds]
    if not images:
        raise ValueError("no adaptive-optics image among the inputs")
    photometry_table(images, path)
    return len(images)


def write_catalogue(rows: list[dict], folder: str) -> str | None:
    """Add every detection of a batch (the rows of :func:`detect_file`) to the catalogue
    :data:`CATALOGUE` in ``folder``: an earlier catalogue there keeps its rows and ids, except
    the rows of this batch's inputs, which the new detections replace (a re-run adds nothing
    twice). Concurrent runs into one folder take turns (an advisory lock), so none loses the
    other's rows. Returns the path, or None when no input gave hot spots."""
    import xarray as xr

    from thermal.catalogue import assign_ids, read_catalogue_csv, write_catalogue_csv
    from thermal.detect.pipeline import detection_table

    done = [r for r in rows if not r["error"] and not r.get("no_image")]
    if not done:
        return None
    frames = [load_result(r["output"]) for r in done]
    detections = detection_table(frames)
    path = os.path.join(folder, CATALOGUE)
    with _claim(path):
        previous = read_catalogue_csv(path) if os.path.isfile(path) else None
        catalogue = assign_ids(detections, previous)
        if previous is not None and previous.sizes["detection"]:
            ours = {str(s) for s in catalogue["source"].values}
            others = [i for i, s in enumerate(previous["source"].values) if str(s) not in ours]
            if others:
                earlier = previous.isel(detection=others)
                # this batch's rows as the file holds them (times, empty cells), to join alike
                fresh = os.path.join(folder, f".{CATALOGUE}.{os.getpid()}.new")
                try:
                    write_catalogue_csv(fresh, catalogue)
                    catalogue = read_catalogue_csv(fresh)
                finally:
                    with contextlib.suppress(OSError):
                        os.remove(fresh)
                # every column of either: a column one side lacks is empty there (a file
                # written before a column existed keeps it, for its rows, empty)
                columns = [*catalogue.data_vars, *(v for v in earlier.data_vars
                                                   if v not in catalogue.data_vars)]  # fmt: skip
                earlier, catalogue = (_with_columns(ds, columns, (earlier, catalogue))
                                      for ds in (earlier, catalogue))  # fmt: skip
                catalogue = xr.concat(
                    [earlier[columns], catalogue[columns]], "detection", data_vars="all",
                    coords="minimal", compat="override", join="outer",
                )  # fmt: skip
        write_catalogue_csv(path, catalogue)
    return path
