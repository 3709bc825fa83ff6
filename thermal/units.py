"""Unit strings, radiometric conversions and viewing geometry.

Canonical units (``docs/layout.md``): wavelength [um], temperature [K], area [m2], power [W],
spectral radiance [W m-2 sr-1 um-1], spectral intensity [W sr-1 um-1], hemispheric spectral
radiant flux [W um-1], longitude [degrees east].

Unit strings are parsed by :func:`parse_unit`, which understands the spellings found in
archive labels and catalogues: ``"W m-2 sr-1 um-1"``, ``"W/(m^2*sr*micron)"``,
``"GW um-1 sr-1"``, ``"GW/um/sr"``, ``"nm"``, ``"km2"``, ``"MJy/sr"``, ``"degree"``.
Conversions that need more than a factor (flux density to intensity, surface brightness per
frequency to radiance per wavelength) are explicit functions below.

Geometry follows the Io literature (``docs/physics.md``): a Lambertian patch of surface area
``A`` and radiance ``L`` seen at emission angle ``e`` has intensity ``I = L A cos e``; the
hemispheric spectral radiant flux used by NIMS and JIRAM studies is ``pi I / cos e = pi L A``.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
from functools import lru_cache

import numpy as np

from thermal.constants import ASTRONOMICAL_UNIT, JANSKY, SPEED_OF_LIGHT

__all__ = [
    "ASTRONOMICAL_UNIT",
    "CANONICAL",
    "TEMPERATURE_DIFFERENCE",
    "conversion_factor",
    "convert",
    "east_to_west",
    "flux_density_to_intensity",
    "flux_to_intensity",
    "footprint_area",
    "intensity_to_flux",
    "intensity_to_flux_density",
    "intensity_to_radiance",
    "is_quantity",
    "parse_unit",
    "quantity_inputs",
    "radiance_to_intensity",
    "surface_brightness_to_radiance",
    "surface_footprint_area",
    "to_unit",
    "west_to_east",
]

CANONICAL = {
    "wavelength": "um",
    "wavenumber": "cm-1",
    "temperature": "K",
    "area": "m2",
    "power": "W",
    "radiance": "W m-2 sr-1 um-1",
    "intensity": "W sr-1 um-1",
    "flux": "W um-1",
    "band_radiance": "W m-2 sr-1",
    "distance": "m",
    "angle": "degree",
    "time": "s",
}
"""Canonical unit string of each quantity."""

# Base dimensions: m (length), kg, s, K, sr, rad. Each symbol maps to (scale in SI, dims).
_M, _KG, _S, _K, _SR, _RAD = range(6)


def _dims(**powers: int) -> tuple[int, ...]:
    d = [0] * 6
    for name, p in powers.items():
        d[{"m": _M, "kg": _KG, "s": _S, "K": _K, "sr": _SR, "rad": _RAD}[name]] = p
    return tuple(d)


_W = _dims(kg=1, m=2, s=-3)
_SYMBOLS: dict[str, tuple[float, tuple[int, ...]]] = {
    "m": (1.0, _dims(m=1)),
    "micron": (1e-6, _dims(m=1)),
    "microns": (1e-6, _dims(m=1)),
    "um": (1e-6, _dims(m=1)),
    "µm": (1e-6, _dims(m=1)),
    "μm": (1e-6, _dims(m=1)),
    "Angstrom": (1e-10, _dims(m=1)),
    "angstrom": (1e-10, _dims(m=1)),
    "Å": (1e-10, _dims(m=1)),
    "AU": (ASTRONOMICAL_UNIT, _dims(m=1)),
    "au": (ASTRONOMICAL_UNIT, _dims(m=1)),
    "g": (1e-3, _dims(kg=1)),
    "s": (1.0, _dims(s=1)),
    "min": (60.0, _dims(s=1)),
    "h": (3600.0, _dims(s=1)),
    "hr": (3600.0, _dims(s=1)),
    "d": (86400.0, _dims(s=1)),
    "day": (86400.0, _dims(s=1)),
    "days": (86400.0, _dims(s=1)),
    "yr": (365.25 * 86400.0, _dims(s=1)),
    "K": (1.0, _dims(K=1)),
    "sr": (1.0, _dims(sr=1)),
    "rad": (1.0, _dims(rad=1)),
    "deg": (math.pi / 180.0, _dims(rad=1)),
    "degree": (math.pi / 180.0, _dims(rad=1)),
    "degrees": (math.pi / 180.0, _dims(rad=1)),
    "degrees_east": (math.pi / 180.0, _dims(rad=1)),
    "degrees_north": (math.pi / 180.0, _dims(rad=1)),
    "W": (1.0, _W),
    "J": (1.0, _dims(kg=1, m=2, s=-2)),
    "erg": (1e-7, _dims(kg=1, m=2, s=-2)),
    "Hz": (1.0, _dims(s=-1)),
    "Jy": (JANSKY, _dims(kg=1, s=-2)),
    "1": (1.0, _dims()),
}
_PREFIXES = {
    "T": 1e12,
    "G": 1e9,
    "M": 1e6,
    "k": 1e3,
    "c": 1e-2,
    "m": 1e-3,
    "u": 1e-6,
    "µ": 1e-6,
    "μ": 1e-6,
    "n": 1e-9,
    "p": 1e-12,
}
_PREFIXABLE = {"m", "g", "s", "W", "J", "Hz", "Jy"}
_TOKEN = re.compile(r"\s*(\(|\)|/|\*\*|\*|\^|\.|[+-]?\d+|[A-Za-zµμÅ_]+)\s*")


def _symbol(name: str, text: str) -> tuple[float, tuple[int, ...]]:
    if name in _SYMBOLS:
        return _SYMBOLS[name]
    if len(name) > 1 and name[0] in _PREFIXES and name[1:] in _PREFIXABLE:
        scale, dims = _SYMBOLS[name[1:]]
        return _PREFIXES[name[0]] * scale, dims
    raise ValueError(f"unit {text!r}: unknown symbol {name!r}")


_SCALED = re.compile(r"([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s+(\S.*)")


@lru_cache(maxsize=256)
def parse_unit(text: str) -> tuple[float, tuple[int, ...]]:
    """Parse a unit string into (scale to SI, dimension exponents).

    Parameters
    ----------
    text : str
        A unit string, e.g. ``"GW um-1 sr-1"`` or ``"W/(m^2*sr*micron)"``. Products are written
        with spaces, ``*`` or ``.``; powers as ``m-2``, ``m^-2`` or ``m**-2``; ``/`` divides by
        the next factor or parenthesised group; a leading number and a space scale the rest
        (``"1e-26 W m-2 Hz-1"``, UDUNITS' spelling of a jansky).

    Returns
    -------
    tuple
        ``(scale, dims)``: the value of one ``text`` in SI base units, and the exponents of
        (m, kg, s, K, sr, rad).

    Raises
    ------
    ValueError
        If the string cannot be parsed.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"unit {text!r}: expected a non-empty unit string")
    scaled = _SCALED.fullmatch(text.strip())
    if scaled:  # a leading number scales the unit (UDUNITS): "1e-26 W m-2 Hz-1" is a jansky
        factor = float(scaled.group(1))
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"unit {text!r}: its scale must be finite and > 0")
        scale, dims = parse_unit(scaled.group(2))
        return factor * scale, dims
    tokens = _TOKEN.findall(text.strip())
    if "".join(tokens).replace(" ", "") != re.sub(r"\s+", "", text.strip()):
        raise ValueError(f"unit {text!r}: cannot parse")
    position = 0

    def peek():
        return tokens[position] if position < len(tokens) else None

    def take():
        nonlocal position
        position += 1
        return tokens[position - 1]

    def factor():
        token = take()
        if token == "(":
            scale, dims = product()
            if take() != ")":
                raise ValueError(f"unit {text!r}: unbalanced parentheses")
        elif re.fullmatch(r"[+-]?\d+", token) and token.lstrip("+-") == "1":
            scale, dims = 1.0, _dims()
        else:
            # a trailing digit run is an exponent: m2, m-2
            match = re.fullmatch(r"([A-Za-zµμÅ_]+)", token)
            if match is None:
                raise ValueError(f"unit {text!r}: unexpected {token!r}")
            scale, dims = _symbol(token, text)
        power = 1
        if peek() in ("^", "**"):
            take()
            power = exponent(take() if peek() is not None else "")
        elif peek() is not None and re.fullmatch(r"[+-]?\d+", peek()):
            power = exponent(take())
        return scale**power, tuple(d * power for d in dims)

    def exponent(token):
        if not re.fullmatch(r"[+-]?\d{1,2}", token):
            raise ValueError(f"unit {text!r}: a power must be an integer from -99 to 99")
        return int(token)

    def product():
        scale, dims = factor()
        while peek() not in (None, ")"):
            op = peek()
            if op in ("*", "."):
                take()
                s, d = factor()
            elif op == "/":
                take()
                s, d = factor()
                s, d = 1.0 / s, tuple(-x for x in d)
            else:
                s, d = factor()
            scale *= s
            dims = tuple(a + b for a, b in zip(dims, d, strict=True))
        return scale, dims

    try:
        result = product()
    except (IndexError, TypeError) as error:
        raise ValueError(f"unit {text!r}: cannot parse") from error
    if position != len(tokens):
        raise ValueError(f"unit {text!r}: cannot parse")
    return result


def conversion_factor(from_unit: str, to_unit: str) -> float:
    """Factor that converts values in ``from_unit`` to ``to_unit``.

    Parameters
    ----------
    from_unit, to_unit : str
        Unit strings (see :func:`parse_unit`).

    Returns
    -------
    float
        ``value_in_to_unit = factor * value_in_from_unit``.

    Raises
    ------
    ValueError
        If the units do not measure the same quantity (the message names both).

    Examples
    --------
    >>> conversion_factor("GW um-1 sr-1", "W sr-1 um-1")
    1000000000.0
    """
    s_from, d_from = parse_unit(from_unit)
    s_to, d_to = parse_unit(to_unit)
    if d_from != d_to:
        raise ValueError(f"cannot convert {from_unit!r} to {to_unit!r}: different quantities")
    return s_from / s_to


_CELSIUS = frozenset({"degC", "deg_C", "Celsius", "celsius", "°C"})


TEMPERATURE_DIFFERENCE = "K difference"
"""The unit of :func:`to_unit` (and :func:`quantity_inputs`) for a temperature difference
[K]: a degree Celsius of difference is a kelvin, with no offset."""


def is_quantity(value) -> bool:
    """True for an astropy Quantity (duck-typed: astropy is imported only when one is given)."""
    return hasattr(value, "unit") and hasattr(value, "to_value") and not isinstance(value, str)


def to_unit(value, unit: str, name: str):
    """``value`` expressed in ``unit``: astropy Quantities and DataArrays with a ``units``
    attribute are converted (or rejected); anything else is taken to be in ``unit`` already.

    Parameters
    ----------
    value : scalar, array_like, astropy Quantity or DataArray
        The argument.
    unit : str
        The unit the caller works in (e.g. ``"um"``, ``"K"``, ``"W sr-1 um-1"``), or
        :data:`TEMPERATURE_DIFFERENCE` for a difference of temperatures in K (200 degC of
        cooling is 200 K, not 473.15 K).
    name : str
        The argument's name, for error messages.

    Returns
    -------
    float, ndarray or DataArray
        A Quantity becomes a plain value in ``unit`` (wavelengths convert from any length,
        frequency or wavenumber, temperatures from degC); a DataArray stays one, with
        ``units = unit``.

    Raises
    ------
    ValueError
        When the unit cannot be converted; the message names the argument and both units.

    Examples
    --------
    >>> import astropy.units as u                                   # doctest: +SKIP
    >>> to_unit(3776 * u.nm, "um", "wavelength")                    # doctest: +SKIP
    3.776
    """
    difference = unit == TEMPERATURE_DIFFERENCE
    target = "K" if difference else unit
    if is_quantity(value):
        import astropy.units as u

        if difference and value.unit == u.deg_C:
            return value.value  # a degree of difference is a kelvin
        equivalencies = []
        if unit in ("um", "cm-1"):
            equivalencies = u.spectral()
        elif unit == "K":
            equivalencies = u.temperature()
        try:
            return value.to_value(u.Unit(target), equivalencies=equivalencies)
        except (u.UnitsError, ValueError, TypeError):
            raise ValueError(
                f"{name}: a Quantity in {value.unit} cannot be converted to {unit}"
            ) from None
    attrs = getattr(value, "attrs", None)
    if attrs is None or not hasattr(value, "dims") or not attrs.get("units"):
        return value
    given = str(attrs["units"])
    if target == "K" and given in _CELSIUS:
        out = value.copy() if difference else value + 273.15
    else:
        try:
            factor = conversion_factor(given, target)
        except ValueError:
            raise ValueError(f"{name}: units {given!r} cannot be converted to {unit!r}") from None
        if factor == 1.0:
            return value
        out = value * factor
    out.attrs = {**attrs, "units": target}
    return out


def quantity_inputs(**units_by_argument):
    """Decorator: the named arguments accept astropy Quantities and DataArrays with units.

    ``@quantity_inputs(wavelength="um", temperature="K")`` converts those arguments with
    :func:`to_unit` before the call; a Quantity given for any other argument is an error
    naming it. Plain numbers and arrays pass unchanged (they are in the documented units).
    """

    def decorate(function):
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            given = (*args, *kwargs.values())
            if not any(
                is_quantity(a) or hasattr(a, "attrs") or isinstance(a, list | tuple) for a in given
            ):
                return function(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            for name, value in bound.arguments.items():
                if name in units_by_argument:
                    if isinstance(value, list | tuple) and not any(map(is_quantity, value)):
                        value = _float_array(name, value)  # a list of numbers: an array
                    bound.arguments[name] = to_unit(value, units_by_argument[name], name)
                elif is_quantity(value):
                    raise ValueError(f"{name} takes a plain number, not a Quantity ({value.unit})")
            return function(*bound.args, **bound.kwargs)

        return wrapper

    return decorate


def _float_array(name: str, value) -> np.ndarray:
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers; got {value!r}") from None


def convert(value, from_unit: str, to_unit: str):
    """Convert ``value`` (scalar, array or DataArray) from ``from_unit`` to ``to_unit``.

    A DataArray comes back with its ``units`` attribute set to ``to_unit``.
    """
    if isinstance(value, list | tuple):
        value = _float_array("value", value)
    factor = conversion_factor(from_unit, to_unit)
    out = value * factor
    if hasattr(out, "attrs"):
        out.attrs = {**getattr(value, "attrs", {}), "units": to_unit}
    return out


def _check_nonnegative(name: str, value, unit: str, strict: bool = False):
    array = np.asarray(value, dtype=float)
    bad = array <= 0 if strict else array < 0
    if np.any(bad):
        bound = "> 0" if strict else ">= 0"
        raise ValueError(f"{name} must be {bound} [{unit}]; got {float(array[bad].flat[0])!r}")
    return value


MAX_EMISSION_ANGLE = 80.0
"""Default limb limit [degree] of every conversion that divides by cos(e)."""


def _cos_emission(emission_angle, max_emission_angle=90.0):
    """cos(e) of an emission angle in [0, max_emission_angle] [degree] (below 90 where it
    divides: :data:`MAX_EMISSION_ANGLE` by default, the limb guard)."""
    limit = float(max_emission_angle)
    if not 0.0 < limit <= 90.0:
        raise ValueError(f"max_emission_angle must be in (0, 90] [degree]; got {limit!r}")
    e = np.asarray(emission_angle, dtype=float)
    bad = (e < 0) | (e >= 90) | (e > limit)
    if np.any(bad):
        raise ValueError(
            f"emission_angle must be in [0, {min(limit, 90.0):g}{']' if limit < 90 else ')'} "
            f"[degree] (max_emission_angle, the limb guard); got {e[bad].flat[0]}"
        )
    return np.cos(np.deg2rad(emission_angle))


@quantity_inputs(radiance="W m-2 sr-1 um-1", pixel_area="m2", emission_angle="degree")
def radiance_to_intensity(radiance, pixel_area, emission_angle=0.0):
    """Spectral intensity of a Lambertian surface patch.

    Parameters
    ----------
    radiance : array_like
        Spectral radiance [W m-2 sr-1 um-1].
    pixel_area : array_like
        Surface area of the patch [m2], >= 0.
    emission_angle : array_like, optional
        Emission angle [degree], 0 <= e < 90.

    Returns
    -------
    array_like
        Intensity ``L A cos e`` [W sr-1 um-1].
    """
    _check_nonnegative("pixel_area", pixel_area, "m2")
    return radiance * pixel_area * _cos_emission(emission_angle)


@quantity_inputs(intensity="W sr-1 um-1", pixel_area="m2", emission_angle="degree")
def intensity_to_radiance(
    intensity, pixel_area, emission_angle=0.0, max_emission_angle=MAX_EMISSION_ANGLE
):
    """Inverse of :func:`radiance_to_intensity`: radiance [W m-2 sr-1 um-1] of a patch.

    Parameters
    ----------
    intensity : array_like
        Spectral intensity [W sr-1 um-1].
    pixel_area : array_like
        Surface area [m2], > 0.
    emission_angle : array_like, optional
        Emission angle [degree], 0 <= e <= ``max_emission_angle``.
    max_emission_angle : float, optional
        Limb guard [degree] (default 80): 1/cos(e) diverges at the limb.
    """
    _check_nonnegative("pixel_area", pixel_area, "m2", strict=True)
    return intensity / (pixel_area * _cos_emission(emission_angle, max_emission_angle))


@quantity_inputs(intensity="W sr-1 um-1", emission_angle="degree")
def intensity_to_flux(intensity, emission_angle=0.0, max_emission_angle=MAX_EMISSION_ANGLE):
    """Hemispheric spectral radiant flux ``pi I / cos e`` [W um-1] (Lambertian).

    Parameters
    ----------
    intensity : array_like
        Spectral intensity towards the observer [W sr-1 um-1].
    emission_angle : array_like, optional
        Emission angle [degree], 0 <= e <= ``max_emission_angle``.
    max_emission_angle : float, optional
        Limb guard [degree] (default 80): 1/cos(e) diverges at the limb, so angles beyond it
        raise ValueError.

    Notes
    -----
    The NIMS/JIRAM convention of Davies et al. (2012), doi:10.1029/2011GL049999. Non-Lambertian
    sources (Pele: Radebaugh et al. 2004, doi:10.1016/j.icarus.2004.03.001) break it.
    """
    return math.pi * intensity / _cos_emission(emission_angle, max_emission_angle)


@quantity_inputs(flux="W um-1", emission_angle="degree")
def flux_to_intensity(flux, emission_angle=0.0):
    """Inverse of :func:`intensity_to_flux`: intensity [W sr-1 um-1] from flux [W um-1]."""
    return flux * _cos_emission(emission_angle) / math.pi


def _flux_density_factor(wavelength, distance):
    lam = np.asarray(wavelength, dtype=float)
    if np.any(~(lam > 0)):
        raise ValueError("wavelength must be > 0 [um]")
    _check_nonnegative("distance", distance, "m", strict=True)
    # F_lambda [W m-2 um-1] = c [um s-1] * F_nu [W m-2 Hz-1] / lambda^2 [um2]
    return SPEED_OF_LIGHT * 1e6 * JANSKY / (wavelength * wavelength) * distance * distance


@quantity_inputs(flux_density="Jy", wavelength="um", distance="m")
def flux_density_to_intensity(flux_density, wavelength, distance):
    """Spectral intensity from a flux density seen at a distance.

    Parameters
    ----------
    flux_density : array_like
        Flux density F_nu [Jy].
    wavelength : array_like
        Wavelength [um], > 0.
    distance : array_like
        Observer-source distance [m], > 0 (1 AU = 1.495978707e11 m).

    Returns
    -------
    array_like
        Intensity ``F_lambda D^2`` [W sr-1 um-1]; 1 Jy at 2.27 um from 4.2 AU is
        229.7 GW sr-1 um-1.
    """
    return flux_density * _flux_density_factor(wavelength, distance)


@quantity_inputs(intensity="W sr-1 um-1", wavelength="um", distance="m")
def intensity_to_flux_density(intensity, wavelength, distance):
    """Inverse of :func:`flux_density_to_intensity`: flux density [Jy] of an intensity
    [W sr-1 um-1] at ``wavelength`` [um] seen from ``distance`` [m]."""
    return intensity / _flux_density_factor(wavelength, distance)


@quantity_inputs(surface_brightness="MJy sr-1", wavelength="um")
def surface_brightness_to_radiance(surface_brightness, wavelength):
    """Convert surface brightness [MJy sr-1] (JWST s3d cubes) to radiance [W m-2 sr-1 um-1].

    Parameters
    ----------
    surface_brightness : array_like
        Surface brightness per unit frequency [MJy sr-1].
    wavelength : array_like
        Wavelength [um], > 0.

    Returns
    -------
    array_like
        Spectral radiance; 1 MJy sr-1 at 4 um is 1.874e-7 W m-2 sr-1 um-1.
    """
    lam = np.asarray(wavelength, dtype=float)
    if np.any(~(lam > 0)):
        raise ValueError("wavelength must be > 0 [um]")
    return surface_brightness * (1e6 * JANSKY * SPEED_OF_LIGHT * 1e6) / (wavelength * wavelength)


def footprint_area(distance, ifov):
    """Projected (line-of-sight) area of a square pixel, ``(distance * ifov)**2`` [m2].

    Parameters
    ----------
    distance : array_like
        Range to the surface [m], > 0.
    ifov : float
        Instantaneous field of view [rad], > 0 (JIRAM: 237.767e-6, Juno IK juno_jiram_v02.ti).

    Notes
    -----
    The surface area of the pixel is this divided by cos(emission angle); a radiance times
    the projected area is the intensity towards the observer.
    """
    if isinstance(distance, list | tuple):
        distance = _float_array("distance", distance)
    _check_nonnegative("distance", distance, "m", strict=True)
    _check_nonnegative("ifov", ifov, "rad", strict=True)
    return (distance * ifov) ** 2


@quantity_inputs(distance="m", ifov="rad", emission_angle="degree")
def surface_footprint_area(
    distance, ifov, emission_angle=0.0, max_emission_angle=MAX_EMISSION_ANGLE
):
    """Surface area seen by a square pixel, ``(distance * ifov)**2 / cos e`` [m2].

    Parameters
    ----------
    distance : array_like
        Slant range to the surface [m], > 0.
    ifov : float
        Instantaneous field of view [rad], > 0 (JIRAM: 237.767e-6, Juno IK juno_jiram_v02.ti).
    emission_angle : array_like, optional
        Emission angle at the surface [degree], 0 <= e <= ``max_emission_angle``.
    max_emission_angle : float, optional
        Limb guard [degree] (default 80): 1/cos(e) diverges at the limb, so angles beyond it
        raise ValueError; at most 90 (exclusive).

    Returns
    -------
    array_like
        :func:`footprint_area` divided by cos(e) [m2]: the area of the patch of surface the
        pixel sees, for radiance [W m-2 sr-1 um-1] times area = power per steradian and um
        emitted along the normal.

    Raises
    ------
    ValueError
        For a distance or IFOV <= 0 or an emission angle outside [0, ``max_emission_angle``].

    Examples
    --------
    >>> round(float(surface_footprint_area(80_000e3, 237.767e-6, 30.0)) / 1e6, 1)  # km2
    417.8
    """
    return footprint_area(distance, ifov) / _cos_emission(emission_angle, max_emission_angle)


def west_to_east(longitude_west):
    """Convert west longitude [degrees west] to east longitude in [0, 360) [degrees east];
    NaN stays NaN (unknown), an infinite longitude is a ValueError."""
    return _flip_longitude(longitude_west, "longitude_west")


def east_to_west(longitude_east):
    """Convert east longitude [degrees east] to west longitude in [0, 360) [degrees west];
    NaN stays NaN (unknown), an infinite longitude is a ValueError."""
    return _flip_longitude(longitude_east, "longitude_east")


def _flip_longitude(value, name: str):
    values = np.asarray(value, dtype=float)
    if np.isinf(values).any():
        raise ValueError(f"{name} must be finite [degree] (NaN for unknown); got inf")
    return np.mod(360.0 - values, 360.0)
