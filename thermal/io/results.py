"""Write Datasets as CF-1.11 / ACDD-1.3 netCDF4, atomically.

Conventions (``docs/layout.md``, output files):

- ``_FillValue`` only where CF allows it: never on dimension coordinates (CF 2.5.1) nor on
  coordinates without missing values; data variables keep xarray's NaN fill.
- Every variable gets ``long_name`` and ACDD ``coverage_content_type`` (uncertainties:
  ``qualityInformation``); dimensionless numbers get ``units = "1"``, booleans CF flag
  attributes instead, text no units; a variable with an ``<name>_uncertainty`` names it in
  ``ancillary_variables``; Jy is written in UDUNITS' terms (``1e-26 W m-2 Hz-1``); time is
  ``seconds since 1970-01-01`` UTC.
- ``time_coverage_start``/``_end`` are ISO 8601 UTC (``...Z``), from the ``time`` variable
  unless the Dataset gives them.
- Globals: ``Conventions``, ``title``, ``summary``, ``keywords``, ``history`` (one
  ``"<ISO-UTC>: <command>"`` line per run, appended), ``source``, ``date_created``,
  ``thermal_version``, ``standard_name_vocabulary``, ``processing_level``, ``product_version``,
  ``references``.
- Compression is off by default: fit results compress ~1.1x for ~35x slower writes
  (measured; see ``docs/layout.md``). ``compress=True`` gives zlib level 1 with shuffle and
  chunks of at most ~1 MiB along the leading (batch) dimensions.
- Results hold status codes only (:class:`thermal.status.Status`): each code's words are in
  the ``status`` variable's ``comment`` (``"<code> <meaning>: <message>"``), next to its CF
  ``flag_values``/``flag_meanings``.
- The file is written to a temporary name in the target directory (its name holds the writing
  process's id, so concurrent runs never share one), flushed to disk, renamed into place and
  the directory flushed, so a reader (or a resumed ``thermal fit``) never sees a partial file
  and a finished one survives a crash.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import re
import signal
import tempfile
import threading

import numpy as np
import xarray as xr

__all__ = [
    "FILE_ATTRIBUTES",
    "TEMPORARY_PREFIX",
    "signals_deferred",
    "temporary_owner",
    "write_results",
    "write_text_atomically",
]

FILE_ATTRIBUTES = frozenset({
    "Conventions", "title", "summary", "keywords", "comment", "history", "source",
    "processing_level", "references", "date_created", "product_version", "thermal_version",
    "standard_name_vocabulary", "creator_type",
})  # fmt: skip
"""Global attributes that describe a file itself: a result made from an observation does not
take them over (it keeps the instrument's and the product's)."""

TEMPORARY_PREFIX = ".thermal-partial-"
"""Prefix of the temporary files :func:`write_results` renames into place."""

_QUALITY = ("status", "chi2", "dof", "covariance", "nfev", "iterations", "reduced_chi2")
_MODEL_PREFIXES = ("model_", "temperature", "area", "power", "parameters", "residual")
_OBSERVED = ("intensity", "radiance")
_TIME_UNITS = "seconds since 1970-01-01T00:00:00Z"
_CHUNK_BYTES = 1 << 20


_UDUNITS = {"Jy": "1e-26 W m-2 Hz-1", "mJy": "1e-29 W m-2 Hz-1"}
"""Units the package uses in memory that UDUNITS (and so CF) does not know, as written."""


def _content_type(name: str) -> str:
    if name in _QUALITY or name.endswith("_uncertainty"):
        return "qualityInformation"
    if name.startswith(_MODEL_PREFIXES):
        return "modelResult"
    if name.startswith(_OBSERVED):
        return "physicalMeasurement"
    return "auxiliaryInformation"


def _clean_attrs(attrs: dict) -> dict:
    """netCDF attributes: no None, bools as ints, sets/lists as arrays or strings."""
    out = {}
    for key, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, bool | np.bool_):
            value = int(value)
        elif isinstance(value, (list, tuple, set, frozenset)):
            items = list(value)
            value = (
                np.asarray(items)
                if items and all(isinstance(v, int | float | np.number) for v in items)
                else ", ".join(map(str, items))
            )
        elif isinstance(value, dict):
            value = str(value)
        out[key] = value
    return out


def _chunks(variable: xr.Variable) -> tuple[int, ...] | None:
    if variable.ndim == 0 or variable.dtype.kind in "OSU":
        return None
    shape = list(variable.shape)
    itemsize = variable.dtype.itemsize
    chunks = list(shape)
    # shrink the leading dimensions until a chunk is at most ~1 MiB
    for axis in range(len(chunks)):
        inner = int(np.prod(chunks[axis + 1 :], dtype=np.int64)) * itemsize
        if inner * chunks[axis] <= _CHUNK_BYTES:
            break
        chunks[axis] = max(1, _CHUNK_BYTES // max(inner, 1))
    return tuple(max(1, min(c, s)) for c, s in zip(chunks, shape, strict=True))


def _prepare(dataset: xr.Dataset, *, history, source, title, summary) -> xr.Dataset:
    from thermal import __version__

    ds = dataset.copy(deep=False)
    now = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    attrs = dict(ds.attrs)
    lines = [line for line in str(attrs.get("history", "")).splitlines() if line.strip()]
    if history:
        lines.append(f"{now}: {history}")
    attrs.update(
        {
            "Conventions": "CF-1.11, ACDD-1.3",
            "title": title or attrs.get("title") or "thermal: fitted hot-spot thermal emission",
            "summary": summary
            or attrs.get("summary")
            or (
                "Multi-temperature blackbody fits of infrared spectra or band photometry of "
                "volcanic hot spots, made with the thermal toolkit."
            ),
            "keywords": attrs.get(
                "keywords", "Io, volcanism, hot spots, thermal emission, blackbody fit"
            ),
            "standard_name_vocabulary": "CF Standard Name Table v93",
            "processing_level": attrs.get("processing_level", "derived (model fit)"),
            "date_created": now,
            "thermal_version": __version__,
            "product_version": __version__,
            "creator_type": attrs.get("creator_type", "institution"),
            "references": attrs.get(
                "references",
                f"thermal {__version__} (io-thermal; its CITATION.cff); the methods and their "
                "papers (with DOIs) are in its documentation, chapter 'Physics'",
            ),
            "comment": attrs.get(
                "comment",
                "CF has no standard names for fitted temperature, area and power or for "
                "spectral intensity (W sr-1 um-1); those variables carry long_name and units.",
            ),
        }
    )
    if lines:
        attrs["history"] = "\n".join(lines)
    if source is not None:
        attrs["source"] = source
    attrs.update(_time_coverage(ds, attrs))
    ds.attrs = _clean_attrs(attrs)
    # an empty text variable (no hot spots) is an empty object array, which netCDF4 cannot
    # write as text: it becomes an empty array of strings
    for name, variable in list(ds.variables.items()):
        if variable.dtype == object and variable.size == 0:
            ds[name] = variable.copy(data=np.zeros(variable.shape, dtype=str))

    for name in list(ds.data_vars):
        if f"{name}_uncertainty" in ds.data_vars:
            ds[name].attrs.setdefault("ancillary_variables", f"{name}_uncertainty")
    for kind in ("intensity", "radiance"):
        model = f"model_{kind}"
        if model in ds.data_vars and "standard_name" in ds.get(kind, xr.DataArray()).attrs:
            ds[model].attrs.setdefault("standard_name", ds[kind].attrs["standard_name"])
    for name, variable in ds.variables.items():
        vattrs = dict(variable.attrs)
        vattrs.setdefault("long_name", str(name).replace("_", " "))
        if name not in ds.coords:
            vattrs.setdefault("coverage_content_type", _content_type(str(name)))
        elif name not in ds.dims:
            vattrs.setdefault("coverage_content_type", "coordinate")
        index = variable.dtype.kind in "iu" and name in ds.dims
        if variable.dtype.kind in "fiu" and not index:
            if "units" not in vattrs and "flag_values" not in vattrs:
                vattrs["units"] = "1"
        if variable.dtype.kind == "b":  # written as 0/1 bytes: a CF flag, without units
            vattrs.pop("units", None)
            vattrs.setdefault("flag_values", np.array([0, 1], np.int8))
            vattrs.setdefault("flag_meanings", f"not_{name} {name}")
        if variable.dtype.kind in "OUS":  # text has no unit
            vattrs.pop("units", None)
        if vattrs.get("units") in _UDUNITS:
            vattrs["units"] = _UDUNITS[vattrs["units"]]
        variable.attrs = _clean_attrs(vattrs)
    return ds


def _iso_utc(value) -> str:
    return str(np.datetime_as_string(np.datetime64(value, "ms"), "ms")) + "Z"


def _time_coverage(ds: xr.Dataset, attrs: dict) -> dict:
    """ACDD ``time_coverage_start``/``_end``: ISO 8601 UTC with its ``Z``; from the ``time``
    variable where the attributes have none; an empty one is left out."""
    coverage = {}
    for key in ("time_coverage_start", "time_coverage_end"):
        text = str(attrs.pop(key, "") or "").strip()
        if text:  # a time of day without a zone is UTC; dates and zoned times stay as given
            naive = "T" in text and not re.search(r"(Z|[+-]\d\d:?\d\d)$", text)
            coverage[key] = text + "Z" if naive else text
    if "time_coverage_start" not in coverage and "time" in ds.variables:
        times = np.asarray(ds["time"].values).ravel()
        if times.dtype.kind == "M":
            times = times[~np.isnat(times)]
            if times.size:
                coverage["time_coverage_start"] = _iso_utc(times.min())
                coverage["time_coverage_end"] = _iso_utc(times.max())
    return coverage


def _encoding(ds: xr.Dataset, compress: bool) -> dict:
    encoding: dict[str, dict] = {}
    for name, variable in ds.variables.items():
        enc: dict = {}
        is_coord = name in ds.coords
        if variable.dtype.kind == "M":
            enc.update(units=_TIME_UNITS, calendar="standard", dtype="float64")
            if is_coord and not np.any(np.isnat(variable.values)):
                enc["_FillValue"] = None
        elif variable.dtype.kind == "f":
            if is_coord and (name in ds.dims or not np.any(np.isnan(variable.values))):
                enc["_FillValue"] = None
        elif variable.dtype.kind in "iub":
            enc["_FillValue"] = None
        elif variable.dtype.kind in "OU":
            enc["dtype"] = str
        if compress and variable.dtype.kind in "fiu" and variable.ndim > 0:
            enc.update(zlib=True, complevel=1, shuffle=True)
            chunks = _chunks(variable)
            if chunks is not None:
                enc["chunksizes"] = chunks
        encoding[str(name)] = enc
    return encoding


@contextlib.contextmanager
def _local_locks(ds):
    """Inside a dask.distributed worker xarray guards netCDF writes with cluster-wide locks
    (a scheduler round trip per variable: ~0.15 s per result file). A Dataset without dask
    arrays needs no cluster: write it under the synchronous scheduler, with local locks."""
    if any(v.chunks is not None for v in ds.variables.values()):
        yield
        return
    try:
        import dask
    except ImportError:
        yield
        return
    with dask.config.set(scheduler="synchronous"):
        yield


@contextlib.contextmanager
def signals_deferred():
    """Hold SIGINT and SIGTERM (in the main thread) while a file is read or written and renamed:
    an interrupt inside the netCDF/HDF5 library can leave its lock held and hang the process at
    exit; held, it is handled as soon as the file operation is complete."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not (
        threading.main_thread()
    ):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _fsync(path: str) -> None:
    """Flush a file or a folder to disk (durable rename); a no-op where the OS refuses."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temporary(path: str, suffix: str) -> tuple[str, str]:
    """(folder, temporary file) for writing ``path`` atomically: the folder must exist; the
    temporary's name holds this process's id (:func:`temporary_owner`)."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: output path is a directory")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: output directory does not exist")
    handle, temporary = tempfile.mkstemp(
        prefix=f"{TEMPORARY_PREFIX}{os.path.basename(path)}.{os.getpid()}.", suffix=suffix,
        dir=folder,
    )  # fmt: skip
    os.close(handle)
    return folder, temporary


@contextlib.contextmanager
def _replacing(path: str, suffix: str):
    """Yield a temporary file name beside ``path`` for the caller to write; then, with Ctrl-C
    and SIGTERM held, flush it, rename it over ``path`` and flush the folder. On any failure
    (an interrupt included) the temporary is removed and ``path`` is left as it was."""
    folder, temporary = _temporary(path, suffix)
    try:
        yield temporary
        with signals_deferred():
            os.chmod(temporary, 0o644)
            _fsync(temporary)
            os.replace(temporary, path)
            _fsync(folder)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def write_text_atomically(path, text: str) -> str:
    """Write ``text`` (UTF-8) to ``path`` as :func:`write_results` writes netCDF: to a temporary
    file in the same folder, flushed, renamed over ``path`` and the folder flushed, with
    Ctrl-C and SIGTERM held meanwhile; no partial file is ever seen or left behind.

    Parameters
    ----------
    path : str or path-like
        Output file; its directory must exist.
    text : str
        The whole content (tables: CSV text).

    Returns
    -------
    str
        The path written.
    """
    path = os.fspath(path)
    with _replacing(path, os.path.splitext(path)[1] or ".txt") as temporary:
        with open(temporary, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
    return path


def temporary_owner(name: str) -> int | None:
    """The process id in the name of a temporary file of :func:`write_results`, if any."""
    if not name.startswith(TEMPORARY_PREFIX):
        return None
    parts = name[len(TEMPORARY_PREFIX) :].rsplit(".", 3)
    try:
        return int(parts[-3])
    except (IndexError, ValueError):
        return None


def write_results(
    dataset: xr.Dataset,
    path,
    *,
    compress: bool = False,
    history: str | None = None,
    source: str | None = None,
    title: str | None = None,
    summary: str | None = None,
) -> str:
    """Write ``dataset`` to ``path`` as CF-1.11/ACDD-1.3 netCDF4, atomically.

    Parameters
    ----------
    dataset : xarray.Dataset
        Fit results (``thermal.fit.fit_spectra``) or an observation.
    path : str or path-like
        Output file; its directory must exist. An existing file is replaced only when the new
        one is complete.
    compress : bool, optional
        zlib level 1 with shuffle and ~1 MiB chunks (default off; see the module notes).
    history : str, optional
        The command that made the data; appended to ``history`` as ``"<ISO-UTC>: <command>"``.
    source : str, optional
        Input files or product ids (sets the ``source`` attribute).
    title, summary : str, optional
        ACDD title and summary (defaults describe a fit result).

    Returns
    -------
    str
        The path written.

    Raises
    ------
    OSError
        If the directory does not exist or is not writable; no file is left behind.
    """
    path = os.fspath(path)
    ds = _prepare(dataset, history=history, source=source, title=title, summary=summary)
    encoding = _encoding(ds, compress)
    with _replacing(path, ".nc") as temporary, _local_locks(ds), signals_deferred():
        ds.to_netcdf(temporary, format="NETCDF4", engine="netcdf4", encoding=encoding)
    return path
