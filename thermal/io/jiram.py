"""Juno JIRAM calibrated products (PDS3 RDR): imager ``JIR_IMG_RDR_*`` and spectrometer
``JIR_SPE_RDR_*``.

The detached label is parsed with pvl; the data file it points to is read with numpy as
32-bit floats. Archive traps handled here (``docs/formats.md``, Juno/JIRAM):

- **Byte order.** Labels say ``SAMPLE_TYPE = IEEE_REAL`` (big-endian), the files are
  little-endian. Both interpretations are scored (finite, ``|x| < 1e4``) and the plausible one
  wins, little-endian on a tie; the choice is recorded in ``byte_order``.
- **Radiance unit.** ``UNIT`` (inside ``OBJECT = FILE``) is kept verbatim as
  ``original_units``. ``"W/(m^2*sr*micron)"`` is spectral radiance. ``"W/(m^2*sr)"`` (SIS
  v7.5 and newer frames) is either the same numbers relabelled or band-integrated radiance;
  ``band_integrated=`` chooses: ``"relabelled"`` (default: treat as per-um, physically
  consistent with Jupiter and Io values, docs/formats.md) or ``"divide"`` (divide by the band
  width, 0.290 um for L and 0.4975 um for M, as Perry's ``spectralUnitConversion.py``).
- **Imager halves.** A 256-line ``SCI_I1`` frame is L in lines 0-127 and M in lines 128-255;
  128-line ``SCI_I2`` frames are M, ``SCI_I3`` frames are L. Each half is a different patch of
  sky, so a pixel carries one band and the other is NaN.
- **Spectrometer wavelengths** are in no label: the grid comes from package data
  ``thermal/data/jiram_spectrometer_wavelengths.csv`` (source and version in its header) unless
  ``wavelengths=`` [um] is given.
- **Footprint.** With ``SLANT_DISTANCE`` [km] and ``EMISSION_ANGLE`` [degree] in the band's
  parameter group (or ``distance=`` [m] given), ``pixel_area`` [m2] is the surface area of a
  pixel, ``(distance * IFOV)**2 / cos(e)`` (:func:`thermal.units.surface_footprint_area`),
  IFOV = 237.767 urad (IK ``juno_jiram_v02.ti``). An emission angle outside [0, 90) degrees
  or a non-positive distance leaves ``pixel_area`` out, with a warning.
- **Label and data files.** A product is a detached label (``.LBL``) and the data file its
  ``^IMAGE``/``^TABLE`` pointer names, beside it with the same stem (``.IMG``/``.DAT``;
  extensions and names match in any case). :func:`label_for`, :func:`find_label` and
  :func:`input_files` are the one place that pairs them (``thermal.io`` and the command line
  use them).
- **Untrusted labels** (``SECURITY.md``). A file a pointer names must resolve inside the
  label's folder, symbolic links resolved: an absolute name, a ``..`` component or a link
  that leaves the folder is refused before anything of it is read (:func:`data_file`). The
  label is read up to :data:`LABEL_MAX_BYTES` and its ``END``, checked by a linear-time
  syntax scan that refuses what pvl's recovery loops on forever (``KEY = 1 =``), and parsed
  under a deadline (:data:`LABEL_TIMEOUT` plus :data:`LABEL_SECONDS_PER_BYTE`). Declared
  sizes are compared with the data file and the memory budget before anything is allocated.

Reference: Adriani et al. (2017), "JIRAM, the Jovian Infrared Auroral Mapper", Space Sci. Rev.
213, 393-446, doi:10.1007/s11214-014-0094-y.
"""

from __future__ import annotations

import os
import re
import stat
import warnings
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources

import numpy as np
import xarray as xr

from thermal.io import limits
from thermal.io.formats import (
    PDS3_DATA_EXTENSIONS,
    PDS3_LABEL_EXTENSIONS,
    OptionError,
    sniff_pds3,
)
from thermal.layout import RADIANCE_STANDARD_NAME, InputError, finalise
from thermal.units import surface_footprint_area

__all__ = [
    "DATA_EXTENSIONS",
    "IFOV",
    "LABEL_EXTENSIONS",
    "LABEL_MAX_BYTES",
    "LABEL_TIMEOUT",
    "data_file",
    "find_label",
    "frame_geometry",
    "input_files",
    "label_for",
    "read_jiram",
    "spectrometer_wavelengths",
]

IFOV = 237.767e-6
"""JIRAM instantaneous field of view [rad] (Juno IK juno_jiram_v02.ti)."""
BAND_WIDTH = {"jiram_l": 0.290, "jiram_m": 0.4975}
"""Widths [um] used to turn band-integrated radiance [W m-2 sr-1] into per-um radiance."""
_PER_UM = ("w/(m^2*sr*micron)", "w/(m**2*sr*um)", "w m-2 sr-1 um-1", "w/m^2/sr/um")
_BAND_INTEGRATED = ("w/(m^2*sr)", "w m-2 sr-1", "w/m^2/sr")
_HALF_LINES = 128
_EMISSION_ATTRS = {
    "units": "degree",
    "standard_name": "sensor_zenith_angle",
    "long_name": "emission angle",
}
_PIXEL_AREA_ATTRS = {"units": "m2", "long_name": "surface area of the pixel footprint"}

LABEL_EXTENSIONS = PDS3_LABEL_EXTENSIONS
"""Extensions of detached PDS3 labels (lower case; files match in any case)."""
DATA_EXTENSIONS = PDS3_DATA_EXTENSIONS
"""Extensions of PDS3 data files opened through the label beside them (any case)."""
# a label pointer naming a file: ^IMAGE = "X.IMG", ^TABLE = ("X.DAT", 1), ^IMAGE = X.IMG
_POINTER = re.compile(r'^\s*\^\w+\s*=\s*\(?\s*(?:"([^"]+)"|([\w.-]+\.\w+))')

LABEL_MAX_BYTES = 256 * 1024
"""Largest PDS3 label read [bytes] (JIRAM labels have 4-6 KiB; pvl parses ~30 KiB/s)."""
LABEL_TIMEOUT = 5.0
"""Deadline [s] of parsing a label, plus :data:`LABEL_SECONDS_PER_BYTE` per byte."""
LABEL_SECONDS_PER_BYTE = 40e-6
"""Extra parse time [s] allowed per byte of label (about twice pvl's observed cost)."""
BYTES_PER_VALUE = 80
"""Peak memory [bytes] of reading one 32-bit value of a product (raw bytes, float64 values,
radiance and uncertainty per band, the checks of ``finalise``; 64 measured for an imager
frame)."""


def _folder(path) -> str:
    return os.path.dirname(os.fspath(path))


def _beside(path, name) -> str | None:
    """The file called ``name`` (exactly, else in any case) in the folder of ``path``; only a
    name confined to that folder (:func:`data_file`), else None."""
    try:
        return data_file(path, name)
    except InputError:
        return None


def _foreign(name: str) -> str | None:
    """Why a file name from a label may not be followed, or None if it may."""
    if not name or "\x00" in name:
        return "an empty name or a NUL character"
    if "\\" in name:
        return "a backslash"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if ".." in name.split("/"):
        return "a '..' component"
    return None


def data_file(label, name) -> str | None:
    """The data file a label's pointer names, confined to the label's folder.

    Parameters
    ----------
    label : str or path-like
        The label (or the attached-label data file) whose folder holds the data.
    name : str
        The file name from the pointer: a name in that folder (matched exactly, else in any
        case) or a relative path below it.

    Returns
    -------
    str or None
        The file's path (the label's folder joined with the name found), or None when there is
        no regular file of that name.

    Raises
    ------
    InputError
        When the name is absolute, has a ``..`` component, a backslash or a NUL, or resolves
        (through symbolic links) outside the label's folder. The message names the label and
        the name from the label only: nothing of the foreign file (not even its size) is read
        or told.
    """
    label = os.fspath(label)
    name = str(name)
    why = _foreign(name)
    if why is not None:
        raise InputError(
            label,
            f"the label names data file {limits.one_line(repr(name), 120)}, which has {why}: a "
            "data file must be inside the label's folder; refused",
        )
    folder = os.path.dirname(os.path.abspath(label))
    candidate = os.path.join(folder, *[part for part in name.split("/") if part not in ("", ".")])
    if not os.path.lexists(candidate) and "/" not in name:
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            names = []
        lowered = name.lower()
        candidate = next(
            (os.path.join(folder, n) for n in names if n.lower() == lowered), candidate
        )
    real_folder = os.path.realpath(folder)
    real = os.path.realpath(candidate)
    if real == real_folder or os.path.commonpath([real, real_folder]) != real_folder:
        raise InputError(
            label,
            f"the label names data file {limits.one_line(repr(name), 120)}, a symbolic link "
            "(or a path through one) that leaves the label's folder; refused",
        )
    try:
        if not stat.S_ISREG(os.stat(real).st_mode):
            return None
    except OSError:
        return None
    return os.path.join(_folder(label), os.path.relpath(candidate, folder))


def _same_stem(path, extensions) -> list[str]:
    """Files beside ``path`` with its stem and one of ``extensions`` (any case), sorted; only
    regular files that resolve inside the folder (no link leaving it, :func:`data_file`)."""
    folder = _folder(path)
    stem = os.path.splitext(os.path.basename(os.fspath(path)))[0].lower()
    try:
        names = sorted(os.listdir(folder or "."))
    except OSError:
        return []
    return [
        os.path.join(folder, n)
        for n in names
        if os.path.splitext(n)[0].lower() == stem
        and os.path.splitext(n)[1].lower() in extensions
        and _beside(path, n) is not None
    ]


def _has_extension(path, extensions) -> bool:
    return os.path.splitext(os.fspath(path))[1].lower() in extensions


def _starts_with_label(path) -> bool:
    """True if the file begins with ``PDS_VERSION_ID`` (an attached label)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
    except OSError:
        return False
    return sniff_pds3(head)


def find_label(path) -> str | None:
    """The detached PDS3 label beside a data file, or None.

    Parameters
    ----------
    path : str or path-like
        A data file (``.IMG``, ``.DAT``, ``.QUB`` in any case).

    Returns
    -------
    str or None
        The file with the same stem and extension ``.LBL`` (any case; the first in sorted
        order) in the same folder, joined to the folder as given; None when ``path`` is not a
        data file or no such label exists.
    """
    if not _has_extension(path, DATA_EXTENSIONS):
        return None
    labels = _same_stem(path, LABEL_EXTENSIONS)
    return labels[0] if labels else None


def label_for(path) -> str:
    """The PDS3 label to read for ``path``: itself, or the label beside a data file.

    Parameters
    ----------
    path : str or path-like
        A label (``.LBL``), or a data file (``.IMG``, ``.DAT``, ``.QUB``) with its label
        beside it (:func:`find_label`) or attached (the file begins with ``PDS_VERSION_ID``).

    Returns
    -------
    str
        The label's path.

    Raises
    ------
    InputError
        For a data file with neither a label beside it nor an attached one.
    """
    path = os.fspath(path)
    if not _has_extension(path, DATA_EXTENSIONS):
        return path
    label = find_label(path)
    if label is not None:
        return label
    if _starts_with_label(path):
        return path
    raise InputError(path, "PDS data file without a label (.LBL) beside it")


def _pointer_names(label) -> list[str]:
    """File names that the ``^`` pointers of a label name (no pvl: a text scan to ``END``)."""
    names = []
    try:
        with open(label, "rb") as handle:
            head = handle.read(LABEL_MAX_BYTES)
    except OSError:
        return []
    for line in head.decode("latin-1").splitlines():
        if line.strip() == "END":
            break
        match = _POINTER.match(line)
        if match:
            names.append(match.group(1) or match.group(2))
    return names


def input_files(path) -> list[str]:
    """The files whose content makes up an input: a PDS3 label and its data file(s).

    Parameters
    ----------
    path : str or path-like
        Any input file. For a label (``.LBL``) or a data file with its label beside it, the
        product's files are listed; anything else is its own single file.

    Returns
    -------
    list of str
        ``[label, *data files]``: the label first, then, sorted, the files its pointers name
        and the data files with its stem (``.IMG``/``.DAT``/``.QUB``, any case) beside it;
        ``[path]`` for other inputs. Names that leave the label's folder (:func:`data_file`)
        are not listed.
    """
    path = os.fspath(path)
    if _has_extension(path, DATA_EXTENSIONS):
        label = find_label(path)
        if label is None:
            return [path]
        path = label
    if not _has_extension(path, LABEL_EXTENSIONS):
        return [path]
    files = set(_same_stem(path, DATA_EXTENSIONS))
    for name in _pointer_names(path):
        found = _beside(path, name)
        if found is not None:
            files.add(found)
    files.discard(path)
    return [path, *sorted(files)]


@lru_cache(maxsize=1)
def spectrometer_wavelengths() -> np.ndarray:
    """The 336 JIRAM spectrometer channel wavelengths [um] shipped as package data."""
    text = resources.files("thermal").joinpath("data/jiram_spectrometer_wavelengths.csv")
    rows = [
        line.split(",")
        for line in text.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#") and not line.startswith("channel")
    ]
    values = np.array([float(r[1]) for r in rows])
    values.flags.writeable = False
    return values


_CONTINUATION = re.compile(r"-[\n\r\f]\s*")  # pvl's OmniParser joins "ABC-\n  DEF" lines
_WORD = re.compile(r"(?:[^\s=(){}<>\"',;#/]|/(?!\*))+")  # up to a delimiter or comment
_IN_GROUP = re.compile(r"[\"'(){}=]|/\*")  # what matters inside a ( ) or { } list
_CLOSING = {"(": ")", "{": "}"}


def _line(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _skip_comment(text: str, i: int, path) -> int:
    end = text.find("*/", i + 2)
    if end < 0:
        raise InputError(path, f"PDS3 label: unterminated /* comment at line {_line(text, i)}")
    return end + 2


def _skip_quoted(text: str, i: int, path) -> int:
    end = text.find(text[i], i + 1)
    if end < 0:
        raise InputError(
            path, f"PDS3 label: unterminated {text[i]} quote at line {_line(text, i)}"
        )
    return end + 1


def _skip_group(text: str, i: int, path) -> int:
    """End of the ( ) or { } list that opens at ``i`` (nested lists, quotes and comments
    inside); a list may not hold '='."""
    stack = [_CLOSING[text[i]]]
    j = i + 1
    while stack:
        found = _IN_GROUP.search(text, j)
        if found is None:
            raise InputError(path, f"PDS3 label: unclosed {text[i]} at line {_line(text, i)}")
        j = found.start()
        c = text[j]
        if c in "\"'":
            j = _skip_quoted(text, j, path)
            continue
        if c == "/":
            j = _skip_comment(text, j, path)
            continue
        if c in _CLOSING:
            stack.append(_CLOSING[c])
        elif c in ")}":
            if c != stack.pop():
                raise InputError(path, f"PDS3 label: mismatched {c!r} at line {_line(text, j)}")
        else:
            raise InputError(path, f"PDS3 label: '=' inside a list at line {_line(text, j)}")
        j += 1
    return j


def _tokens(text: str, path):
    """(kind, start, end) of the top-level tokens of a label: ``word``, ``=``, ``;``,
    ``value`` (a quoted string or a list) and ``units`` (``<...>``)."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("/*", i):
            i = _skip_comment(text, i, path)
        elif c == "#":  # a comment to the end of the line (pvl's omni grammar)
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif c in "\"'":
            end = _skip_quoted(text, i, path)
            yield "value", i, end
            i = end
        elif c in _CLOSING:
            end = _skip_group(text, i, path)
            yield "value", i, end
            i = end
        elif c == "<":
            end = text.find(">", i + 1)
            if end < 0 or "=" in text[i:end]:
                raise InputError(path, f"PDS3 label: unclosed < at line {_line(text, i)}")
            yield "units", i, end + 1
            i = end + 1
        elif c in "=;":
            yield c, i, i + 1
            i += 1
        elif c in ")}>,":
            raise InputError(path, f"PDS3 label: unexpected {c!r} at line {_line(text, i)}")
        else:
            j = _WORD.match(text, i).end()
            yield "word", i, j
            i = j


def _label_syntax(text: str, path) -> int:
    """Check the statement structure of a label in linear time; return where it ends (after
    ``END``, or the text's length without one).

    Every statement must be ``KEYWORD = value [<units>] [;]`` or a bare keyword
    (``END_OBJECT``); an ``=`` anywhere else (``A = 1 =``, ``A = B = C``, a value missing
    before the next keyword) is refused, because pvl's error recovery loops forever on some
    of them.
    """
    state = "start"  # start | name | value | after
    for kind, start, end in _tokens(text, path):
        if state == "start" or (state in ("name", "after") and kind == "word"):
            if kind != "word":
                raise InputError(
                    path,
                    f"PDS3 label: {text[start:end][:20]!r} where a keyword was expected at line "
                    f"{_line(text, start)} (a missing value or a stray '='?)",
                )
            if text[start:end].upper() == "END":
                return end
            state = "name"
        elif state == "name":
            if kind != "=":
                raise InputError(
                    path, f"PDS3 label: a keyword without '=' at line {_line(text, start)}"
                )
            state = "value"
        elif state == "value":
            if kind not in ("word", "value"):
                raise InputError(
                    path, f"PDS3 label: no value after '=' at line {_line(text, start)}"
                )
            state = "after"
        elif kind == "units" and state == "after":
            state = "units"
        elif kind == ";" or (state == "units" and kind == "word"):
            state = "start" if kind == ";" else "name"
            if kind == "word" and text[start:end].upper() == "END":
                return end
        else:
            raise InputError(
                path,
                f"PDS3 label: unexpected {text[start:end][:20]!r} after a value at line "
                f"{_line(text, start)} (a stray '='?)",
            )
    return len(text)


def _label_text(path) -> str:
    """The label's text up to its ``END`` statement: at most :data:`LABEL_MAX_BYTES`, newlines
    and continuation lines as pvl reads them, syntax checked (:func:`_label_syntax`)."""
    with open(path, "rb") as handle:
        raw = handle.read(LABEL_MAX_BYTES + 1)
    text = raw.decode("latin-1").replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTINUATION.sub("", text)
    end = _label_syntax(text, path)
    if end == len(text) and len(raw) > LABEL_MAX_BYTES:
        raise InputError(
            path,
            f"PDS3 label: no END statement in the first {limits.format_bytes(LABEL_MAX_BYTES)}"
            " (not a label, or larger than labels are read)",
        )
    try:
        return text[:end].encode("latin-1").decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(
            path,
            f"PDS3 label: not ASCII text (byte 0x{error.object[error.start]:02x} at offset "
            f"{error.start} of the label)",
        ) from error


def _label(path):
    try:
        with warnings.catch_warnings():
            # pvl 1.3 warns about its own deprecated Units class at import, and that the
            # optional multidict package is absent (which says nothing about the label)
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            warnings.filterwarnings("ignore", "The multidict library is not present")
            import pvl
    except ImportError as error:  # pragma: no cover - pvl is in the io extra
        raise InputError(path, "reading PDS3 labels needs pvl (pip install thermal[io])") from (
            error
        )
    text = _label_text(path)
    seconds = LABEL_TIMEOUT + LABEL_SECONDS_PER_BYTE * len(text)
    try:
        with limits.deadline(seconds, path, "parsing the PDS3 label"), warnings.catch_warnings():
            # pvl's note that the optional multidict package is absent says nothing about
            # the label
            warnings.filterwarnings("ignore", "The multidict library is not present")
            label = pvl.loads(text)
    except InputError:
        raise
    except StopIteration as error:  # pvl's tokenizer ran out of text
        raise InputError(
            path, "not a readable PDS3 label: it ends before an OBJECT or GROUP is closed"
        ) from error
    except Exception as error:  # pvl raises several parser exception types
        raise InputError(path, f"not a readable PDS3 label: {limits.reason(error)}") from error
    if not isinstance(label, Mapping):  # pragma: no cover - pvl returns a PVLModule
        raise InputError(path, "not a readable PDS3 label")
    return label


def _plain(value):
    """A pvl value as a plain Python value (Quantity -> its value, 'N/A' -> None)."""
    if hasattr(value, "value") and hasattr(value, "units"):
        value = value.value
    if isinstance(value, str) and value.strip().upper() in ("N/A", "UNK", "NULL", ""):
        return None
    return value


def _integer(path, where: str, value, default: int = 0) -> int:
    """A label value that must be an integer (``None``/``"N/A"`` -> ``default``)."""
    value = _plain(value)
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,30}\s*", value):
        return int(value)
    raise InputError(path, f"{where} = {limits.one_line(repr(value), 60)} is not an integer")


def _group(path, parent, key: str) -> Mapping:
    """The OBJECT or GROUP ``key`` of ``parent`` ({} if absent)."""
    value = parent.get(key, {})
    if not isinstance(value, Mapping):
        raise InputError(path, f"{key} is a keyword, not an OBJECT or GROUP, in the label")
    return value


def _data_file(label_path, pointer) -> tuple[str, int, bool]:
    """(data file path, offset, offset in bytes?) of a detached ``^IMAGE``/``^TABLE`` pointer:
    ``"X.IMG"``,
    ``("X.IMG", record)`` (records of ``RECORD_BYTES``, from 1) or ``("X.IMG", n <BYTES>)``
    (bytes, from 1). The file must be inside the label's folder (:func:`data_file`)."""
    units = None
    if isinstance(pointer, (list, tuple)) and len(pointer) == 2:
        name, record = pointer
        units = str(getattr(record, "units", "") or "").upper() or None
        record = _integer(label_path, "the data pointer's record", record, default=1)
    elif isinstance(pointer, str):
        name, record = pointer, 1
    else:
        raise InputError(
            label_path, f"unsupported data pointer {limits.one_line(repr(pointer), 80)}"
        )
    if not isinstance(name, str):
        raise InputError(label_path, "the data pointer names no file")
    if record < 1:
        raise InputError(label_path, f"data pointer record {record} (records count from 1)")
    if units not in (None, "BYTES"):
        raise InputError(label_path, f"data pointer unit {units!r} (BYTES or none)")
    found = data_file(label_path, name)
    if found is None:
        shown = limits.one_line(repr(name), 120)
        raise InputError(label_path, f"data file {shown} named by the label is missing")
    return found, record - 1, units == "BYTES"


def _read_floats(label_path, data_path, offset, count, record_bytes, what):
    """The ``count`` 32-bit floats from ``offset`` (records, or bytes when ``record_bytes`` is
    None) of ``data_path`` as float64, in the more plausible byte order."""
    expected = count * 4
    size = os.path.getsize(data_path)
    start = offset * record_bytes if record_bytes else offset
    if size != start + expected:
        raise InputError(
            label_path,
            f"data file {os.path.basename(data_path)!r} has {size} bytes; the label implies "
            f"{start + expected}",
        )
    limits.check_memory(label_path, count * BYTES_PER_VALUE, what)
    raw = np.fromfile(data_path, dtype=np.uint8, count=expected, offset=start)
    if raw.size != expected:  # the file changed under us
        raise InputError(label_path, f"data file {os.path.basename(data_path)!r} is truncated")

    def score(values):
        with np.errstate(invalid="ignore", over="ignore"):
            return np.count_nonzero(np.isfinite(values) & (np.abs(values) < 1e4))

    little, big = raw.view("<f4"), raw.view(">f4")
    if score(big) > score(little):
        return big.astype(np.float64), "big-endian"
    return little.astype(np.float64), "little-endian"


def _normalise_unit(label_path, unit, band, band_integrated):
    """(factor to W m-2 sr-1 um-1, note) for the label's UNIT string."""
    key = "".join(str(unit).lower().split()) if unit else ""
    if key in ("".join(u.split()) for u in _PER_UM):
        return 1.0, "per-um spectral radiance as labelled"
    if key in ("".join(u.split()) for u in _BAND_INTEGRATED):
        if band_integrated == "relabelled":
            return 1.0, (
                "label unit W/(m^2*sr) taken as per-um spectral radiance (band_integrated="
                "'relabelled'; see docs/formats.md)"
            )
        if band_integrated == "divide":
            if band not in BAND_WIDTH:
                raise InputError(label_path, "band-integrated radiance needs an imager band")
            return 1.0 / BAND_WIDTH[band], (
                f"label unit W/(m^2*sr) divided by the {band} width {BAND_WIDTH[band]} um"
            )
        raise OptionError(
            f"band_integrated must be 'relabelled' or 'divide'; got {band_integrated!r}"
        )
    raise InputError(label_path, f"unknown JIRAM radiance unit {limits.one_line(repr(unit), 80)}")


def _warn_about_unit(label_path, unit, band_integrated, imager=True) -> None:
    """Once per product: how a band-integrated UNIT was read, or that the choice to divide
    does not apply to a per-um one."""
    key = "".join(str(unit).lower().split()) if unit else ""
    integrated = key in ("".join(u.split()) for u in _BAND_INTEGRATED)
    if integrated and not imager:
        text = f"UNIT {unit!r} read as per-um radiance (a spectrometer product: no band width)"
    elif integrated and band_integrated == "relabelled":
        text = (
            f"UNIT {unit!r} read as per-um radiance (band_integrated='relabelled'); for "
            "band-integrated products give band_integrated='divide' (thermal fit/detect: "
            "--radiance-unit band-integrated)"
        )
    elif not integrated and band_integrated == "divide":
        text = (
            f"UNIT {unit!r} is per um already: band_integrated='divide' (--radiance-unit "
            "band-integrated) does not apply and nothing was divided"
        )
    else:
        return
    warnings.warn(f"{label_path}: {text}", UserWarning, stacklevel=5)


def _identity(label) -> dict:
    attrs = {}
    for key in (
        "PRODUCT_ID",
        "DATA_SET_ID",
        "PRODUCT_TYPE",
        "PROCESSING_LEVEL_ID",
        "PRODUCT_VERSION_ID",
        "STANDARD_DATA_PRODUCT_ID",
        "INSTRUMENT_MODE_ID",
        "TARGET_NAME",
        "START_TIME",
        "STOP_TIME",
        "SPACECRAFT_CLOCK_START_COUNT",
        "ORBIT_NUMBER",
        "SOFTWARE_VERSION_ID",
    ):
        if key in label:
            value = _plain(label[key])
            if value is not None:
                attrs[f"jiram_{key.lower()}"] = (
                    ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
                )
    if "PRODUCT_ID" in label:
        attrs["product_id"] = str(label["PRODUCT_ID"])
    if "SPICE_FILE_NAME" in label:
        # a PDS set: pvl returns a frozenset and the kernel order is lost (docs/formats.md)
        kernels = label["SPICE_FILE_NAME"]
        if not isinstance(kernels, (list, tuple, set, frozenset)):
            kernels = [kernels]
        attrs["jiram_spice_file_name"] = ", ".join(sorted(map(str, kernels)))
    return attrs


def _geometry(label, group, distance, path=None):
    """(slant distance [m] or None, emission angle [degree] or None, lat, lon_east)."""
    params = _group(path, label, group) if group else {}
    emission = _plain(params.get("EMISSION_ANGLE")) if params else None
    if distance is None and params:
        slant = _plain(params.get("SLANT_DISTANCE"))
        if slant is not None:
            unit = getattr(params["SLANT_DISTANCE"], "units", "km") or "km"
            from thermal.units import conversion_factor

            distance = float(slant) * conversion_factor(str(unit), "m")
    lat = _plain(params.get("CENTER_LATITUDE")) if params else None
    lon = _plain(params.get("CENTER_LONGITUDE")) if params else None
    return distance, emission, lat, lon


def frame_geometry(path) -> dict:
    """The label's one-per-frame viewing geometry of each imager band of a JIRAM product.

    Parameters
    ----------
    path : str or path-like
        The ``.LBL`` file.

    Returns
    -------
    dict
        ``{band: {"range": [m], "emission_angle": [degree], "latitude": [degrees_north],
        "longitude_west": [degrees_west]}}`` for ``jiram_l`` and ``jiram_m``; a value is None
        where the label leaves it empty (``"N/A"``, as in most frames of orbits >= 39), and a
        band whose group is absent is left out.

    Raises
    ------
    InputError
        An unreadable label.
    """
    label = _label(path)
    out = {}
    for band, group in (("jiram_l", "L_BAND_PARAMETERS"), ("jiram_m", "M_BAND_PARAMETERS")):
        if group not in label:
            continue
        distance, emission, lat, lon = _geometry(label, group, None, path)
        values = {
            "range": distance,
            "emission_angle": emission,
            "latitude": lat,
            "longitude_west": lon,
        }
        for key, value in values.items():
            try:
                values[key] = None if value is None else float(value)
            except (TypeError, ValueError):
                raise InputError(path, f"{group} {key} is not a number: {value!r}") from None
        out[band] = values
    return out


def _pixel_area(path, distance, emission):
    """Surface area [m2] of a pixel at ``distance`` [m] and ``emission`` [degree] (0 if None),
    or None without a distance or with geometry that has no footprint (warned)."""
    if distance is None:
        return None
    e = 0.0 if emission is None else float(emission)
    try:
        return surface_footprint_area(float(distance), IFOV, e, 90.0)
    except ValueError as error:
        warnings.warn(f"{path}: no pixel_area: {error}", UserWarning, stacklevel=4)
        return None


def read_jiram(
    path,
    *,
    wavelengths=None,
    band_integrated: str = "relabelled",
    distance: float | None = None,
    relative_uncertainty: float = 0.05,
) -> xr.Dataset:
    """Read a JIRAM RDR product (imager or spectrometer) from its PDS3 label.

    Parameters
    ----------
    path : str or path-like
        The ``.LBL`` file (the data file it names must sit beside it).
    wavelengths : array_like, optional
        Spectrometer channel wavelengths [um], 336 values; default: the shipped grid.
    band_integrated : {"relabelled", "divide"}, optional
        How to read imager products labelled ``W/(m^2*sr)`` (see the module notes).
    distance : float, optional
        Slant distance to the surface [m], overriding the label (e.g. from SPICE).
    relative_uncertainty : float, optional
        RDRs carry no uncertainty; ``radiance_uncertainty`` is this fraction of each radiance
        (floored at 1e-3 of the product's median absolute radiance), an explicit assumption
        recorded in the variable's ``comment``. Default 0.05; must be > 0.

    Returns
    -------
    xarray.Dataset
        Imager: ``radiance (line, sample, band)`` [W m-2 sr-1 um-1], band ``jiram_l`` and/or
        ``jiram_m``. Spectrometer: ``radiance (pixel, wavelength)``. With geometry,
        ``pixel_area`` [m2] and ``emission_angle`` [degree].

    Raises
    ------
    InputError
        Missing or wrongly sized data file, unknown unit, unsupported product.
    """
    if distance is not None and not distance > 0:
        raise OptionError(f"distance must be > 0 [m]; got {distance}")
    if not relative_uncertainty > 0:
        raise OptionError(f"relative_uncertainty must be > 0; got {relative_uncertainty}")
    if band_integrated not in ("relabelled", "divide"):
        raise OptionError(
            f"band_integrated must be 'relabelled' or 'divide'; got {band_integrated!r}"
        )
    if wavelengths is not None:
        try:
            wavelengths = np.asarray(wavelengths, dtype=float)
        except (TypeError, ValueError) as error:
            raise OptionError(f"wavelengths must be numbers [um]: {error}") from None
        if wavelengths.ndim != 1:
            raise OptionError(f"wavelengths must be 1-D [um]; got shape {wavelengths.shape}")
    label = _label(path)
    if "FILE" not in label:
        raise InputError(path, "PDS3 label has no OBJECT = FILE (not a JIRAM RDR label)")
    file_object = _group(path, label, "FILE")
    record_bytes = _integer(path, "RECORD_BYTES", file_object.get("RECORD_BYTES"))
    if record_bytes < 0:
        raise InputError(path, f"RECORD_BYTES = {record_bytes} (must be >= 0)")
    unit = _plain(file_object.get("UNIT"))
    attrs = _identity(label)
    if "^IMAGE" in file_object:
        ds = _read_image(path, label, file_object, record_bytes, unit, band_integrated, distance)
    elif "^TABLE" in file_object:
        if band_integrated == "divide":
            warnings.warn(
                f"{path}: a spectrometer product: band_integrated='divide' (--radiance-unit "
                "band-integrated) applies to imager frames only; nothing was divided",
                UserWarning,
                stacklevel=3,
            )
        ds = _read_spectrometer(
            path, file_object, record_bytes, unit, wavelengths, distance, label
        )
    else:
        raise InputError(path, "label has neither ^IMAGE nor ^TABLE inside OBJECT = FILE")
    radiance = ds["radiance"].values
    with np.errstate(invalid="ignore"):
        floor = 1e-3 * np.nanmedian(np.abs(radiance)) if np.isfinite(radiance).any() else 0.0
        sigma = relative_uncertainty * np.maximum(np.abs(radiance), floor if floor > 0 else 1e-30)
    ds["radiance_uncertainty"] = (
        ds["radiance"].dims,
        sigma,
        {
            "units": "W m-2 sr-1 um-1",
            "long_name": "assumed 1-sigma uncertainty of spectral radiance",
            "comment": f"not in the product: {relative_uncertainty:g} of the radiance "
            "(read_jiram relative_uncertainty=)",
        },
    )
    ds.attrs.update(attrs)
    ds.attrs["jiram_label_unit"] = str(unit)
    ds.attrs["source"] = os.path.basename(str(path))
    ds.attrs["instrument"] = "Juno JIRAM"
    ds.attrs["platform"] = "Juno"
    return finalise(ds, path, source_format="jiram-pds3")


REAL_TYPES = frozenset(
    {"IEEE_REAL", "PC_REAL", "MSB_IEEE_REAL", "LSB_IEEE_REAL", "MAC_REAL", "SUN_REAL", "REAL",
     "FLOAT"}
)  # fmt: skip
"""PDS3 sample types read as 32-bit IEEE floats (the byte order is decided from the data);
integers and VAX floats are refused."""


def _check_real(path, where: str, value) -> None:
    """A declared sample or data type (absent: assumed real) that must be an IEEE real."""
    kind = _plain(value)
    if kind is not None and str(kind).strip().upper() not in REAL_TYPES:
        raise InputError(
            path,
            f"{where} = {limits.one_line(str(kind), 40)}: only 32-bit IEEE reals are read "
            "(JIRAM RDR products are)",
        )


def _read_image(path, label, file_object, record_bytes, unit, band_integrated, distance):
    image = _group(path, file_object, "IMAGE")
    lines = _integer(path, "LINES", image.get("LINES"))
    samples = _integer(path, "LINE_SAMPLES", image.get("LINE_SAMPLES"))
    bits = _integer(path, "SAMPLE_BITS", image.get("SAMPLE_BITS"), default=32)
    if lines <= 0 or samples <= 0 or bits != 32:
        raise InputError(path, f"unsupported IMAGE shape {lines} x {samples} x {bits} bits")
    _check_real(path, "SAMPLE_TYPE", image.get("SAMPLE_TYPE"))
    data_path, offset, in_bytes = _data_file(path, file_object["^IMAGE"])
    values, byte_order = _read_floats(
        path,
        data_path,
        offset,
        lines * samples,
        0 if in_bytes else record_bytes,
        f"the IMAGE ({lines} x {samples} values)",
    )
    values = values.reshape(lines, samples)
    mode = str(_plain(label.get("INSTRUMENT_MODE_ID")) or "").upper()
    if lines == 2 * _HALF_LINES:
        halves = [("jiram_l", slice(0, _HALF_LINES)), ("jiram_m", slice(_HALF_LINES, lines))]
    elif lines == _HALF_LINES and "I2" in mode:
        halves = [("jiram_m", slice(0, lines))]
    elif lines == _HALF_LINES and "I3" in mode:
        halves = [("jiram_l", slice(0, lines))]
    else:
        raise InputError(
            path, f"cannot tell the L/M halves of a {lines}-line frame in mode {mode!r}"
        )
    names = [h[0] for h in halves]
    radiance = np.full((lines, samples, len(halves)), np.nan)
    pixel_area = np.full(lines, np.nan)
    emission_angle = np.full(lines, np.nan)
    notes = []
    for k, (band, rows) in enumerate(halves):
        factor, note = _normalise_unit(path, unit, band, band_integrated)
        notes.append(f"{band}: {note}")
        radiance[rows, :, k] = values[rows] * factor
        group = "L_BAND_PARAMETERS" if band == "jiram_l" else "M_BAND_PARAMETERS"
        slant, emission, _, _ = _geometry(label, group, distance, path)
        area = _pixel_area(path, slant, emission)
        if area is not None:
            pixel_area[rows] = area
        if emission is not None:
            emission_angle[rows] = float(emission)
    _warn_about_unit(path, unit, band_integrated)
    radiance_attrs = {
        "units": "W m-2 sr-1 um-1",
        "original_units": str(unit),
        "standard_name": RADIANCE_STANDARD_NAME,
        "comment": "; ".join(notes),
    }
    ds = xr.Dataset(
        {"radiance": (("line", "sample", "band"), radiance, radiance_attrs)},
        coords={
            "line": ("line", np.arange(lines), {"long_name": "image line (0-based)"}),
            "sample": ("sample", np.arange(samples), {"long_name": "image sample (0-based)"}),
            "band": ("band", np.array(names, dtype=object)),
        },
    )
    if np.any(np.isfinite(pixel_area)):
        ds["pixel_area"] = ("line", pixel_area, _PIXEL_AREA_ATTRS)
    if np.any(np.isfinite(emission_angle)):
        ds["emission_angle"] = (
            "line",
            emission_angle,
            _EMISSION_ATTRS,
        )
    ds.attrs["byte_order"] = byte_order
    ds.attrs["data_file"] = os.path.basename(data_path)
    return ds


def _read_spectrometer(path, file_object, record_bytes, unit, wavelengths, distance, label):
    table = _group(path, file_object, "TABLE")
    rows = _integer(path, "ROWS", table.get("ROWS"))
    columns = _integer(path, "COLUMNS", table.get("COLUMNS"))
    if rows <= 0 or columns <= 0:
        raise InputError(path, f"unsupported TABLE shape {rows} x {columns}")
    column = table.get("COLUMN", {})
    for item in column if isinstance(column, list) else [column]:
        if not isinstance(item, Mapping):
            raise InputError(path, "COLUMN is a keyword, not an OBJECT, in the TABLE")
        _check_real(path, "DATA_TYPE", item.get("DATA_TYPE"))
        size = _integer(path, "ITEM_BYTES", item.get("ITEM_BYTES"), default=4)
        if size != 4:
            raise InputError(path, f"ITEM_BYTES = {size}: only 4-byte (32-bit) reals are read")
    grid = spectrometer_wavelengths() if wavelengths is None else np.asarray(wavelengths, float)
    if grid.shape != (columns,):
        raise InputError(
            path, f"{columns} spectral channels but {grid.size} wavelengths were given"
        )
    data_path, offset, in_bytes = _data_file(path, file_object["^TABLE"])
    values, byte_order = _read_floats(
        path,
        data_path,
        offset,
        rows * columns,
        0 if in_bytes else record_bytes,
        f"the TABLE ({rows} x {columns} values)",
    )
    factor, note = _normalise_unit(path, unit, None, "relabelled")
    _warn_about_unit(path, unit, "relabelled", imager=False)
    radiance = values.reshape(rows, columns) * factor
    ds = xr.Dataset(
        {
            "radiance": (
                ("pixel", "wavelength"),
                radiance,
                {
                    "units": "W m-2 sr-1 um-1",
                    "original_units": str(unit),
                    "standard_name": RADIANCE_STANDARD_NAME,
                    "comment": note,
                },
            )
        },
        coords={
            "pixel": ("pixel", np.arange(rows), {"long_name": "slit pixel (0-based)"}),
            "wavelength": (
                "wavelength",
                grid,
                {
                    "units": "um",
                    "comment": "thermal/data/jiram_spectrometer_wavelengths.csv version 1"
                    if wavelengths is None
                    else "user-supplied",
                },
            ),
        },
    )
    slant, emission, _, _ = _geometry(label, "SPECTROMETER_PARAMETERS", distance, path)
    area = _pixel_area(path, slant, emission)
    if area is not None:
        ds["pixel_area"] = ((), area, _PIXEL_AREA_ATTRS)
    if emission is not None:
        ds["emission_angle"] = (
            (),
            float(emission),
            _EMISSION_ATTRS,
        )
    ds.attrs["byte_order"] = byte_order
    ds.attrs["data_file"] = os.path.basename(data_path)
    return ds
