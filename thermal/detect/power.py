"""Power of a hot spot seen in one band: a range over a stated temperature interval.

One band cannot give a temperature. A spot of (unknown) temperature T and area A, seen at
emission angle e, has the band-averaged spectral intensity I = A cos(e) B_b(T)
[W sr-1 um-1] (a flat Lambertian emitter; B_b is the Planck radiance averaged over the band's
response, :func:`thermal.planck.band_radiance`) and the radiated power P = A sigma T^4 [W]. With
the spectral radiant flux F = pi I / cos(e) [W um-1] that the JIRAM catalogues report,

    P(T) = F sigma T^4 / (pi B_b(T)),

so every temperature gives another power. :func:`power_range` reports the least and the
greatest of P(T) over an interval (default 300-1400 K: from cooled crust to basaltic lava), and
the temperatures where they are reached. For the JIRAM M band (4.78 um) sigma T^4 / B_b(T) has a
minimum of about 21 sr um near 700-770 K and grows to ~220 at 300 K and ~31 at 1300 K, so the
range spans about a factor of 10: this is why the "M-band power proxy" (total power taken
proportional to 4.8 um radiance, Davies et al. 2015, doi:10.1016/j.icarus.2015.08.003) is a
weak and incomplete one for a single spot (the ratio varies with the eruption style and
temperature; saturated pixels make it a lower limit). The proxy is reported here only as this
range, never as one number.
"""

from __future__ import annotations

import numpy as np

from thermal import bands as _bands
from thermal import planck
from thermal.constants import STEFAN_BOLTZMANN

__all__ = ["DEFAULT_TEMPERATURE_RANGE", "power_per_flux", "power_range"]

DEFAULT_TEMPERATURE_RANGE = (300.0, 1400.0)
"""Temperatures [K] over which the power of a one-band spot is bounded."""
_GRID = 1101


def _check_range(temperature_range) -> tuple[float, float]:
    """The interval of :func:`thermal.models.base.check_interval`, at most 1e4 K."""
    from thermal.models.base import check_interval

    low, high = check_interval(temperature_range)
    if high > 1e4:
        raise ValueError(f"temperature_range must end at or below 1e4 K; got {low, high}")
    return low, high


def power_per_flux(band, temperature) -> np.ndarray:
    """sigma T^4 / (pi B_b(T)): power per unit spectral radiant flux of a single-temperature
    source [um].

    Parameters
    ----------
    band : str or thermal.bands.Band
        The band the flux was measured in.
    temperature : array_like
        Temperature [K], > 0.

    Returns
    -------
    ndarray
        [W per W um-1, i.e. um]. Multiply a spectral radiant flux [W um-1] to get power [W].
    """
    t = np.asarray(temperature, dtype=float)
    with np.errstate(divide="ignore", over="ignore"):
        return STEFAN_BOLTZMANN * t**4 / (np.pi * np.asarray(planck.band_radiance(band, t)))


def power_range(spectral_flux, band, temperature_range=DEFAULT_TEMPERATURE_RANGE):
    """Least and greatest power of a one-band spot over a temperature interval.

    Parameters
    ----------
    spectral_flux : array_like
        Spectral radiant flux of each spot, pi x intensity / cos(e) [W um-1] (NaN where
        unknown, e.g. beyond the limb guard).
    band : str or thermal.bands.Band
        The band of the measurement (e.g. ``"jiram_m"``).
    temperature_range : (float, float), optional
        [K]; default (300, 1400).

    Returns
    -------
    dict of ndarray
        ``power_lower`` and ``power_upper`` [W] (the smallest and largest sigma T^4 A over the
        interval for the measured flux), ``temperature_at_power_lower`` and
        ``temperature_at_power_upper`` [K]. NaN where the flux is NaN or not positive.

    Notes
    -----
    P(T) = F sigma T^4 / (pi B_b(T)) is evaluated on a grid of 1101 temperatures spanning the
    interval (ends included), so the extremes are exact at the ends and within 0.01 % inside.
    """
    low, high = _check_range(temperature_range)
    band = _bands.get(band)
    flux = np.asarray(spectral_flux, dtype=float)
    grid = np.linspace(low, high, _GRID)
    factor = power_per_flux(band, grid)
    k_low, k_high = int(np.argmin(factor)), int(np.argmax(factor))
    valid = np.isfinite(flux) & (flux > 0)
    nan = np.full(flux.shape, np.nan)
    return {
        "power_lower": np.where(valid, flux * factor[k_low], nan),
        "power_upper": np.where(valid, flux * factor[k_high], nan),
        "temperature_at_power_lower": np.where(valid, grid[k_low], nan),
        "temperature_at_power_upper": np.where(valid, grid[k_high], nan),
    }
