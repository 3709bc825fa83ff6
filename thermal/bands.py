"""Filter bands: response curves and the quadrature that turns them into band radiances.

A :class:`Band` holds a response table (wavelength [um], relative response) and the quadrature
rule built from it: ``nodes`` [um] and ``weights`` (summing to 1) such that the
response-weighted mean of any smooth spectrum ``f`` over the band is ``sum(weights * f(nodes))``.
The response is taken as piecewise linear between table points and each interval is integrated
with Gauss-Legendre nodes, so the rule is exact for the table and spectrally accurate for the
Planck function (a top-hat gets 24 nodes).

The bundled set (:func:`names`) is described in ``docs/physics.md``. Where no measured
curve is public, a band is a top-hat over its published 50 % range (``kind == "top-hat"``; its
``reference`` says where centre and width come from, and ``provenance`` whether they are
published or recalled). Build your own from a table with :func:`from_table` or
:func:`read_response`, and make it known by name with :func:`register`.

Bands are energy-weighted: ``weights`` integrate ``response * f``. For a photon-counting
detector, pass ``response * wavelength`` as the response.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources

import numpy as np

from thermal.units import quantity_inputs

__all__ = [
    "Band",
    "from_table",
    "get",
    "names",
    "read_response",
    "register",
    "registered",
    "top_hat",
]

_MIN_NODES = 24


@dataclass(frozen=True, eq=False)
class Band:
    """A filter band.

    Parameters
    ----------
    name : str
        Identifier, e.g. ``"nirc2_lp"``.
    wavelength : numpy.ndarray
        Wavelengths of the response table [um], increasing.
    response : numpy.ndarray
        Relative response at ``wavelength`` (any scale, >= 0).
    centre : float
        Central wavelength [um] (published centre for top-hats, else the response-weighted
        mean wavelength).
    width : float
        Width [um] (published width for top-hats, else the equivalent width).
    reference : str
        Where the curve or its centre and width come from.
    kind : str
        ``"top-hat"`` or ``"measured"``.
    instrument : str
        Telescope and instrument.
    provenance : str
        ``"published"``, ``"recalled"`` or ``"user"``.
    """

    name: str
    wavelength: np.ndarray = field(repr=False)
    response: np.ndarray = field(repr=False)
    centre: float
    width: float
    reference: str = ""
    kind: str = "measured"
    instrument: str = ""
    provenance: str = "user"

    @cached_property
    def _quadrature(self) -> tuple[np.ndarray, np.ndarray]:
        x, r = self.wavelength, self.response
        per_interval = max(2, math.ceil(_MIN_NODES / max(1, x.size - 1)))
        t, w = np.polynomial.legendre.leggauss(per_interval)
        x0, x1, r0, r1 = x[:-1, None], x[1:, None], r[:-1, None], r[1:, None]
        nodes = 0.5 * (x0 + x1) + 0.5 * (x1 - x0) * t
        resp = r0 + (r1 - r0) * (0.5 * (t + 1.0))
        weights = 0.5 * (x1 - x0) * w * resp
        keep = (weights > 0).ravel()
        nodes, weights = nodes.ravel()[keep], weights.ravel()[keep]
        return np.ascontiguousarray(nodes), np.ascontiguousarray(weights / weights.sum())

    @property
    def nodes(self) -> np.ndarray:
        """Quadrature nodes [um]."""
        return self._quadrature[0]

    @property
    def weights(self) -> np.ndarray:
        """Quadrature weights (sum to 1): band mean of f = sum(weights * f(nodes))."""
        return self._quadrature[1]

    @property
    def range(self) -> tuple[float, float]:
        """Wavelengths [um] where the response first and last reaches half its maximum."""
        half = 0.5 * self.response.max()
        above = np.flatnonzero(self.response >= half)
        return float(self.wavelength[above[0]]), float(self.wavelength[above[-1]])


def _validated_table(name: str, wavelength, response) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(wavelength, dtype=float).ravel()
    r = np.asarray(response, dtype=float).ravel()
    if x.size != r.size or x.size < 2:
        raise ValueError(
            f"band {name!r}: wavelength and response must be 1-D of equal length >= 2"
        )
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise ValueError(f"band {name!r}: wavelength must be finite and > 0 [um]")
    if np.any(np.diff(x) <= 0):
        raise ValueError(f"band {name!r}: wavelength must be strictly increasing [um]")
    if not np.all(np.isfinite(r)):
        raise ValueError(f"band {name!r}: response must be finite")
    r = np.clip(r, 0.0, None)  # measured curves carry small negative noise
    if not r.max() > 0:
        raise ValueError(f"band {name!r}: response must be > 0 somewhere")
    x.flags.writeable = False
    r.flags.writeable = False
    return x, r


@quantity_inputs(wavelength="um")
def from_table(
    name: str,
    wavelength,
    response,
    *,
    reference: str = "",
    instrument: str = "",
    provenance: str = "user",
) -> Band:
    """Build a :class:`Band` from a measured response table.

    Parameters
    ----------
    name : str
        Band name.
    wavelength : array_like or Quantity
        Wavelengths [um] (a Quantity of any length is converted), strictly increasing, > 0.
    response : array_like
        Relative response (any scale; negative values, e.g. noise, are clipped to 0).
    reference, instrument, provenance : str, optional
        Metadata kept with the band.

    Returns
    -------
    Band
        With ``centre`` the response-weighted mean wavelength [um] and ``width`` the
        equivalent width ``integral(R) / max(R)`` [um].
    """
    x, r = _validated_table(name, wavelength, response)
    area = np.trapezoid(r, x)
    centre = float(np.trapezoid(r * x, x) / area)
    return Band(
        name, x, r, centre, float(area / r.max()), reference, "measured", instrument, provenance
    )


@quantity_inputs(centre="um", width="um")
def top_hat(
    name: str,
    centre: float,
    width: float,
    *,
    reference: str = "",
    instrument: str = "",
    provenance: str = "user",
) -> Band:
    """A top-hat band of unit response over ``centre +- width / 2`` [um].

    Parameters
    ----------
    name : str
        Band name.
    centre : float
        Central wavelength [um], > 0.
    width : float
        Full width [um], 0 < width < 2 * centre.
    """
    if not centre > 0:
        raise ValueError(f"band {name!r}: centre must be > 0 [um]; got {centre}")
    if not 0 < width < 2 * centre:
        raise ValueError(f"band {name!r}: width must be in (0, 2 * centre) [um]; got {width}")
    x, r = _validated_table(name, [centre - width / 2, centre + width / 2], [1.0, 1.0])
    return Band(
        name, x, r, float(centre), float(width), reference, "top-hat", instrument, provenance
    )


def _number(field: str) -> float | None:
    """``field`` as a float, or None when it is not a number."""
    try:
        return float(field)
    except ValueError:
        return None


def read_response(path, name: str, *, wavelength_unit: str = "um", **metadata) -> Band:
    """Read a two-column response table (wavelength, response) into a :class:`Band`.

    Parameters
    ----------
    path : str or path-like
        Text or CSV file; columns separated by commas and/or whitespace; ``#`` starts a
        comment (whole lines or the end of a line); blank lines are skipped. The first
        remaining line may be a header (e.g. ``wavelength,response`` or
        ``wavelength_nm,transmission``): a line with a field that is not a number is skipped
        there, and only there. Further columns must be numbers too and are ignored. A
        response in percent is fine (only the shape matters).
    name : str
        Band name.
    wavelength_unit : str, optional
        Unit of the first column (``"um"``, ``"nm"``, ``"Angstrom"``, ...); a header does
        not set it.
    **metadata
        ``reference``, ``instrument``, ``provenance`` for :func:`from_table`.

    Returns
    -------
    Band
        As :func:`from_table`, wavelengths converted to [um].

    Raises
    ------
    ValueError
        Naming the file and the line: a row that is not all numbers (after the first line),
        fewer than two columns or a different number of columns than the first row, a
        wavelength that is not finite, > 0 and increasing, or a response that is not finite;
        naming the file: a file that cannot be read, fewer than two rows, or no response > 0.

    Examples
    --------
    A file ``filter.csv`` with the lines ``wavelength_nm,transmission``, ``3400,0``,
    ``3500,80``, ``3600,80``, ``3700,0``:

    >>> band = read_response("filter.csv", "my_filter", wavelength_unit="nm")  # doctest: +SKIP
    """
    import os

    from thermal.units import conversion_factor

    where = os.fspath(path)
    try:
        with open(path, encoding="utf-8-sig") as f:  # -sig: spreadsheets write a BOM
            lines = f.read().splitlines()
    except UnicodeDecodeError as err:
        raise ValueError(f"{where}: not a UTF-8 text file ({err})") from None
    except OSError as err:  # missing, a folder, unreadable
        raise ValueError(f"{where}: cannot be read ({err.strerror or err})") from None
    rows: list[tuple[float, float]] = []
    columns = 0
    first = True
    for number, line in enumerate(lines, start=1):
        content = line.split("#", 1)[0].replace(",", " ").split()
        if not content:
            continue
        values = [_number(field) for field in content]
        if None in values:
            if first:  # a header row
                first = False
                continue
            raise ValueError(
                f"{where}, line {number}: expected numbers (wavelength, response); "
                f"got {line.strip()!r}"
            )
        first = False
        if len(values) < 2 or (columns and len(values) != columns):
            raise ValueError(
                f"{where}, line {number}: expected {columns or 'two or more'} columns "
                f"(wavelength, response); got {len(values)}"
            )
        columns = len(values)
        x, r = values[0], values[1]
        if not (math.isfinite(x) and x > 0):
            raise ValueError(f"{where}, line {number}: wavelength must be finite and > 0; got {x}")
        if rows and not x > rows[-1][0]:
            raise ValueError(
                f"{where}, line {number}: wavelength must be strictly increasing; got {x} "
                f"after {rows[-1][0]}"
            )
        if not math.isfinite(r):
            raise ValueError(f"{where}, line {number}: response must be finite; got {r}")
        rows.append((x, r))
    if len(rows) < 2:
        raise ValueError(f"{where}: expected at least two rows (wavelength, response)")
    table = np.array(rows)
    factor = conversion_factor(wavelength_unit, "um")
    try:
        return from_table(name, table[:, 0] * factor, table[:, 1], **metadata)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None


def _load_bundled() -> dict[str, Band]:
    text = resources.files("thermal").joinpath("data/bands.json").read_text(encoding="utf-8")
    bands = {}
    for entry in json.loads(text)["bands"]:
        bands[entry["name"]] = top_hat(
            entry["name"],
            entry["centre"],
            entry["width"],
            reference=entry["reference"],
            instrument=entry["instrument"],
            provenance=entry["provenance"],
        )
    return bands


_REGISTRY: dict[str, Band] = _load_bundled()
_BUNDLED = dict(_REGISTRY)


def names() -> list[str]:
    """Names of the known bands, bundled and registered, sorted by centre wavelength."""
    return sorted(_REGISTRY, key=lambda n: (_REGISTRY[n].centre, n))


def get(name) -> Band:
    """The :class:`Band` called ``name`` (a :class:`Band` is returned as it is).

    Raises
    ------
    ValueError
        If the name is unknown; the message lists the known names.
    """
    if isinstance(name, Band):
        return name
    try:
        return _REGISTRY[str(name).lower()]
    except KeyError:
        raise ValueError(f"unknown band {name!r}; known bands: {', '.join(names())}") from None


def register(band: Band, *, overwrite: bool = False) -> None:
    """Make ``band`` known to :func:`get` by its name (for this Python session)."""
    key = band.name.lower()
    if key in _REGISTRY and not overwrite:
        raise ValueError(f"band {band.name!r} exists; pass overwrite=True to replace it")
    _REGISTRY[key] = band


def registered() -> list[Band]:
    """The bands :func:`register` made known in this session (not the bundled ones), so that
    other processes (dask workers) can be given them."""
    return [band for key, band in _REGISTRY.items() if _BUNDLED.get(key) is not band]
