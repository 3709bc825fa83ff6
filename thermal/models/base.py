"""What the fit engine tells a model about the observation it fits."""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["Problem"]


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
