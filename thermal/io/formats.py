"""The registry of observation file formats: which reader opens which file.

Every format is a :class:`Format`: a name, a content sniffer, the file extensions it claims, the
reader (returning the observation layout, ``docs/layout.md``) and a one-line description.
:func:`detect_format` first shows the file's first 4096 bytes to every format's sniffer
(highest ``priority`` first, then in registration order, built-in formats first) and only when
none recognises the content matches the extension; :func:`open_observation` reads the file
with the detected or forced (``format=``) format's reader. ``docs/formats.md`` describes the
built-in formats.

Other packages add formats

- in-process, with :func:`register_format`::

      from thermal.io.formats import register_format

      register_format("vims", "mypackage.vims:read_cube", extensions=(".qub",),
                      sniff=lambda head: b"VIMS" in head, description="Cassini VIMS cubes")

- or by installation, with an entry point in the group ``thermal.formats`` whose object is a
  :class:`Format`::

      # pyproject.toml of the other package
      [project.entry-points."thermal.formats"]
      vims = "mypackage.thermal_formats:VIMS"     # VIMS = thermal.io.formats.Format(...)

  Entry points are loaded lazily, once, the first time the registry is consulted. A plugin
  that fails to import, is not a :class:`Format` or reuses a registered name is skipped with a
  :class:`PluginWarning` naming it; the built-in formats keep working, and asking for the
  broken format by name raises an :class:`InputError` that names the plugin and the problem.

Readers are given as callables or as ``"module:function"`` strings imported on first use, so
importing :mod:`thermal.io` imports no reader and none of astropy, pvl or netCDF4.

Inputs are untrusted (``SECURITY.md``): :func:`open_observation` reads under a deadline
(``timeout=``, :func:`thermal.io.limits.deadline`) and a memory budget (``max_memory=``,
:func:`thermal.io.limits.memory_budget`), and every failure to read a file, whatever a reader or
the libraries under it raise, reaches the caller as one :class:`InputError` naming the file
(the original exception chained as its ``__cause__``). Bad options are :class:`OptionError`;
``KeyboardInterrupt``, ``SystemExit``, ``MemoryError`` and warnings turned into errors pass
unchanged.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.metadata
import inspect
import os
import re
import stat
import threading
import warnings
from collections.abc import Callable

from thermal.io import limits
from thermal.layout import InputError

__all__ = [
    "ENTRY_POINT_GROUP",
    "Format",
    "OptionError",
    "PluginWarning",
    "detect_format",
    "formats",
    "get_format",
    "open_observation",
    "register_format",
    "unregister_format",
]

ENTRY_POINT_GROUP = "thermal.formats"
"""The entry-point group other packages register formats in."""
HEAD_BYTES = 4096
"""How many leading bytes of a file the content sniffers see."""

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.+-]*$")


class OptionError(ValueError):
    """A bad option of a reader (a name it does not take, a value out of range): a mistake of
    the caller, not a problem of the file, so never turned into an :class:`InputError`."""


class PluginWarning(UserWarning):
    """A format plugin could not be used (failed import, wrong object, duplicate name or a
    sniffer that raised); the message names it. The other formats are unaffected."""


@dataclasses.dataclass(frozen=True)
class Format:
    """One observation file format.

    Parameters
    ----------
    name : str
        Short name (``"netcdf"``, ``"jiram"``), what :func:`detect_format` returns and
        ``format=`` selects: a letter, then letters, digits or ``_ . + -``.
    reader : callable or str
        ``reader(path, **options) -> xarray.Dataset`` in the observation layout (check it with
        :func:`thermal.layout.finalise`; raise :class:`InputError` for a bad file), or a
        ``"module:function"`` string naming it, imported on first use.
    sniff : callable, optional
        ``sniff(head: bytes) -> bool``: True if the first bytes of a file (up to 4096, fewer
        for a short file) are of this format. Must be cheap and must not raise.
    extensions : sequence of str, optional
        File extensions (``".nc"``; any case, the dot optional) claimed when no sniffer
        recognises the content.
    description : str, optional
        One line for listings.
    locate : callable or str, optional
        ``locate(path) -> str``: the file the reader opens for the one named (e.g. a data
        file's detached label); raises :class:`InputError` when there is none. Default: the
        path itself.
    priority : int, optional
        Sniffers of higher priority run first (default 0, as the built-in formats); use it for
        a format whose signature is a special case of another one's (an HDF5 product that
        netCDF would claim).
    origin : str, optional
        Where the format comes from (``"built-in"``, ``"register_format"`` or the entry
        point), for messages.
    """

    name: str
    reader: Callable | str
    sniff: Callable[[bytes], bool] | None = None
    extensions: tuple[str, ...] = ()
    description: str = ""
    locate: Callable[[str], str] | str | None = None
    priority: int = 0
    origin: str = "register_format"

    def __post_init__(self):
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(
                f"format name must start with a letter and hold letters, digits or _ . + -; "
                f"got {self.name!r}"
            )
        if not (callable(self.reader) or _is_reference(self.reader)):
            raise TypeError(
                f"format {self.name!r}: reader must be a callable or a 'module:function' "
                f"string; got {self.reader!r}"
            )
        if self.locate is not None and not (callable(self.locate) or _is_reference(self.locate)):
            raise TypeError(f"format {self.name!r}: locate must be a callable or None")
        if self.sniff is not None and not callable(self.sniff):
            raise TypeError(f"format {self.name!r}: sniff must be a callable or None")
        extensions = (self.extensions,) if isinstance(self.extensions, str) else self.extensions
        normalised = []
        for ext in extensions:
            if not isinstance(ext, str) or not ext.strip(". "):
                raise ValueError(f"format {self.name!r}: bad extension {ext!r}")
            normalised.append("." + ext.strip().lstrip(".").lower())
        object.__setattr__(self, "extensions", tuple(normalised))
        object.__setattr__(self, "priority", int(self.priority))

    def load_reader(self) -> Callable:
        """The reader callable (imported now if given as ``"module:function"``).

        Raises
        ------
        ImportError
            If the reference cannot be imported; the message names the format.
        """
        return _resolve(self.reader, self)

    def open(self, path, **options):
        """Read ``path`` with this format's reader (``locate`` first); see
        :func:`open_observation` for the options and errors.

        Whatever the reader raises for a bad file becomes an :class:`InputError` (see
        :func:`reading`); an import failure of the reader itself stays an ``ImportError``.
        """
        path = os.fspath(path)
        if self.locate is not None:
            with reading(path):
                path = _resolve(self.locate, self)(path)
        reader = self.load_reader()
        _check_options(self.name, reader, options)
        try:
            return reader(path, **options)
        except TypeError as error:
            if error.__traceback__.tb_next is None and "unexpected keyword" in str(error):
                raise OptionError(f"{self.name} reader: {error}") from error  # the call itself
            raise InputError(path, f"cannot read it: {limits.reason(error)}") from error
        except BaseException as error:
            replacement = _translate(path, error)
            if replacement is None:
                raise
            raise replacement from error


def _translate(path, error: BaseException, passing: tuple = ()) -> BaseException | None:
    """The exception to raise instead of ``error`` from reading ``path``, or None to let
    ``error`` pass unchanged (see :func:`reading`)."""
    if isinstance(error, InputError):
        text = str(error)
        if text.isprintable():
            return None
        return InputError(limits.one_line(error.path, 1000), limits.one_line(error.problem))
    if isinstance(error, limits.Expired):
        return limits.expired_error(error)
    if isinstance(error, (OptionError, MemoryError, Warning, *passing)):
        return None
    if not isinstance(error, Exception):
        return None
    return InputError(path, f"cannot read it: {limits.reason(error)}")


@contextlib.contextmanager
def reading(path, passing: tuple = ()):
    """Context: any exception of reading ``path`` leaves as one :class:`InputError`.

    An :class:`InputError` passes (its message made one line if it was not); so do
    :class:`OptionError`, ``MemoryError``, warnings turned into errors (``Warning``) and
    everything that is not an ``Exception`` (``KeyboardInterrupt``, ``SystemExit``); a
    deadline expiry becomes a :class:`thermal.io.limits.ReadTimeout`; any other exception
    (``UnicodeDecodeError``, ``struct.error``, ``KeyError``, ``IndexError``, ``OSError``, a
    library's own parse error...) becomes ``InputError(path, "cannot read it: <type>: <first
    line>")`` with the original as ``__cause__`` (the traceback of ``thermal fit --debug``).

    Parameters
    ----------
    path : str or path-like
        The input named in the error.
    passing : tuple of exception types, optional
        More exception types to let pass unchanged.
    """
    try:
        yield
    except BaseException as error:
        replacement = _translate(path, error, passing)
        if replacement is None:
            raise
        raise replacement from error


def _is_reference(value) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[\w.]+:[\w.]+", value) is not None


def _resolve(value, fmt: Format) -> Callable:
    if callable(value):
        return value
    module, _, attribute = value.partition(":")
    try:
        target = importlib.import_module(module)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as error:
        raise ImportError(
            f"format {fmt.name!r} ({fmt.origin}): cannot import {value!r}: {error}"
        ) from error
    return target


def _check_options(name: str, reader: Callable, options: dict) -> None:
    """ValueError naming the options ``reader`` does not take (before reading anything)."""
    if not options:
        return
    try:
        parameters = list(inspect.signature(reader).parameters.values())
    except (TypeError, ValueError):  # no signature (a builtin): the call itself will tell
        return
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    accepted = [p.name for p in parameters[1:] if p.kind in named]  # the first is the path
    unknown = [key for key in options if key not in accepted]
    if unknown:
        takes = ", ".join(accepted) if accepted else "no options"
        raise OptionError(
            f"{name} reader: unexpected option(s) {', '.join(map(repr, unknown))}; "
            f"it takes {takes}"
        )


# ---------------------------------------------------------------------------------------------
# Built-in formats: sniffers look at content only; extensions are the fallback.

_NETCDF_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n")
_MRT_HEADER = re.compile(r"(?m)^[ \t]*Byte-by-byte Description")


def _text(head: bytes) -> str:
    return head.removeprefix(b"\xef\xbb\xbf").decode("latin-1")


def _sniff_netcdf(head: bytes) -> bool:
    return head.startswith(_NETCDF_MAGIC)


def _sniff_fits(head: bytes) -> bool:
    return head.startswith(b"SIMPLE  =")


def _sniff_ao(head: bytes) -> bool:
    if not _sniff_fits(head):
        return False
    from thermal.io.ao import sniff_ao_image  # FITS files only: a 2-D image, not a cube

    return sniff_ao_image(head)


PDS3_LABEL_EXTENSIONS = (".lbl",)
"""Extensions of detached PDS3 labels (lower case; files match in any case)."""
PDS3_DATA_EXTENSIONS = (".img", ".dat", ".qub")
"""Extensions of PDS3 data files opened through the label beside them (any case)."""


def sniff_pds3(head: bytes) -> bool:
    """True if ``head`` (a file's first bytes) begins a PDS3 label (``PDS_VERSION_ID``)."""
    return _text(head).lstrip().startswith("PDS_VERSION_ID")


def _sniff_mrt(head: bytes) -> bool:
    text = _text(head)
    return text.startswith("Title:") or _MRT_HEADER.search(text) is not None


_BUILTIN = (
    Format(
        "netcdf",
        "thermal.io.netcdf:read_netcdf",
        sniff=_sniff_netcdf,
        extensions=(".nc", ".nc4", ".cdf", ".h5"),
        description="netCDF-3/4 in the observation layout (NIMS-like spectra, thermal simulate)",
        origin="built-in",
    ),
    Format(
        "csv",
        "thermal.io.tables:read_csv",
        extensions=(".csv", ".txt", ".tsv"),
        description="CSV photometry table (GW um-1 sr-1, or Jy with a distance)",
        origin="built-in",
    ),
    Format(
        "mrt",
        "thermal.io.tables:read_mrt",
        sniff=_sniff_mrt,
        extensions=(".mrt",),
        description="AAS machine-readable photometry table",
        origin="built-in",
    ),
    Format(
        "jiram",
        "thermal.io.jiram:read_jiram",
        sniff=sniff_pds3,
        extensions=PDS3_LABEL_EXTENSIONS + PDS3_DATA_EXTENSIONS,
        description="Juno JIRAM PDS3 RDR imager or spectrometer product (through its .LBL)",
        locate="thermal.io.jiram:label_for",
        origin="built-in",
    ),
    Format(
        "ao",
        "thermal.io.ao:refuse_fit",
        sniff=_sniff_ao,
        description="adaptive-optics FITS image of Io (Keck NIRC2, Gemini NIRI): measure it "
        "with thermal detect, then fit the photometry table",
        priority=1,
        origin="built-in",
    ),
    Format(
        "fits",
        "thermal.io.jwst:read_s3d",
        sniff=_sniff_fits,
        extensions=(".fits", ".fit", ".fts"),
        description="JWST NIRSpec/MIRI s3d spectral cube (FITS)",
        origin="built-in",
    ),
)

_lock = threading.RLock()
_registry: dict[str, Format] = {f.name: f for f in _BUILTIN}
_broken: dict[str, str] = {}  # plugin format name -> why it is not available
_warned: set[str] = set()  # formats whose sniffer raised (warned once)
_plugins_loaded = False


def _entry_points():
    """The ``thermal.formats`` entry points of the installed distributions."""
    return importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)


def _load_plugins() -> None:
    """Register the entry-point formats, once; a broken plugin is warned about and skipped."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    with _lock:
        if _plugins_loaded:
            return
        _plugins_loaded = True
        try:
            points = list(_entry_points())
        except Exception as error:  # a corrupt installed distribution
            _skip(None, f"cannot list the {ENTRY_POINT_GROUP!r} entry points: {error}")
            return
        for point in points:
            dist = getattr(point, "dist", None)
            origin = f"entry point {point.name!r} = {point.value!r}" + (
                f" of {dist.name}" if dist is not None else ""
            )
            label = f"{ENTRY_POINT_GROUP} plugin: {origin}"
            try:
                loaded = point.load()
            except Exception as error:  # anything a plugin's import raises
                _skip(point.name, f"{label} failed to import: {type(error).__name__}: {error}")
                continue
            if not isinstance(loaded, Format):
                _skip(
                    point.name,
                    f"{label} is not a thermal.io.formats.Format (got {type(loaded).__name__})",
                )
                continue
            if loaded.name in _registry:
                _skip(
                    None,
                    f"{label} names format {loaded.name!r}, which is already registered "
                    f"({_registry[loaded.name].origin}); ignored",
                )
                continue
            _registry[loaded.name] = dataclasses.replace(loaded, origin=origin)


def _skip(name: str | None, problem: str) -> None:
    if name is not None:
        _broken[name] = problem
    warnings.warn(problem, PluginWarning, stacklevel=4)


def _ordered() -> list[Format]:
    """Registered formats in sniffing order: priority, then registration order."""
    _load_plugins()
    with _lock:
        registered = list(_registry.values())
    return sorted(registered, key=lambda f: -f.priority)


def formats() -> tuple[Format, ...]:
    """Every registered format (built-in, registered in-process, from entry points), in the
    order they are tried."""
    return tuple(_ordered())


def get_format(name: str, path=None) -> Format:
    """The registered format called ``name``.

    Raises
    ------
    InputError
        If ``name`` is a plugin that failed to load (the message names the plugin; ``path``
        is the file named in it).
    ValueError
        If no format has that name (the message lists the known ones).
    """
    _load_plugins()
    with _lock:
        fmt = _registry.get(name)
        known = list(_registry)
    if fmt is not None:
        return fmt
    if name in _broken:
        raise InputError(path if path is not None else name, _broken[name])
    names = ", ".join(known[:-1]) + f" or {known[-1]}" if len(known) > 1 else known[0]
    raise ValueError(f"format must be {names}; got {name!r}")


def register_format(
    name,
    reader=None,
    *,
    sniff=None,
    extensions=(),
    description: str = "",
    locate=None,
    priority: int = 0,
    replace: bool = False,
) -> Format:
    """Add a format to the registry of this process.

    Parameters
    ----------
    name : str or Format
        The format's name, or a whole :class:`Format` (then give nothing else but
        ``replace``).
    reader, sniff, extensions, description, locate, priority
        As :class:`Format`.
    replace : bool, optional
        Replace a registered format of the same name (a built-in one too). Default False:
        a duplicate name is an error.

    Returns
    -------
    Format
        The registered format.

    Raises
    ------
    ValueError
        For a duplicate name without ``replace=True`` or a bad field.
    """
    if isinstance(name, Format):
        given = (reader, sniff, extensions, description, locate, priority)
        if given != (None, None, (), "", None, 0):
            raise TypeError("register_format: give a Format or its fields, not both")
        fmt = name
    else:
        if reader is None:
            raise TypeError(f"register_format({name!r}): a reader is required")
        fmt = Format(
            name,
            reader,
            sniff=sniff,
            extensions=tuple(extensions) if not isinstance(extensions, str) else extensions,
            description=description,
            locate=locate,
            priority=priority,
        )
    _load_plugins()  # so that a later entry point cannot shadow this registration
    with _lock:
        if fmt.name in _registry and not replace:
            raise ValueError(
                f"format {fmt.name!r} is already registered ({_registry[fmt.name].origin}); "
                "pass replace=True to replace it"
            )
        _registry[fmt.name] = fmt
        _broken.pop(fmt.name, None)
    return fmt


def unregister_format(name: str) -> Format:
    """Remove a format from the registry (a built-in one too) and return it.

    Raises
    ------
    KeyError
        If no format has that name.
    """
    _load_plugins()
    with _lock:
        if name not in _registry:
            raise KeyError(f"no format {name!r} is registered")
        return _registry.pop(name)


def _reset() -> None:
    """Back to the built-in formats, with entry points to be loaded again (for tests)."""
    global _plugins_loaded
    with _lock:
        _registry.clear()
        _registry.update({f.name: f for f in _BUILTIN})
        _broken.clear()
        _warned.clear()
        _plugins_loaded = False


# ---------------------------------------------------------------------------------------------
# Detection and opening


def _sniff(fmt: Format, head: bytes) -> bool:
    if fmt.sniff is None:
        return False
    try:
        return bool(fmt.sniff(head))
    except Exception as error:  # a plugin's sniffer must not break detection
        if fmt.name not in _warned:
            _warned.add(fmt.name)
            warnings.warn(
                f"format {fmt.name!r} ({fmt.origin}): sniffer raised {type(error).__name__}: "
                f"{error}; treated as no match (warned once)",
                PluginWarning,
                stacklevel=4,
            )
        return False


def check_file(path: str) -> None:
    """InputError unless ``path`` is a non-empty regular file (a FIFO or device could block
    a read forever or never end)."""
    if os.path.isdir(path):
        raise InputError(path, "is a directory, not an observation file")
    if not os.path.exists(path):
        raise InputError(path, "no such file")
    try:
        info = os.stat(path)
    except OSError as error:
        raise InputError(path, f"cannot read it: {limits.reason(error)}") from error
    if not stat.S_ISREG(info.st_mode):
        raise InputError(path, "not a regular file (a device, FIFO or socket); refused")
    if info.st_size == 0:
        raise InputError(path, "empty file (0 bytes)")


def detect_format(path) -> str:
    """Name of the format that reads ``path`` (built-in: netcdf, csv, mrt, jiram or fits).

    Detection looks at the first bytes (netCDF/HDF5 and FITS signatures, ``PDS_VERSION_ID``,
    MRT ``Title:``/``Byte-by-byte`` headers, and what registered plugins recognise) and then at
    the extension. A JIRAM data file (``.IMG``/``.DAT``) needs its label beside it.

    Raises
    ------
    InputError
        Missing path, directory, not a regular file (a device, FIFO or socket, which could
        block or never end), empty file, unreadable file, a data file without its label, or
        an unrecognised format.
    """
    path = os.fspath(path)
    check_file(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError as error:
        raise InputError(path, f"cannot read it: {limits.reason(error)}") from error
    candidates = _ordered()
    found = next((f for f in candidates if _sniff(f, head)), None)
    suffix = os.path.splitext(path)[1].lower()
    if found is None:
        found = next((f for f in candidates if suffix and suffix in f.extensions), None)
    if found is None:
        raise InputError(path, f"unrecognised file format (extension {suffix or 'none'!r})")
    if found.locate is not None:
        with reading(path):
            _resolve(found.locate, found)(path)  # e.g. a data file without its label
    return found.name


def open_observation(
    path,
    *,
    format: str | None = None,
    timeout: float | None = limits.DEFAULT_TIMEOUT,
    max_memory: float | None = None,
    **options,
):
    """Read an observation file into the observation layout (``docs/layout.md``).

    Parameters
    ----------
    path : str or path-like
        netCDF (``.nc``), CSV or MRT photometry table, JIRAM PDS3 label (``.LBL``; a data file
        ``.IMG``/``.DAT`` is opened through the label beside it), JWST ``s3d`` FITS, or a file
        of a registered plugin format.
    format : str, optional
        Force a reader by name (see :func:`formats`) instead of detecting the format.
    timeout : float or None, optional
        Deadline [s] for detecting and reading the file (default 60); a read that takes
        longer raises :class:`thermal.io.limits.ReadTimeout`, an :class:`InputError`. None: no
        deadline. Best effort: it acts between Python bytecodes (see
        :func:`thermal.io.limits.deadline`).
    max_memory : float, optional
        Memory budget [bytes] of the read (default: half the physical memory). Readers compare
        the sizes a file declares (array shapes, compressed content, label records) with it
        before allocating and refuse what does not fit with an :class:`InputError`.
    **options
        Passed to the format's reader: JIRAM ``wavelengths`` [um], ``band_integrated``,
        ``distance`` [m], ``relative_uncertainty``; JWST ``distance`` [m].

    Returns
    -------
    xarray.Dataset
        Spectral dim ``wavelength`` [um] or ``band``; ``intensity`` [W sr-1 um-1] or
        ``radiance`` [W m-2 sr-1 um-1] with ``*_uncertainty``; optional ``pixel_area`` [m2],
        ``emission_angle`` [degree], ``distance`` [m], ``latitude``, ``longitude`` [degrees
        east]; attributes ``source``, ``product_id``, ``thermal_input_format``.

    Raises
    ------
    InputError
        For any failure to read the file, with a one-line ``"<file>: <problem>"`` message
        (also for a forced plugin format that failed to load); the exception that caused it
        is chained as ``__cause__``. :class:`thermal.io.limits.ReadTimeout` (a subclass) when
        the deadline passed.
    OptionError
        A ``ValueError``: an unknown ``format=``, an option the reader does not take or a bad
        option value (``timeout``, ``max_memory``, a reader's own).
    """
    try:
        watch = limits.deadline(timeout, path)
        if max_memory is not None:
            limits.checked_budget(max_memory)
        budget = limits.memory_budget(max_memory)
    except ValueError as error:
        raise OptionError(str(error)) from None
    fmt = None
    if format:
        try:
            fmt = get_format(format, path)
        except InputError:
            raise
        except ValueError as error:
            raise OptionError(str(error)) from None
    try:
        with budget, reading(path, passing=(ImportError,)), watch:
            if fmt is None:
                fmt = get_format(detect_format(path), path)
            else:
                check_file(os.fspath(path))
            return fmt.open(path, **options)
    except ImportError as error:
        if fmt is None or fmt.origin == "built-in":
            raise
        raise InputError(path, limits.one_line(error)) from error
    except limits.Expired as expired:  # a deadline that passed as its block ended
        raise limits.expired_error(expired) from expired
