"""Forward models the fitter understands.

A model is a small immutable object. The fit engine (:mod:`thermal.fit`) asks it for

* ``n_components`` : int, number of blackbody components (1-3);
* ``emissivity`` : tuple of float in (0, 1], one per component;
* ``lower``, ``upper`` : tuples of temperature bounds [K] per component (equal: fixed);
* ``exchangeable`` : True when all components share bounds and emissivity, so the engine
  orders them hottest first and searches only ordered temperature combinations;
* ``background`` : bool, whether an additive reflected-sunlight term is fitted;
* ``parameter_names`` : names along the result's ``param`` dimension;
* ``description`` : one line stored in the result's attributes.

The observable is ``I(channel) = sum_j eps_j A_j Bbar(channel, T_j) + b S(channel)`` with the
areas ``A_j >= 0`` and ``b >= 0`` entering linearly: the engine solves them exactly for every
set of temperatures (variable projection), so only temperatures are searched. Any model that
can be written as non-negative amplitudes times basis spectra depending on at most three
nonlinear parameters fits the same scheme; a lava-cooling model (flow age distribution turned
into a spectrum) would supply its own channel basis in place of ``Bbar`` (not yet wired: the
kernel evaluates Planck bases only).

``Bbar`` is B_lambda at a spectral channel's wavelength, or the response-weighted band mean
(:mod:`thermal.bands`) for a photometric channel. ``S`` is the reflected-sunlight shape: a
5772 K blackbody normalised to 1 at 1 um, so ``b`` is the reflected intensity (or radiance) at
1 um in the data's unit (solar effective temperature: Prsa et al. 2016, IAU 2015 Resolution
B3, doi:10.3847/0004-6256/152/2/41).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["SOLAR_TEMPERATURE", "MultiBlackbody", "get_model"]

SOLAR_TEMPERATURE = 5772.0
"""Effective temperature of the Sun [K] used for the reflected-sunlight shape."""

DEFAULT_BOUNDS = (100.0, 3000.0)
"""Default temperature bounds [K] of every free component."""


@dataclass(frozen=True)
class MultiBlackbody:
    """Sum of ``n`` blackbody components with emissivity, bounds, fixed temperatures.

    Parameters
    ----------
    n : int
        Number of components, 1 to 3.
    emissivity : float or sequence of float, optional
        Emissivity of each component, in (0, 1] (default 1).
    bounds : dict of int -> (float, float), optional
        Temperature bounds [K] per component index; default ``DEFAULT_BOUNDS`` (100-3000 K).
    fixed : dict of int -> float, optional
        Fixed temperatures [K] per component index (e.g. a known background at 120 K); the area
        is still fitted.
    background : bool, optional
        Fit an additive reflected-sunlight term (amplitude >= 0, see module docstring).

    Notes
    -----
    Components with free temperatures and identical bounds and emissivity are exchangeable:
    results list them hottest first. With different bounds or fixed components the result
    keeps the order given here.

    Examples
    --------
    >>> MultiBlackbody(2, fixed={1: 120.0}).parameter_names
    ('temperature_0', 'temperature_1', 'area_0', 'area_1')
    """

    n: int = 2
    emissivity: float | tuple = 1.0
    bounds: dict = field(default_factory=dict)
    fixed: dict = field(default_factory=dict)
    background: bool = False

    def __post_init__(self):
        if not isinstance(self.n, int | np.integer) or not 1 <= self.n <= 3:
            raise ValueError(f"n (number of components) must be 1, 2 or 3; got {self.n!r}")
        eps = np.broadcast_to(np.asarray(self.emissivity, dtype=float), (self.n,))
        if not np.all((eps > 0) & (eps <= 1)):
            raise ValueError(f"emissivity must be in (0, 1]; got {self.emissivity!r}")
        object.__setattr__(self, "emissivity", tuple(float(e) for e in eps))
        for name, mapping in (("bounds", self.bounds), ("fixed", self.fixed)):
            for key in mapping:
                if key not in range(self.n):
                    raise ValueError(
                        f"{name} key {key!r} is not a component index 0..{self.n - 1}"
                    )
        for key, (lo, hi) in self.bounds.items():
            if not (0 < lo < hi and math.isfinite(hi)):
                raise ValueError(f"bounds[{key}] must satisfy 0 < lower < upper [K]; got {lo, hi}")
        for key, t in self.fixed.items():
            if not (0 < t and math.isfinite(t)):
                raise ValueError(f"fixed[{key}] temperature must be > 0 [K]; got {t!r}")
        object.__setattr__(self, "bounds", dict(self.bounds))
        object.__setattr__(self, "fixed", dict(self.fixed))

    @property
    def n_components(self) -> int:
        return self.n

    @property
    def lower(self) -> tuple:
        return tuple(
            float(self.fixed[j])
            if j in self.fixed
            else float(self.bounds.get(j, DEFAULT_BOUNDS)[0])
            for j in range(self.n)
        )

    @property
    def upper(self) -> tuple:
        return tuple(
            float(self.fixed[j])
            if j in self.fixed
            else float(self.bounds.get(j, DEFAULT_BOUNDS)[1])
            for j in range(self.n)
        )

    @property
    def exchangeable(self) -> bool:
        return (
            not self.fixed
            and len(set(zip(self.lower, self.upper, strict=True))) == 1
            and len(set(self.emissivity)) == 1
        )

    @property
    def parameter_names(self) -> tuple:
        names = [f"temperature_{j}" for j in range(self.n)]
        names += [f"area_{j}" for j in range(self.n)]
        if self.background:
            names.append("background")
        return tuple(names)

    @property
    def n_free(self) -> int:
        """Number of fitted parameters (free temperatures, areas, background)."""
        return (
            sum(lo < hi for lo, hi in zip(self.lower, self.upper, strict=True))
            + self.n
            + int(self.background)
        )

    @property
    def description(self) -> str:
        parts = []
        for j in range(self.n):
            lo, hi = self.lower[j], self.upper[j]
            t = f"T={lo:g} K fixed" if lo == hi else f"{lo:g}<=T<={hi:g} K"
            parts.append(f"eps={self.emissivity[j]:g} x area x B({t})")
        text = f"{self.n}-temperature blackbody sum: " + " + ".join(parts)
        if self.background:
            text += " + reflected sunlight (5772 K blackbody shape)"
        return text


def get_model(model) -> MultiBlackbody:
    """A model object from ``"1T"``, ``"2T"``, ``"3T"`` or a model object (returned as is)."""
    if isinstance(model, str):
        key = model.strip().upper()
        if key in ("1T", "2T", "3T"):
            return MultiBlackbody(int(key[0]))
        raise ValueError(
            f"model must be '1T', '2T', '3T' or a thermal.models object; got {model!r}"
        )
    needed = ("n_components", "emissivity", "lower", "upper", "exchangeable", "background")
    missing = [name for name in needed if not hasattr(model, name)]
    if missing:
        raise ValueError(f"model object lacks {', '.join(missing)} (see thermal.models)")
    return model
