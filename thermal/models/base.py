"""What the fit engine tells a model about the observation it fits."""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple

__all__ = ["Problem", "check_count", "check_interval"]


def check_interval(value, name: str = "temperature_range") -> tuple[float, float]:
    """``value`` as a temperature interval (low, high) [K] with 0 < low < high < inf, or a
    ValueError naming ``name`` and the allowed range."""
    message = f"{name} must be (low, high) [K] with 0 < low < high; got {value!r}"
    try:
        low, high = (float(t) for t in value)
    except (TypeError, ValueError):
        raise ValueError(message) from None
    if not (0 < low < high and math.isfinite(high)):
        raise ValueError(message)
    return low, high


def check_count(value, name: str, low: int, high: int) -> int:
    """``value`` as an integer in [low, high], or a ValueError naming ``name`` and the range."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not low <= value <= high
    ):
        raise ValueError(f"{name} must be an integer in [{low}, {high}]; got {value!r}")
    return int(value)


class Problem(NamedTuple):
    """One observation's fitting problem, as a model sees it.

    Attributes
    ----------
    channels : thermal.fit.engine.Channels
        Quadrature nodes of the spectral channels (wavelengths [um] and weights).
    dim : str
        The spectral dimension, ``"wavelength"`` or ``"band"``.
    kind : str
        ``"intensity"`` [W sr-1 um-1] or ``"radiance"`` [W m-2 sr-1 um-1].
    scaled : bool
        True when a pixel area [m2] turns fitted radiance areas into areas [m2].
    max_iterations : int
        Iteration limit per spectrum.
    intervals : str
        ``"linear"`` or ``"profile"``.
    store : frozenset
        Optional outputs asked for (``"model"``, ``"covariance"``).
    """

    channels: Any
    dim: str
    kind: str
    scaled: bool
    max_iterations: int
    intervals: str
    store: frozenset

    @property
    def fraction(self) -> bool:
        """True when areas are fractions of the pixel (radiance without a pixel area)."""
        return self.kind == "radiance" and not self.scaled
