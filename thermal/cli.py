"""The ``thermal`` command line: argument parsing and orchestration only, no science.

Subcommands: ``fit`` (observation files -> CF netCDF results, resumable, optionally on a dask
cluster), ``detect`` (images and cubes -> hot spots and a catalogue, the same way), ``info``,
``plot``, ``simulate`` and ``bands``. Exit codes: 0 success, 1 when some
input failed (the others are still written), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import logging
import os
import shlex
import signal
import sys
import time
import traceback

from thermal import batch

log = logging.getLogger("thermal")


class UsageError(Exception):
    """A command-line mistake: reported in one line, exit code 2."""


class Terminated(BaseException):
    """SIGTERM, raised in the main thread like KeyboardInterrupt for SIGINT (exit code 143)."""


_STOPPED: list[int] = []
"""Signals received (SIGINT, SIGTERM): the batch loop stops at the next input even when the
exception a handler raised was swallowed (Python drops exceptions raised inside finalizers)."""


def _on_signal(signum, frame):
    _STOPPED.append(signum)
    if signum == signal.SIGTERM:
        raise Terminated()
    raise KeyboardInterrupt()


def _check_stopped() -> None:
    if _STOPPED:
        if _STOPPED[-1] == signal.SIGTERM:
            raise Terminated()
        raise KeyboardInterrupt()


# ------------------------------------------------------------------------------------------
# thermal bands


def _cmd_bands(args: argparse.Namespace) -> int:
    from thermal import bands

    header = ("name", "centre_um", "width_um", "range_um", "kind", "provenance", "instrument")
    rows = []
    for name in bands.names():
        band = bands.get(name)
        lo, hi = band.range
        rows.append(
            (
                name,
                f"{band.centre:.4f}",
                f"{band.width:.4f}",
                f"{lo:.4f}-{hi:.4f}",
                band.kind,
                band.provenance,
                band.instrument,
            )
        )
    _print_table(header, rows)
    if args.verbose:
        print()
        for name in bands.names():
            print(f"{name}: {bands.get(name).reference}")
    return 0


def _print_table(header, rows, file=None) -> None:
    file = file or sys.stdout
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(), file=file)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=file)


# ------------------------------------------------------------------------------------------
# thermal fit: planning (inputs -> outputs), one task per input, summary


class _Progress:
    """Progress over input files on stderr (tqdm; only when stderr is a terminal)."""

    def __init__(self, total: int, enabled: bool):
        from tqdm import tqdm

        self.bar = tqdm(
            total=total, unit="file", file=sys.stderr, leave=False, dynamic_ncols=True,
            disable=not (enabled and sys.stderr.isatty()),
        )  # fmt: skip

    def update(self, name: str) -> None:
        self.bar.set_postfix_str(os.path.basename(name), refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _report(row: dict, debug: bool) -> None:
    if not row["error"]:
        what = row.get("what") or f"{row.get('spectra', 0)} spectra fitted"
        what = "resumed" if row.get("skipped") else what
        log.info(f"{row['input']}: {what} in {row.get('seconds', 0.0):.2f} s -> {row['output']}")
    for line in row.get("warnings", []):
        log.warning(line)
    if row["error"]:
        log.error(row["error"])
        if debug and row.get("traceback"):
            log.error(row["traceback"].rstrip())


def _compile_ahead(profile: bool, workers: bool) -> None:
    """Compile the blackbody fit kernels when the cache lacks them (the first run after
    installing). For this process, in background processes as cores allow (the profile
    kernel first when asked, then the fit kernel's stages): the run reads, detects and
    compiles the rest meanwhile (:mod:`thermal._kernels.ahead`). For a local cluster's
    workers, which share the cache, here and now, before they start: every worker would
    otherwise compile them on its own, all at once."""
    from thermal._kernels import ahead, fit

    kernels = [fit.fit_batch]
    if profile:
        from thermal._kernels import profile as profile_kernels

        # the profile kernel, the longest single compile, first: it gets the free core and
        # the fit's stages compile beside it (on 2 cores a first run took 26-27 s, not 31 s)
        kernels.insert(0, profile_kernels.profile_batch)
    started = ahead.compile_ahead(*kernels)
    if workers:
        missing = [k for k in kernels if not ahead.is_compiled(k)]
        if missing:
            log.info("compiling the fit kernels for the workers (once per installation)")
        # what compiles here first, then what waits for the background processes
        for kernel in sorted(missing, key=lambda k: bool(ahead.background(k))):
            kernel.warm()
    elif started:
        log.info("compiling the fit kernels in the background (once per installation)")


def _run(plan, task, options, progress, args, read_ahead=None) -> list[dict]:
    """The batch, serial or on dask (``--workers``, ``--scheduler``), reported as it goes."""

    def on_row(row: dict) -> None:
        progress.update(row["input"])
        _report(row, options.get("debug", False))

    if args.workers is not None or args.scheduler:
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise UsageError(
                "--workers/--scheduler need dask.distributed: pip install 'io-thermal[dask]'"
            ) from None
        with _cluster_quiet_once_stopped():
            return batch.run_dask(plan, task, options, on_row, args.workers, args.scheduler)
    return batch.run_serial(plan, task, options, on_row, _check_stopped, read_ahead)


class _QuietOnceStopped(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _STOPPED


@contextlib.contextmanager
def _cluster_quiet_once_stopped():
    """After Ctrl-C or SIGTERM, dask.distributed's and tornado's loggers print nothing: the
    client's event loop, cut off mid-call, logs tracebacks of its own cancellation (a race in
    distributed's ``sync``) that would bury the one line saying what happened."""
    quiet = _QuietOnceStopped()
    targets = [logging.lastResort] if logging.lastResort is not None else []
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if name.startswith(("distributed", "tornado")) and isinstance(logger, logging.Logger):
            targets += [logger, *logger.handlers]
    for target in targets:
        target.addFilter(quiet)
    try:
        yield
    finally:
        for target in targets:
            target.removeFilter(quiet)


def _format_power(value: float, fraction: bool) -> str:
    if value != value:  # NaN
        return "-"
    if fraction:
        return f"{value:.4g} W m-2"
    return f"{value / 1e9:.4g} GW"


def _print_summary(rows: list[dict], elapsed: float) -> None:
    header = ("input", *batch.COUNTS, "hottest_T_K", "total_power", "note")
    table = []
    totals = dict.fromkeys(batch.COUNTS, 0)
    for row in rows:
        name = row["input"]
        if row["error"]:
            table.append((name, *("-",) * (len(header) - 2), "FAILED (see above)"))
            continue
        for key in batch.COUNTS:
            totals[key] += row[key]
        t = row["hottest_temperature"]
        notes = [n for n in (row.get("note", ""), "resumed" if row["skipped"] else "") if n]
        table.append(
            (
                name,
                *(str(row[key]) for key in batch.COUNTS),
                "-" if t != t else f"{t:.1f}",
                _format_power(row["total_power"], row.get("power_is_fraction", False)),
                "; ".join(notes),
            )
        )
    print()
    _print_table(header, table)
    failed = sum(1 for r in rows if r["error"])
    counts = ", ".join(f"{totals[k]} {k.replace('_', ' ')}" for k in batch.COUNTS[1:])
    print(
        f"\n{len(rows) - failed} of {len(rows)} inputs read ({totals['spectra']} spectra: "
        f"{counts}) in {elapsed:.1f} s; {failed} inputs failed."
    )


def _registered_bands() -> list:
    """Bands registered in this process (by a script calling :func:`main`), handed to every
    worker so that they read the same band names."""
    if "thermal.bands" not in sys.modules:
        return []
    from thermal import bands

    return bands.registered()


def _reader_options(args: argparse.Namespace) -> dict:
    """--unit, --distance, --columns, --band-integrated and --relative-uncertainty, checked
    (ValueError) before any input is read."""
    from thermal.io.tables import check_unit, column_mapping

    options = {}
    if args.unit is not None:
        check_unit(args.unit, "--unit")
        options["unit"] = args.unit
    if args.distance is not None:
        if not (args.distance == args.distance and 0 < args.distance < float("inf")):
            raise ValueError(f"--distance must be finite and > 0 [m]; got {args.distance}")
        options["distance"] = args.distance
    if args.columns is not None:
        column_mapping(args.columns)
        options["columns"] = args.columns
    if args.radiance_unit is not None:
        options["band_integrated"] = batch.RADIANCE_UNITS[args.radiance_unit]
    fraction = getattr(args, "relative_uncertainty", None)
    if fraction is not None:
        if not 0 < fraction < float("inf"):
            raise ValueError(f"--relative-uncertainty must be finite and > 0; got {fraction}")
        options["relative_uncertainty"] = fraction
    return options


_SIZE_SUFFIXES = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def _memory_size(text: str) -> int:
    """Bytes from ``--max-memory`` text: a number with an optional K, M, G or T (binary)."""
    value = str(text).strip().upper().removesuffix("B").removesuffix("I")
    suffix = value[-1:] if value[-1:] in _SIZE_SUFFIXES else ""
    try:
        number = float(value[: len(value) - len(suffix)])
    except ValueError:
        raise ValueError(f"--max-memory must be bytes, e.g. 4G or 500M; got {text!r}") from None
    if not (number > 0 and number < float("inf")):
        raise ValueError(f"--max-memory must be > 0; got {text!r}")
    return int(number * _SIZE_SUFFIXES[suffix])


def _bounds(args: argparse.Namespace) -> dict:
    """--timeout and --max-memory, checked."""
    if args.timeout is not None and not (0 < args.timeout < float("inf")):
        raise ValueError(f"--timeout must be finite and > 0 [s]; got {args.timeout}")
    memory = None if args.max_memory is None else _memory_size(args.max_memory)
    return {"timeout": args.timeout, "max_memory": memory}


def _cmd_fit(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be >= 1; got {args.workers}")
    blackbody = str(args.model).strip().upper() != "FLOW"  # (the flow model has its kernels)
    if blackbody and args.workers is None and not args.scheduler:
        _compile_ahead(args.intervals == "profile", workers=False)  # first, before the imports
    from thermal.layout import check_store
    from thermal.models import get_model

    try:
        chosen = get_model(args.model, args.temperature_range)
        store = ",".join(sorted(check_store(args.store)))
        if not 0.0 < args.max_emission_angle <= 90.0:
            raise ValueError(
                f"--max-emission-angle must be in (0, 90] degrees; got {args.max_emission_angle}"
            )
        if args.intervals == "profile" and not hasattr(chosen, "n"):
            raise ValueError(
                "--intervals profile needs a fixed blackbody model (--model 1T, 2T or 3T)"
            )
        reader_options = _reader_options(args)
        bounds = _bounds(args)
    except ValueError as error:
        raise UsageError(str(error)) from None
    inputs = batch.normalise_inputs(args.inputs)
    try:
        plan = batch.plan_outputs(inputs, args.output)
    except ValueError as error:
        raise UsageError(f"-o {error}") from None
    folders = sorted({os.path.dirname(os.path.abspath(o)) for _, o in plan})
    for folder in folders:
        problem = batch.prepare_directory(folder)
        if problem:
            log.error(f"{folder}: {problem}")
            return 1
    options = {
        **bounds,
        "reader": reader_options,
        "intervals": args.intervals,
        "store": store,
        "temperature_range": args.temperature_range,
        "max_emission_angle": args.max_emission_angle,
        "bands": _registered_bands(),
        "overwrite": args.overwrite,
        "compress": args.compress,
        "debug": args.debug,
        "command": "thermal " + " ".join(shlex.quote(a) for a in args.argv),
    }
    to_fit = args.overwrite or not all(os.path.exists(o) for _, o in plan)
    local_cluster = args.workers is not None and not args.scheduler
    if blackbody and local_cluster and to_fit and importlib.util.find_spec("distributed"):
        _compile_ahead(args.intervals == "profile", workers=True)  # (a scheduler's: their own)
    progress = _Progress(len(plan), not args.quiet)
    try:
        task = functools.partial(batch.fit_file, model=args.model)
        rows = _run(plan, task, options, progress, args, batch.fit_read_ahead)
    finally:
        progress.close()
    if not args.quiet:
        _print_summary(rows, time.perf_counter() - started)
    return 1 if any(r["error"] for r in rows) else 0


# ------------------------------------------------------------------------------------------
# thermal detect


def _print_detect_summary(rows: list[dict], elapsed: float, catalogue: str | None) -> None:
    header = ("input", "spots", "saturated", "limb", "brightest", "total_flux", "geometry")
    table = []
    for row in rows:
        if row["error"]:
            table.append((row["input"], "-", "-", "-", "-", "-", "FAILED (see above)"))
            continue
        if row.get("no_image"):
            table.append((row["input"], "-", "-", "-", "-", "-", "no image: use thermal fit"))
            continue
        table.append(
            (
                row["input"],
                str(row["spots"]),
                str(row["saturated"]),
                str(row["limb"]),
                _format_brightest(row),
                _format_totals(
                    row.get("total_flux_by_band", {}), row.get("total_flux_lower_limit", ())
                ),
                row["geometry"] + ("; resumed" if row["skipped"] else ""),
            )
        )
    print()
    _print_table(header, table)
    failed = sum(1 for r in rows if r["error"])
    skipped = sum(1 for r in rows if r.get("no_image"))
    spots = sum(r.get("spots", 0) for r in rows if not r["error"])
    where = f"; catalogue {catalogue}" if catalogue else ""
    print(
        f"\n{len(rows) - failed - skipped} of {len(rows)} inputs searched ({spots} hot spots) "
        f"in {elapsed:.1f} s; {skipped} hold no image; {failed} failed{where}."
    )


def _format_flux(value: float, lower_limit: bool = False) -> str:
    """A spectral flux [W um-1] in GW um-1; a saturated spot's is a lower limit (>=)."""
    if value != value:
        return "-"
    return (">=" if lower_limit else "") + f"{value / 1e9:.4g} GW um-1"


def _format_brightest(summary: dict) -> str:
    """The brightest spot's flux, a lower limit when saturated, and its band when the input
    has several."""
    text = _format_flux(summary["brightest_flux"], summary.get("brightest_saturated", False))
    several = len(summary.get("total_flux_by_band", {})) > 1
    band = summary.get("brightest_band", "")
    return f"{text} ({band})" if several and band else text


def _format_totals(by_band: dict, lower_limits=None) -> str:
    """Total spectral flux per band (fluxes of different bands are not added); ``>=`` where a
    saturated spot is in the total."""
    if not by_band:
        return "-"
    mark = {band: ">=" if band in (lower_limits or ()) else "" for band in by_band}
    if len(by_band) == 1:
        ((band, value),) = by_band.items()
        return _format_flux(value, bool(mark[band]))
    return (
        "; ".join(f"{band} {mark[band]}{value / 1e9:.4g}" for band, value in by_band.items())
        + " GW um-1"
    )


def _cmd_detect(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        if args.workers is not None and args.workers < 1:
            raise ValueError(f"--workers must be >= 1; got {args.workers}")
        if not args.nsigma > 0:
            raise ValueError(f"--nsigma must be > 0; got {args.nsigma}")
        if args.saturation is not None and not args.saturation > 0:
            raise ValueError(f"--saturation must be > 0 [W m-2 sr-1 um-1]; got {args.saturation}")
        if not 0.0 < args.max_emission_angle <= 90.0:
            raise ValueError(
                f"--max-emission-angle must be in (0, 90] degrees; got {args.max_emission_angle}"
            )
        if args.temperature_range is not None:
            low, high = args.temperature_range
            if not 0 < low < high:
                raise ValueError(f"--temperature-range needs 0 < LO < HI [K]; got {low} {high}")
        if args.kernels and not os.path.isfile(args.kernels):
            raise ValueError(f"--kernels {args.kernels}: no such file")
        if args.kernels and args.backplanes:
            raise ValueError("give --kernels or --backplanes, not both")
        if args.backplanes and not os.path.isfile(args.backplanes):
            raise ValueError(f"--backplanes {args.backplanes}: no such file")
        bounds = _bounds(args)
        if args.distance is not None and not (0 < args.distance < float("inf")):
            raise ValueError(f"--distance must be finite and > 0 [m]; got {args.distance}")
        if args.model != "auto":
            from thermal.models import get_model

            if not args.fit:
                raise ValueError("--model is the model of --fit; give --fit too")
            get_model(args.model)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.output is not None and os.path.exists(args.output) and not os.path.isdir(args.output):
        raise UsageError(f"-o {args.output}: thermal detect writes into a directory")
    folder = args.output or "."
    inputs = batch.normalise_inputs(args.inputs)
    try:
        plan = batch.plan_outputs(inputs, folder, batch.HOTSPOTS_SUFFIX, single=False)
    except ValueError as error:
        raise UsageError(f"-o {error}") from None
    problem = batch.prepare_directory(folder)
    if problem:
        log.error(f"{folder}: {problem}")
        return 1
    options = {
        **bounds,
        "nsigma": args.nsigma,
        "saturation": args.saturation,
        "max_emission_angle": args.max_emission_angle,
        "temperature_range": args.temperature_range,
        "radiance_unit": args.radiance_unit,
        "kernels": args.kernels,
        "backplanes": args.backplanes,
        "distance": args.distance,
        "fit": args.fit,
        "model": args.model,
        "overwrite": args.overwrite,
        "debug": args.debug,
        "command": "thermal " + " ".join(shlex.quote(a) for a in args.argv),
    }
    progress = _Progress(len(plan), not args.quiet)
    try:
        rows = _run(plan, batch.detect_file, options, progress, args)
    finally:
        progress.close()
    if args.table:
        try:
            n = batch.write_photometry_table(rows, args.table)
            log.info(f"{args.table}: photometry of {n} images")
        except Exception as error:
            log.error(f"{args.table}: not written: {batch.first_line(error)}")
            rows.append({"input": batch.CATALOGUE, "error": "table not written", "skipped": False})
    catalogue = None
    try:
        catalogue = batch.write_catalogue(rows, folder)
    except Exception as error:  # the per-input files are written; say what failed
        log.error(
            f"{os.path.join(folder, batch.CATALOGUE)}: not written: {batch.first_line(error)}"
        )
        if args.debug:
            log.error(traceback.format_exc().rstrip())
        rows.append({"input": batch.CATALOGUE, "error": "catalogue not written", "skipped": False})
    if not args.quiet:
        _print_detect_summary([r for r in rows if r["input"] != batch.CATALOGUE],
                              time.perf_counter() - started, catalogue)  # fmt: skip
    return 1 if any(r["error"] for r in rows) else 0


# ------------------------------------------------------------------------------------------
# thermal info, plot, simulate


def _is_catalogue(path: str) -> bool:
    """True for a ``hotspots.csv`` of thermal detect (its header starts with hotspot_id)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.readline().startswith("hotspot_id,")
    except OSError:
        return False


def _info_hotspots(path: str, spots, verbose: bool) -> int:
    """``thermal info`` of a ``<name>.hotspots.nc``."""
    summary = batch.detection_summary(spots)
    print(f"{path}: hot spots of {spots.attrs.get('product_id', '?')} (thermal detect)")
    print(
        f"  {summary['spots']} spots, {summary['saturated']} saturated, {summary['limb']} "
        f"beyond the limb limit; geometry: {summary['geometry']}"
    )
    print(
        f"  brightest {_format_brightest(summary)}, total "
        f"{_format_totals(summary['total_flux_by_band'], summary['total_flux_lower_limit'])}"
    )
    if "band" in spots:
        if spots["band"].ndim == 0:  # an AO image: one band for every spot
            counts = {str(spots["band"].values): spots.sizes["hotspot"]}
        else:
            bands = spots["band"].values.astype(str)
            counts = {b: int((bands == b).sum()) for b in sorted(set(bands))}
        print("  bands: " + ", ".join(f"{b or '-'} {n}" for b, n in counts.items()))
    for key in ("source", "power_temperature_range", "thermal_version", "date_created"):
        if key in spots.attrs:
            print(f"  {key}: {spots.attrs[key]}")
    if verbose:
        print(spots)
    return 0


def _info_catalogue(path: str, verbose: bool) -> int:
    """``thermal info`` of a ``hotspots.csv`` catalogue."""
    import numpy as np

    from thermal.catalogue import read_catalogue_csv

    catalogue = read_catalogue_csv(path)
    ids = catalogue["hotspot_id"].values.astype(str)
    names = catalogue["name"].values.astype(str) if "name" in catalogue else np.array([])
    known = ids[ids != ""]
    print(f"{path}: hot-spot catalogue of thermal detect")
    print(
        f"  {ids.size} detections, {len(set(known))} hot spots with an id "
        f"({len(set(names[names != '']))} named), {int((ids == '').sum())} without a position"
    )
    sources = catalogue["source"].values.astype(str) if "source" in catalogue else []
    print(f"  {len(set(sources))} frames")
    if verbose:
        print(catalogue)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return _info(args)
        finally:
            for line in batch.warning_lines(args.file, caught):
                log.warning(line)


def _info(args: argparse.Namespace) -> int:
    import numpy as np

    from thermal.io import InputError, detect_format, open_observation
    from thermal.layout import spectral_dim_and_kind

    path = args.file
    try:
        if path.lower().endswith(".csv") and _is_catalogue(path):
            return _info_catalogue(path, args.verbose)
        fmt = detect_format(path)
        if fmt == "netcdf":
            from thermal.io.netcdf import read_dataset

            raw = read_dataset(path)
            if "hotspot" in raw.dims and "thermal_detect_settings" in raw.attrs:
                return _info_hotspots(path, raw, args.verbose)
            if "status" in raw and ("temperature" in raw or "power" in raw):
                info = batch.summarise_result(raw)
                print(f"{path}: fit result ({raw.attrs.get('thermal_model', '?')} model)")
                print("  " + ", ".join(f"{k.replace('_', ' ')} {info[k]}" for k in batch.COUNTS))
                t = info["hottest_temperature"]
                print(f"  hottest T {t:.1f} K" if t == t else "  hottest T -")
                print(
                    "  total power "
                    f"{_format_power(info['total_power'], info['power_is_fraction'])}"
                    + (f" ({info['note']})" if info["note"] else "")
                )
                flags = raw["status"].attrs.get("flag_meanings", "").split()
                values = np.atleast_1d(raw["status"].attrs.get("flag_values", []))
                counts = {int(v): int((raw["status"].values == v).sum()) for v in values}
                for value, meaning in zip(values, flags, strict=False):
                    if counts.get(int(value)):
                        print(f"    status {int(value)} {meaning}: {counts[int(value)]}")
                for key in ("source", "history", "thermal_version", "date_created"):
                    if key in raw.attrs:
                        print(f"  {key}: {raw.attrs[key]}")
                if args.verbose:
                    print(raw)
                return 0
        ds = open_observation(path)
    except InputError as error:
        return _input_failed(error, args)
    spectral, kind = spectral_dim_and_kind(ds)
    dims = [d for d in ds[kind].dims if d != spectral]
    n = int(np.prod([ds.sizes[d] for d in dims])) if dims else 1
    print(
        f"{path}: observation ({ds.attrs.get('thermal_input_format')}), "
        f"product {ds.attrs.get('product_id', '?')}"
    )
    print(
        f"  {kind} [{ds[kind].attrs.get('units')}] (originally "
        f"{ds[kind].attrs.get('original_units', ds[kind].attrs.get('units'))})"
    )
    print(f"  {n} spectra over ({', '.join(f'{d}={ds.sizes[d]}' for d in dims) or 'none'})")
    if spectral == "wavelength":
        w = ds["wavelength"].values
        print(f"  {w.size} wavelengths {w.min():.4g}-{w.max():.4g} um")
    else:
        print(f"  bands: {', '.join(map(str, ds['band'].values))}")
    finite = np.isfinite(ds[kind].values)
    print(f"  finite values: {int(finite.sum())} of {finite.size}")
    for name in ("pixel_area", "emission_angle", "distance"):
        if name in ds.variables:
            v = np.asarray(ds[name].values, dtype=float)
            print(f"  {name}: {np.nanmin(v):.4g}-{np.nanmax(v):.4g} {ds[name].attrs.get('units')}")
    if args.verbose:
        print(ds)
    return 0


def _input_failed(error: Exception, args: argparse.Namespace) -> int:
    """Exit status 1 for an input that could not be read: its one line, and with --debug the
    traceback as well."""
    log.error(str(error))
    if getattr(args, "debug", False):
        log.error(traceback.format_exc().rstrip())
    return 1


def _cmd_plot(args: argparse.Namespace) -> int:
    from thermal.io import InputError
    from thermal.plot import plot_hotspots, plot_light_curves, plot_result

    if args.max_spectra < 1:
        raise UsageError(f"--max-spectra must be >= 1; got {args.max_spectra}")
    output = args.output or os.path.splitext(args.result)[0] + ".png"
    if not os.path.splitext(output)[1]:
        output += ".png"  # what matplotlib writes for a name without an extension
    try:
        if not os.path.exists(args.result):
            raise InputError(args.result, "no such file")
        if args.result.lower().endswith(".csv"):
            plot_light_curves(args.result, output)
        elif args.result.endswith(batch.HOTSPOTS_SUFFIX):
            plot_hotspots(args.result, output)
        else:
            plot_result(args.result, output, max_spectra=args.max_spectra)
    except InputError as error:
        return _input_failed(error, args)
    print(output)
    return 0


def _simulate_image(args: argparse.Namespace) -> int:
    """``thermal simulate image``: a JIRAM-layout frame or an AO FITS image with its truth."""
    from thermal.detect import scene
    from thermal.io import write_results
    from thermal.simulate import SYNTHETIC_KEYWORDS, SYNTHETIC_LEVEL

    if args.spots < 0:
        raise UsageError(f"--spots must be >= 0; got {args.spots}")
    _check_seed(args)
    if args.product is not None and (
        not args.product or os.path.basename(args.product) != args.product
        or args.product in (".", "..")
    ):  # fmt: skip
        raise UsageError(f"--product must be a file stem, not a path; got {args.product!r}")
    if args.saturation is not None and not args.saturation > 0:
        raise UsageError(f"--saturation must be > 0; got {args.saturation}")
    options = {"spots": args.spots, "disk": args.disk, "saturation": args.saturation}
    try:
        if args.kind == "jiram":
            product = args.product or "JIR_IMG_RDR_2017033T114006_V99"
            label, _, truth = scene.write_jiram_frame(
                args.output, product, l_scene=dict(options), m_scene=dict(options),
                seed=args.seed,
            )  # fmt: skip
            written = label
            truth_path = os.path.join(args.output, product + ".truth.nc")
        else:
            os.makedirs(args.output, exist_ok=True)
            stem = args.product or f"ao_{args.filter}"
            written = os.path.join(args.output, stem + ".fits")
            ao_options = {k: v for k, v in options.items() if k != "disk"}
            written, truth = scene.write_ao_image(
                written, filter_name=args.filter, seed=args.seed, **ao_options
            )
            truth_path = os.path.join(args.output, stem + ".truth.nc")
    except ValueError as error:
        raise UsageError(str(error)) from None
    truth = truth.drop_vars([v for v in truth.data_vars if truth[v].ndim > 1])
    truth = truth.drop_dims([d for d in truth.dims if d != "hotspot"], errors="ignore")
    truth.attrs.update(keywords=SYNTHETIC_KEYWORDS, processing_level=SYNTHETIC_LEVEL)
    write_results(
        truth,
        truth_path,
        history="thermal " + " ".join(shlex.quote(a) for a in args.argv),
        source=os.path.basename(written),
        title="truth of a synthetic image made by thermal simulate image",
        summary="The injected hot spots (positions, radiances, saturation) of a synthetic frame.",
    )
    print(written)
    print(truth_path)
    return 0


def _check_seed(args: argparse.Namespace) -> None:
    if args.seed < 0:
        raise UsageError(f"--seed must be an integer >= 0; got {args.seed}")


SIMULATE_MAX_SPECTRA = 10_000_000
"""Most spectra ``thermal simulate`` writes in one file (1e7 x 17 channels: ~3 GB of data)."""


def _cmd_simulate(args: argparse.Namespace) -> int:
    import numpy as np

    from thermal.io import write_results
    from thermal.simulate import observation

    if args.what == "image":
        return _simulate_image(args)
    _check_seed(args)
    if args.temperature is None or args.area is None:
        raise UsageError("give --temperature K... and --area M2... (or: thermal simulate image)")
    if (args.wavelength is None) == (args.bands is None):
        raise UsageError("give exactly one of --wavelength START STOP N and --bands NAME...")
    if len(args.temperature) != len(args.area):
        raise UsageError("--temperature and --area need the same number of values")
    if not 1 <= args.n <= SIMULATE_MAX_SPECTRA:
        raise UsageError(f"-n must be in [1, {SIMULATE_MAX_SPECTRA:,}]; got {args.n}")
    wavelength = None
    if args.wavelength is not None:
        start, stop, n = args.wavelength
        if not (0 < start < stop) or int(n) < 2 or int(n) != n:
            raise UsageError("--wavelength START STOP N needs 0 < START < STOP and integer N >= 2")
        wavelength = np.linspace(start, stop, int(n))
    try:
        ds = observation(
            args.temperature,
            args.area,
            wavelength=wavelength,
            bands=args.bands,
            n=args.n,
            noise=args.noise,
            seed=args.seed,
            pixel_area=args.pixel_area,
        )
    except ValueError as error:
        raise UsageError(str(error)) from error
    write_results(
        ds,
        args.output,
        history="thermal " + " ".join(shlex.quote(a) for a in args.argv),
        title="thermal synthetic observation",
        summary="Synthetic multi-temperature blackbody observation made by thermal simulate.",
    )
    print(args.output)
    return 0


# ------------------------------------------------------------------------------------------


def _batch_options(p: argparse.ArgumentParser, overwrite: str) -> None:
    """The options of a batch subcommand (fit, detect): dask, bounds, resume, messages."""
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--workers", type=int, metavar="N", help="a local dask cluster of N processes"
    )
    group.add_argument("--scheduler", metavar="ADDRESS", help="an existing dask scheduler")
    _bound_options(p)
    p.add_argument("--overwrite", action="store_true", help=overwrite)
    p.add_argument("--debug", action="store_true", help="print tracebacks of failures")
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no progress, no summary, errors only"
    )
    p.add_argument(
        "-v", "--verbose", action="store_true", help="also log each input's outcome and time"
    )


def _bound_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds one input may take to read (default 60); the reader runs in a child "
        "process that is killed at the deadline, so one broken file never stalls a batch",
    )
    p.add_argument(
        "--max-memory",
        metavar="BYTES",
        help="memory budget of reading one input, e.g. 4G (default: half the RAM); files "
        "that declare more are refused before anything is allocated",
    )


def _radiance_unit_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--radiance-unit",
        "--band-integrated",
        dest="radiance_unit",
        choices=tuple(batch.RADIANCE_UNITS),
        help="JIRAM imager products labelled W/(m^2*sr): per-um (alias relabelled; the "
        "default: the numbers are per-um radiance) or band-integrated (alias divide: divided "
        "by the band width, 0.290 um L, 0.4975 um M)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``thermal`` and its subcommands."""
    from thermal import __version__

    parser = argparse.ArgumentParser(
        prog="thermal", description="Thermal emission modelling of volcanic hot spots."
    )
    parser.add_argument("--version", action="version", version=f"thermal {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="print tracebacks of failures")

    p = sub.add_parser(
        "fit",
        help="fit every spectrum of every input file",
        description="Fit every spectrum of every input (netCDF, CSV/MRT tables, JIRAM PDS3 "
        "labels, JWST s3d FITS). One result file per input (<name>.fit.nc in -o DIR, default "
        "the current directory), or -o FILE.nc for a single input. Finished outputs are "
        "skipped (resume) unless --overwrite. Exit 0: all inputs fitted; 1: some failed; "
        "2: usage error.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="observation files")
    p.add_argument("-o", "--output", metavar="OUTPUT", help="result file (one input) or directory")
    p.add_argument(
        "--model",
        default="auto",
        help="auto (default: per spectrum the simplest of no source, 1T, 2T, 3T the data "
        "support, 150-2000 K), 1T, 2T, 3T or flow",
    )
    p.add_argument(
        "--temperature-range",
        type=float,
        nargs=2,
        metavar=("LO", "HI"),
        help="temperature bounds [K] of every blackbody component (default 150 2000 for auto, "
        "100 3000 for 1T, 2T, 3T)",
    )
    p.add_argument(
        "--intervals",
        choices=("linear", "profile"),
        default="linear",
        help="also write profile-likelihood intervals (temperature_lower/upper, power_lower/"
        "upper; ~10-20x the fit time) with 'profile' (default: linear uncertainties only)",
    )
    p.add_argument(
        "--max-emission-angle",
        type=float,
        default=80.0,
        metavar="DEG",
        help="limb limit [degree]: spectra seen beyond it get the status limb (default 80)",
    )
    p.add_argument(
        "--store",
        default="",
        metavar="WHAT",
        help="also write, comma-separated: model (best-fit spectra), covariance, input (a copy "
        "of the observed data); default: parameters, uncertainties, fit statistics, status",
    )
    p.add_argument(
        "--unit",
        metavar="UNIT",
        help="CSV tables: the unit of the band columns, overriding the table's '# units:' "
        "line (e.g. 'W sr-1 um-1', 'GW um-1 sr-1', 'Jy', 'mJy')",
    )
    p.add_argument(
        "--distance",
        type=float,
        metavar="M",
        help="observer-target distance [m] for flux densities in tables without a distance "
        "column, and for JIRAM/JWST products (overrides the label)",
    )
    p.add_argument(
        "--columns",
        metavar="FILE=NAME,...",
        help="CSV tables: file column names mapped to band names or layout names, e.g. "
        "Lp=nirc2_lp,Lp_err=nirc2_lp_uncertainty",
    )
    _radiance_unit_option(p)
    p.add_argument(
        "--relative-uncertainty",
        type=float,
        metavar="FRACTION",
        help="JIRAM spectrometer products, which carry no uncertainty: the 1-sigma uncertainty "
        "assumed, as a fraction of the radiance (0.05); it sets the chi-square, and so how many "
        "components the automatic model keeps (imager frames go to detection: not used)",
    )
    p.add_argument(
        "--compress", action="store_true", help="zlib level 1 (off: ~1.1x smaller, ~35x slower)"
    )
    _batch_options(p, "fit again the inputs whose output exists")
    p.set_defaults(func=_cmd_fit)

    p = sub.add_parser(
        "detect",
        help="find hot spots in images and cubes",
        description="Find the hot spots of every input that holds an image (JIRAM imager "
        "frames, cubes such as JWST s3d): position, background-subtracted radiance, viewing "
        "geometry, intensity, spectral radiant flux, and for one-band images the power range "
        "over --temperature-range. Writes DIR/<name>.hotspots.nc per input and DIR/hotspots.csv "
        "with every detection, matched to named Io hot spots and given ids kept over time. "
        "Finished outputs are skipped (resume) unless --overwrite. Exit 0: all inputs searched; "
        "1: some failed; 2: usage error.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="observation files")
    p.add_argument("-o", "--output", metavar="DIR", help="output directory (default .)")
    p.add_argument(
        "--nsigma", type=float, default=5.0, help="detection threshold [noise sigma] (5)"
    )
    p.add_argument(
        "--saturation",
        type=float,
        metavar="RADIANCE",
        help="saturation level [W m-2 sr-1 um-1]: spots with a pixel at or above it are "
        "flagged saturated (their radiance is a lower limit)",
    )
    p.add_argument(
        "--max-emission-angle",
        type=float,
        default=80.0,
        metavar="DEG",
        help="spots seen beyond it [degree] are flagged limb and get no flux (default 80)",
    )
    p.add_argument(
        "--temperature-range",
        type=float,
        nargs=2,
        metavar=("LO", "HI"),
        help="temperatures [K] over which one-band power is bounded (default 300 1400)",
    )
    _radiance_unit_option(p)
    p.add_argument(
        "--backplanes", metavar="FILE.nc", help="per-pixel latitude, longitude, "
        "emission_angle and range of the frame (netCDF)"
    )  # fmt: skip
    p.add_argument("--kernels", metavar="META.tm", help="SPICE meta-kernel for the geometry")
    p.add_argument(
        "--distance",
        type=float,
        metavar="M",
        help="observer-target distance [m]: JIRAM range (overrides the label), AO images "
        "without a DELTA header",
    )
    p.add_argument(
        "--table",
        metavar="FILE.csv",
        help="adaptive-optics images: write the aperture photometry of every spot in every "
        "band of the run as one table that thermal fit reads",
    )
    p.add_argument("--fit", action="store_true", help="cubes: fit each spot's spectrum")
    p.add_argument("--model", default="auto", help="the model of --fit (default auto)")
    _batch_options(p, "search again the inputs whose output exists")
    p.set_defaults(func=_cmd_detect)

    p = sub.add_parser("info", parents=[common], help="what an observation or result file holds")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-v", "--verbose", action="store_true", help="also print the Dataset")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser(
        "plot",
        parents=[common],
        help="a fit's spectra and residuals, a frame's hot spots or a catalogue's light curves",
    )
    p.add_argument(
        "result",
        metavar="RESULT",
        help="a result of thermal fit (spectra, fits, residuals), a <name>.hotspots.nc of "
        "thermal detect (the image with its spots) or its hotspots.csv (light curves)",
    )
    p.add_argument("-o", "--output", metavar="FIGURE.png", help="default: RESULT with .png")
    p.add_argument("-n", "--max-spectra", type=int, default=6, help="spectra to show (default 6)")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser(
        "simulate",
        parents=[common],
        help="a synthetic observation (spectra of a multi-temperature model, or an image)",
        description="Write a synthetic observation: sum of blackbodies A_k B(lambda, T_k), "
        "relative Gaussian noise. Example: thermal simulate --temperature 1200 450 --area "
        "0.5e6 60e6 --bands nirc2_kc nirc2_lp nirc2_ms -o obs.nc. 'thermal simulate image -o "
        "DIR' writes a JIRAM-layout frame (--kind ao: an adaptive-optics FITS image) of Io's "
        "disk with hot spots of known radiance (some touching, some saturated with "
        "--saturation) and DIR/<name>.truth.nc with the injected spots.",
    )
    p.add_argument(
        "what", nargs="?", choices=("spectra", "image"), default="spectra",
        help="spectra (default) or image",
    )  # fmt: skip
    p.add_argument(
        "--temperature", type=float, nargs="+", metavar="K", help="component temperatures [K]"
    )
    p.add_argument("--area", type=float, nargs="+", metavar="M2", help="component areas [m2]")
    p.add_argument(
        "--kind", choices=("jiram", "ao"), default="jiram", help="image: JIRAM frame or AO FITS"
    )
    p.add_argument("--spots", type=int, default=8, help="image: hot spots per frame half (8)")
    p.add_argument(
        "--disk", choices=("lit", "dark"), default="lit", help="image: Io's disk lit or dark"
    )
    p.add_argument(
        "--saturation", type=float, metavar="RADIANCE", help="image: clip at this level"
    )
    p.add_argument("--filter", default="Ms", help="image --kind ao: NIRC2 filter (Ms)")
    p.add_argument("--product", help="image: file stem")
    p.add_argument(
        "--wavelength",
        type=float,
        nargs=3,
        metavar=("START", "STOP", "N"),
        help="wavelength grid [um]",
    )
    p.add_argument("--bands", nargs="+", metavar="NAME", help="band names (thermal bands)")
    p.add_argument("-n", type=int, default=1, help="number of spectra (default 1)")
    p.add_argument("--noise", type=float, default=0.02, help="relative 1-sigma noise (0.02)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument(
        "--pixel-area",
        type=float,
        metavar="M2",
        help="pixel area [m2]: write radiance instead of intensity",
    )
    p.add_argument(
        "-o", "--output", required=True, metavar="FILE",
        help="netCDF file to write (image: a directory)",
    )  # fmt: skip
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("bands", parents=[common], help="list the known filter bands")
    p.add_argument("-v", "--verbose", action="store_true", help="also print references")
    p.set_defaults(func=_cmd_bands)
    return parser


class _LogHandler(logging.Handler):
    """Messages as plain lines on the current stderr, drawn around any progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def _setup_logging(args: argparse.Namespace) -> None:
    """The ``thermal`` logger: warnings and errors by default, progress details with -v
    (``fit``), errors only with -q, everything with --debug."""
    level = logging.WARNING
    if getattr(args, "quiet", False):
        level = logging.ERROR
    if args.command in ("fit", "detect") and getattr(args, "verbose", False):
        level = logging.INFO
    if getattr(args, "debug", False):
        level = logging.DEBUG
    handler = _LogHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers = [handler]
    log.setLevel(level)
    log.propagate = False


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``thermal`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    _setup_logging(args)
    import threading

    handling = threading.current_thread() is threading.main_thread()
    previous = {}
    if handling:
        _STOPPED.clear()
        previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return args.func(args)
    except UsageError as error:
        parser.exit(2, f"thermal {args.command}: error: {error}\n")
    except KeyboardInterrupt:
        log.error("interrupted; finished outputs are kept, run again to resume")
        return 130
    except Terminated:
        log.error("terminated; finished outputs are kept, run again to resume")
        return 143
    except BrokenPipeError:  # e.g. `thermal bands | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # one line per failure; the traceback only with --debug
        from thermal.layout import InputError

        known = isinstance(error, InputError | ValueError | OSError)
        text = str(error) if known else f"internal error: {batch.first_line(error)}"
        log.error(f"thermal {args.command}: {text}".splitlines()[0])
        if getattr(args, "debug", False):
            log.error(traceback.format_exc().rstrip())
        return 1
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


if __name__ == "__main__":
    sys.exit(main())
