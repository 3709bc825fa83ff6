"""Mutants of the bundled example observations: broken and hostile variants of every format.

Used by ``tests/io/test_fuzz.py`` (hypothesis draws the operations) and ``benchmarks/fuzz.py``
(:func:`random_operations` draws them from a seeded ``random.Random``). Inputs are never
modified: :func:`materialise` copies a product into a work folder and changes the copy.

A *product* is the files that make one input (a JIRAM label and its data file) and the one
to open. An *operation* is a tuple, applied to one file's bytes by :func:`apply`:

- ``("flip", position, value)``: set one byte;
- ``("truncate", position)``: cut the file;
- ``("insert", position, bytes)`` and ``("delete", position, count)``;
- ``("line", index, action, token)``: a text edit of one line (``replace`` a field by a
  hostile token, ``insert`` the token as a line before it, ``delete`` or ``duplicate`` it);
- ``("card", index, token)``: give a FITS header card a hostile value.

Positions and indices are taken modulo the file's length, so any integer is valid.
"""

from __future__ import annotations

import dataclasses
import io
import os
import random
import re
import shutil
import time
import warnings
from functools import cache

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "data", "examples")

# tokens that break parsers: syntax, numbers at the edges of their types, paths, encodings
TOKENS = (
    "",
    "=",
    "= 1 =",
    '"',
    "'",
    "(",
    ")",
    "{",
    "}",
    "<",
    ">",
    "/*",
    "*/",
    ",",
    ";",
    "#",
    "-",
    "END",
    "END_OBJECT",
    "OBJECT = FILE",
    "N/A",
    "nan",
    "inf",
    "-inf",
    "1e400",
    "-1",
    "0",
    "3",
    "128",
    "4294967297",
    "99999999999999999999",
    "2.5",
    "'WAVE-TAB'",
    "'SCI'",
    "T",
    '"../secret.IMG"',
    '"/etc/hostname"',
    '^IMAGE = "../x.IMG"',
    '("X.IMG", 0)',
    "\x00",
    "\xff\xfe",
    "\u00e9",
    "\r",
    "2013-13-45T99:99:99",
    "Jy",
    "W/(m^2*sr)",
)
_ACTIONS = ("replace", "insert", "delete", "duplicate")


@dataclasses.dataclass(frozen=True)
class Product:
    """The files of one input (names in ``data/examples``, or generated) and their kinds."""

    name: str
    files: tuple[str, ...]  # the first one is opened
    kinds: tuple[str, ...]  # per file: "text", "binary" or "fits"


PRODUCTS = (
    Product("csv", ("keck_2013-08.csv",), ("text",)),
    Product("mrt", ("keck_table.mrt",), ("text",)),
    Product("netcdf", ("nims_like_spectra.nc",), ("binary",)),
    Product(
        "jiram-image",
        ("JIR_IMG_RDR_2017033T114006_V99.LBL", "JIR_IMG_RDR_2017033T114006_V99.IMG"),
        ("text", "binary"),
    ),
    Product(
        "jiram-spectrometer",
        ("JIR_SPE_RDR_2017033T114007_V99.LBL", "JIR_SPE_RDR_2017033T114007_V99.DAT"),
        ("text", "binary"),
    ),
    Product("fits", ("jwst_nirspec_synthetic_s3d.fits",), ("fits",)),
)
"""Every bundled format (``mrt``, which has no bundled example, is generated)."""


def product(name: str) -> Product:
    """The product called ``name``."""
    return next(p for p in PRODUCTS if p.name == name)


@cache
def original(name: str) -> bytes:
    """The bytes of a product file (``keck_table.mrt`` is written from the Keck CSV)."""
    if name == "keck_table.mrt":
        return _mrt()
    with open(os.path.join(EXAMPLES, name), "rb") as handle:
        return handle.read()


def _mrt() -> bytes:
    """An AAS machine-readable table of hot-spot photometry (astropy's writer)."""
    from astropy.table import Table

    table = Table(
        {
            "Name": ["Loki", "Pele", "Rarog"],
            "Lat": [12.0, -19.0, -42.0],
            "LonW": [309.0, 255.0, 305.0],
            "Kc": [25.0, 40.0, 500.0],
            "e_Kc": [1.0, 2.0, 100.0],
            "Lp": [40.0, 60.0, 500.0],
            "e_Lp": [2.0, 3.0, 100.0],
        }
    )
    for column in ("Kc", "e_Kc", "Lp", "e_Lp"):
        table[column].unit = "GW um-1 sr-1"
    table["Lat"].unit = table["LonW"].unit = "deg"
    buffer = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table.write(buffer, format="ascii.mrt")
    return buffer.getvalue().encode()


# ---------------------------------------------------------------------------------------------
# Operations


def apply(data: bytes, operation: tuple) -> bytes:
    """``data`` changed by one operation (see the module notes)."""
    kind = operation[0]
    n = len(data)
    if kind == "flip":
        _, position, value = operation
        if n == 0:
            return data
        i = position % n
        return data[:i] + bytes([value % 256]) + data[i + 1 :]
    if kind == "truncate":
        return data[: operation[1] % (n + 1)]
    if kind == "insert":
        _, position, chunk = operation
        i = position % (n + 1)
        return data[:i] + bytes(chunk) + data[i:]
    if kind == "delete":
        _, position, count = operation
        i = position % (n + 1)
        return data[:i] + data[i + count % 64 + 1 :]
    if kind == "line":
        return _line(data, *operation[1:])
    if kind == "card":
        return _card(data, *operation[1:])
    raise ValueError(f"unknown operation {operation!r}")


def _line(data: bytes, index: int, action: str, token: str) -> bytes:
    lines = data.decode("latin-1").splitlines(keepends=True)
    if not lines:
        return token.encode("utf-8", "surrogatepass")
    i = index % len(lines)
    line = lines[i]
    if action == "delete":
        del lines[i]
    elif action == "duplicate":
        lines.insert(i, line)
    elif action == "insert":
        lines.insert(i, token + "\n")
    else:  # replace one field: a CSV cell, a label value or a word
        fields = re.split(r"([,=\s]+)", line)
        words = [k for k, f in enumerate(fields) if f and not re.fullmatch(r"[,=\s]+", f)]
        if words:
            fields[words[index // max(len(lines), 1) % len(words)]] = token
        lines[i] = "".join(fields)
    return "".join(lines).encode("latin-1", "replace")


def _card(data: bytes, index: int, token: str) -> bytes:
    """Give one 80-byte card of the headers a new value (columns 11-30)."""
    cards = [
        k
        for k in range(0, min(len(data), 4 * 2880), 80)
        if data[k + 8 : k + 10] == b"= " and not data[k : k + 8].startswith(b"END ")
    ]
    if not cards:
        return data
    k = cards[index % len(cards)]
    value = token.encode("latin-1", "replace")[:20].rjust(20)
    return data[: k + 10] + value + data[k + 30 :]


def random_operations(rng: random.Random, data: bytes, kind: str) -> list[tuple]:
    """1-4 operations drawn for a file of ``kind`` (``"text"``, ``"binary"`` or ``"fits"``)."""
    operations = []
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        position = rng.randrange(max(len(data), 1))
        if kind == "text" and choice < 0.55:
            operation = ("line", rng.randrange(1 << 16), rng.choice(_ACTIONS), rng.choice(TOKENS))
        elif kind == "fits" and choice < 0.45:
            operation = ("card", rng.randrange(1 << 16), rng.choice(TOKENS))
        elif choice < 0.75:
            operation = ("flip", position, rng.randrange(256))
        elif choice < 0.85:
            operation = ("truncate", position)
        elif choice < 0.93:
            operation = ("insert", position, rng.randbytes(rng.randint(1, 16)))
        else:
            operation = ("delete", position, rng.randrange(64))
        operations.append(operation)
    return operations


# ---------------------------------------------------------------------------------------------
# Files and reading


def materialise(item: Product, folder, target: int, operations) -> str:
    """Write ``item`` into ``folder`` with ``operations`` applied to its file ``target``
    (0: the file opened; 1: a JIRAM data file) and return the path to open. Files already in
    ``folder`` with the right content are not written again; a file written is a new file
    (renamed into place), because HDF5 keeps state about a file it has opened, and a file
    rewritten in place under the same inode can make the next open read stale metadata (10 s
    and more in its C code)."""
    for k, name in enumerate(item.files):
        data = original(name)
        if k == target:
            for operation in operations:
                data = apply(data, operation)
        path = os.path.join(folder, name)
        if k != target and _same(path, data):
            continue
        with open(path + ".new", "wb") as handle:
            handle.write(data)
        os.replace(path + ".new", path)
    return os.path.join(folder, item.files[0])


def _same(path, data: bytes) -> bool:
    try:
        if os.path.getsize(path) != len(data):
            return False
        with open(path, "rb") as handle:
            return handle.read() == data
    except OSError:
        return False


def read(path, *, timeout: float = 10.0, max_memory: float | None = None, isolated=False):
    """``(outcome, seconds, exception)`` of ``open_observation(path)`` (``isolated``: of
    ``open_isolated``, in a child process killed at the deadline, as the command line reads):
    outcome ``"ok"`` (a Dataset), ``"input_error"`` (an InputError) or ``"crash"``."""
    import xarray as xr

    from thermal.io import InputError, open_observation
    from thermal.io.isolated import open_isolated

    if isolated:
        open_observation = open_isolated  # the same call, in a child process

    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # as in production; pyproject makes them errors
            result = open_observation(path, timeout=timeout, max_memory=max_memory)
    except InputError as error:
        return "input_error", time.perf_counter() - started, error
    except Exception as error:  # anything else is a crash of the reader
        return "crash", time.perf_counter() - started, error
    seconds = time.perf_counter() - started
    if not isinstance(result, xr.Dataset):
        return "crash", seconds, TypeError(f"returned {type(result).__name__}")
    return "ok", seconds, None


def fresh_folder(folder) -> None:
    """Empty ``folder`` (a work folder of mutants)."""
    for name in os.listdir(folder):
        full = os.path.join(folder, name)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.remove(full)
