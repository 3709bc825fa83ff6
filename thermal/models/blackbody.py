"""Sums of blackbodies: the multi-temperature model of hot-spot fits.

:class:`MultiBlackbody` is a small immutable object. The fit engine (:mod:`thermal.fit`) uses

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
nonlinear parameters fits the same scheme (the Io Flow Model of :mod:`thermal.models.flow` has
its own compiled solver).

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

from thermal.constants import STEFAN_BOLTZMANN
from thermal.layout import CANONICAL_DATA_UNITS, output, statistics_outputs, uncertainty
from thermal.models.base import check_interval

__all__ = ["DEFAULT_BOUNDS", "SOLAR_TEMPERATURE", "MultiBlackbody"]

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
    background_shape : sequence of float, optional
        With ``background=True``, the additive term's shape over the channels (in the data's
        canonical unit, e.g. a scene's median spectrum) instead of reflected sunlight; the
        fitted ``background`` is then the background spectrum's peak value.

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
    background_shape: tuple | None = None

    def __post_init__(self):
        if self.background_shape is not None:
            shape = np.asarray(self.background_shape, dtype=float)
            if (
                shape.ndim != 1
                or not np.all(np.isfinite(shape) & (shape >= 0))
                or not self.background
            ):
                raise ValueError(
                    "background_shape must be finite values >= 0, one per channel, with "
                    "background=True"
                )
            if not shape.max() > 0:
                raise ValueError("background_shape must have a value > 0")
            shape = shape / shape.max()  # the amplitude is then the background's peak
            object.__setattr__(self, "background_shape", tuple(float(v) for v in shape))
        if not isinstance(self.n, int | np.integer) or not 1 <= self.n <= 3:
            raise ValueError(f"n (number of components) must be 1, 2 or 3; got {self.n!r}")
        try:
            eps = np.broadcast_to(np.asarray(self.emissivity, dtype=float), (self.n,))
        except (TypeError, ValueError):
            raise ValueError(
                f"emissivity must be one value in (0, 1] or one per component ({self.n}); got "
                f"{self.emissivity!r}"
            ) from None
        if not np.all((eps > 0) & (eps <= 1)):
            raise ValueError(f"emissivity must be in (0, 1]; got {self.emissivity!r}")
        object.__setattr__(self, "emissivity", tuple(float(e) for e in eps))
        for name, mapping in (("bounds", self.bounds), ("fixed", self.fixed)):
            for key in mapping:
                if key not in range(self.n):
                    raise ValueError(
                        f"{name} key {key!r} is not a component index 0..{self.n - 1}"
                    )
        bounds = {key: check_interval(v, f"bounds[{key}]") for key, v in self.bounds.items()}
        fixed = {}
        for key, t in self.fixed.items():
            try:
                fixed[key] = float(t)
            except (TypeError, ValueError):
                fixed[key] = math.nan
            if not (0 < fixed[key] and math.isfinite(fixed[key])):
                raise ValueError(f"fixed[{key}] temperature must be > 0 [K]; got {t!r}")
        object.__setattr__(self, "bounds", bounds)
        object.__setattr__(self, "fixed", fixed)

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
        if self.background_shape is not None:
            text += " + a background spectrum (e.g. the scene's median) times an amplitude"
        elif self.background:
            text += " + reflected sunlight (5772 K blackbody shape)"
        return text

    def attributes(self) -> dict:
        """Global attributes of a result of this model."""
        return {}

    def outputs(self, problem) -> list:
        """The result variables of a fit of ``problem`` (see :mod:`thermal.models`)."""
        area = "area_fraction" if problem.fraction else "area"
        power_units = "W m-2" if problem.fraction else "W"
        rows = [
            output("temperature", ("component",), long_name="fitted component temperature",
                   units="K"),
            output(area, ("component",), units="1" if problem.fraction else "m2",
                   long_name="fitted component area fraction of the pixel" if problem.fraction
                   else "fitted component emitting area"),
            output("power", units=power_units,
                   long_name="total emitted power per unit pixel area (sum of eps sigma T^4 "
                   "fraction)" if problem.fraction
                   else "total emitted power (sum of emissivity sigma T^4 area)"),
        ]  # fmt: skip
        rows = [row for value in rows for row in (value, uncertainty(value))]
        if problem.intervals == "profile":
            what = "of the 68.3 % profile-likelihood interval (chi2 minimum + 1)"
            for name, dims, units in (
                ("temperature_lower", ("component",), "K"),
                ("temperature_upper", ("component",), "K"),
                ("power_lower", (), power_units),
                ("power_upper", (), power_units),
            ):
                quantity, end = name.split("_")
                rows.append(
                    output(name, dims, long_name=f"{end} end {what} of {quantity}", units=units,
                           content="qualityInformation")
                )  # fmt: skip
        rows += statistics_outputs(self.parameter_names, problem.dim, problem.kind, problem.store)
        if self.background:
            if self.background_shape is not None:
                rows.append(
                    output("background", units=CANONICAL_DATA_UNITS[problem.kind],
                           long_name="peak of the fitted background spectrum (its shape: "
                           "background_shape, e.g. the scene's median)")
                )  # fmt: skip
            else:
                rows.append(
                    output("background", units=CANONICAL_DATA_UNITS[problem.kind],
                           long_name="reflected sunlight at 1 um (5772 K blackbody shape)")
                )  # fmt: skip
        return rows

    def evaluate(self, y, sigma, geometry, problem) -> dict:
        """Fit a block of spectra (see :mod:`thermal.models`); radiance areas times the pixel
        area [m2] where ``geometry`` gives one."""
        scale = geometry.get("pixel_area")
        from thermal.fit.engine import fit_arrays

        out = fit_arrays(
            y, sigma, problem.channels, self, max_iterations=problem.max_iterations,
            intervals=problem.intervals,
        )  # fmt: skip
        t, a, bg, cov, chi2, dof, status, model, nfev = out[:9]
        intervals = out[9:]
        del out  # what is not asked for is freed as soon as it is not needed
        if "model" not in problem.store:
            model = None
        c = self.n
        if scale is not None:
            a = a * scale[..., None]
            factor = np.ones(cov.shape[:-1])
            factor[..., c : 2 * c] = scale[..., None]
            cov = cov * factor[..., :, None] * factor[..., None, :]
        sd = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
        eps = np.asarray(self.emissivity)
        power = (eps * STEFAN_BOLTZMANN * t**4 * a).sum(axis=-1)
        grad = np.zeros(cov.shape[:-1])
        grad[..., :c] = 4.0 * eps * STEFAN_BOLTZMANN * t**3 * a
        grad[..., c : 2 * c] = eps * STEFAN_BOLTZMANN * t**4
        power_var = quadratic_form(grad, cov)
        del grad
        if "covariance" not in problem.store:
            cov = None
        k = self.n_free
        with np.errstate(divide="ignore", invalid="ignore"):
            power_sd = np.sqrt(np.where(power_var >= 0, power_var, np.nan))
            bic = chi2 + k * np.log((dof + k).astype(float))
        area = "area_fraction" if problem.fraction else "area"
        values = {
            "temperature": t, "temperature_uncertainty": sd[..., :c],
            area: a, f"{area}_uncertainty": sd[..., c : 2 * c],
            "power": power, "power_uncertainty": power_sd,
            "covariance": cov, "chi2": chi2, "dof": dof, "aic": chi2 + 2.0 * k, "bic": bic,
            "status": status, "nfev": nfev, f"model_{problem.kind}": model, "background": bg,
        }  # fmt: skip
        if problem.intervals == "profile":
            t_lo, t_hi, p_lo, p_hi = intervals
            if scale is not None:
                p_lo, p_hi = p_lo * scale, p_hi * scale
            values.update(
                temperature_lower=t_lo, temperature_upper=t_hi, power_lower=p_lo, power_upper=p_hi
            )
        return values


def quadratic_form(g, cov, rows: int = 1 << 15):
    """g^T C g over the last axes, with 0 x NaN = 0 (a parameter the result does not depend on
    may have no variance); the same summation order for any batch shape or chunking. Works
    through ``rows`` spectra at a time so that its temporaries stay small."""
    g2 = g.reshape(-1, g.shape[-1])
    c2 = cov.reshape(-1, *cov.shape[-2:])
    out = np.empty(g2.shape[0])
    for start in range(0, g2.shape[0], rows):
        part = slice(start, start + rows)
        terms = g2[part, :, None] * g2[part, None, :]
        terms = np.where(terms != 0.0, terms * c2[part], 0.0)
        out[part] = terms.reshape(terms.shape[0], -1).sum(axis=-1)
    return out.reshape(g.shape[:-1])
