"""Surface temperature and crust thickness of cooling lava versus age.

Models (``model=``):

* ``"stefan"``: Stefan crust growth, h = 2 lambda sqrt(kappa t) with lambda exp(lambda^2)
  erf(lambda) = St / sqrt(pi), St = c_p (T_m - T_s) / L, closed at every age by the radiative
  surface balance eps sigma (T_s^4 - T_bg^4) = k (T_m - T_s) / (erf(lambda) sqrt(pi kappa t))
  (the "modified Stefan" model of Davies 1996, doi:10.1006/icar.1996.0189, and Howell 1997,
  doi:10.1006/icar.1997.5686; Turcotte & Schubert, Geodynamics, section 4-18), solved
  exactly per age. T_m is the material's eruption temperature. Semi-infinite only.
* ``"conduction"``: the 1-D heat equation solved numerically (implicit enthalpy method:
  latent heat released linearly between solidus and liquidus), radiative top plus convective
  loss when the material has an atmosphere; semi-infinite, or a flow of finite ``thickness``
  [m] lying on ground of the same rock at the background temperature, which cools it from
  below (as Davies et al. 2005, doi:10.1016/j.icarus.2005.01.015). The crust is the depth of
  the solidus isotherm; once a finite flow is solid throughout it equals the thickness.
* ``"hon"``: the empirical law of Hon et al. 1994 (GSA Bull. 106:351,
  doi:10.1130/0016-7606(1994)106<0351:EAIOPS>2.3.CO;2) for Kilauea pahoehoe: T = 303 - 140
  log10(t [h]) degC (decimal logarithm, as in PyFLOWGO's ``flowgo_crust_temperature_model_hon``;
  Harris & Rowland 2015) and h = 0.0779 sqrt(t [h]) m (the thickness coefficient is
  [recalled]). **Only for Hawaiian flows in air**, as PyFLOWGO warns: it ignores the
  material except for clipping to [background, eruption temperature] (the logarithmic law
  crosses 300 K after ~94 h).

* ``"howell"``: Howell's (1997, doi:10.1006/icar.1997.5686) simplification of the Stefan
  model: the conductive flux of a crust growing with a fixed lambda (St at T_s = T_bg),
  eps sigma T_s^4 = k T_m / (erf(lambda) sqrt(pi kappa t)), so T_s falls as t^(-1/8) from the
  eruption temperature and a constant-rate flow radiates as lambda^3 in the near infrared.

Tabulated curves (:func:`cooling_curve`) are computed once per material, model and thickness
and reused (``functools.lru_cache``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import xarray as xr

from thermal._kernels import crust as _k
from thermal.constants import STEFAN_BOLTZMANN
from thermal.cooling.materials import Material, get_material
from thermal.units import quantity_inputs

__all__ = ["CoolingCurve", "cooling_curve", "crust_thickness", "surface_temperature"]

MODELS = ("stefan", "conduction", "hon", "howell")
FIRST_AGE = 1e-3
"""First tabulated age [s] after 0."""
LAST_AGE = 1e10
"""Last tabulated age [s] (~317 yr)."""
STEPS_PER_DECADE = 40
TIME_SUBSTEPS = 8


@dataclass(frozen=True, eq=False)
class CoolingCurve:
    """A tabulated cooling curve.

    Attributes
    ----------
    material : Material
    model : str
    thickness : float or None
        Flow thickness [m] (None: semi-infinite).
    age : ndarray
        Ages [s]: 0, then log-spaced from ``FIRST_AGE`` to ``LAST_AGE``.
    surface_temperature : ndarray
        [K] at each age.
    crust_thickness : ndarray
        [m] at each age.
    """

    material: Material
    model: str
    thickness: float | None
    age: np.ndarray
    surface_temperature: np.ndarray
    crust_thickness: np.ndarray

    def _interp(self, values, age):
        age = np.asarray(age, dtype=float)
        if np.any(age > self.age[-1]):
            raise ValueError(f"age must be <= {self.age[-1]:g} s for tabulated curves")
        out = np.interp(np.log(np.maximum(age, FIRST_AGE)), np.log(self.age[1:]), values[1:])
        early = age < FIRST_AGE  # linear in age between 0 and the first tabulated age
        if np.any(early):
            w = age[early] / FIRST_AGE
            out = np.asarray(out, float)
            out[early] = (1 - w) * values[0] + w * values[1]
        return out

    def temperature_at(self, age):
        """Surface temperature [K] at ``age`` [s] (log-age interpolation)."""
        return self._interp(self.surface_temperature, age)

    def thickness_at(self, age):
        """Crust thickness [m] at ``age`` [s] (log-age interpolation)."""
        return self._interp(self.crust_thickness, age)

    @property
    def solidification_age(self) -> float:
        """First tabulated age [s] at which a finite flow is solid throughout (NaN: never)."""
        if self.thickness is None:
            return math.nan
        solid = np.flatnonzero(self.crust_thickness >= self.thickness)
        return float(self.age[solid[0]]) if solid.size else math.nan


def _ages():
    n = round(math.log10(LAST_AGE / FIRST_AGE) * STEPS_PER_DECADE) + 1
    return np.concatenate([[0.0], np.geomspace(FIRST_AGE, LAST_AGE, n)])


def _stefan_args(m: Material):
    if not m.latent_heat > 0:
        raise ValueError("latent_heat must be > 0 for model='stefan' [J kg-1]")
    return (
        m.eruption_temperature, m.background_temperature, m.emissivity,
        m.convective_coefficient, m.air_temperature, m.conductivity, m.diffusivity,
        m.heat_capacity, m.latent_heat,
    )  # fmt: skip


def conduction_grid(thickness, dz0=2e-5, ratio=1.04, dz_max=0.05, depth=200.0):
    """Node depths [m] of the conduction solver: geometric from ``dz0`` at the surface, at
    most ``dz_max`` through a finite flow and 2 m below it, geometric again to ``depth`` below
    the flow (or to ``depth`` for a semi-infinite body)."""
    bottom = depth if thickness is None else thickness + depth
    fine_to = -1.0 if thickness is None else thickness + 2.0
    z = [0.0]
    dz = dz0
    while z[-1] < bottom:
        z.append(z[-1] + dz)
        dz = dz * ratio if z[-1] >= fine_to else min(dz * ratio, dz_max)
    return np.asarray(z)


def _conduction(m: Material, thickness, t_fixed=math.nan, refine=1):
    # backward Euler on log-spaced steps errs by a constant fraction ~ dt/t: substeps keep
    # it near 0.1 % (TIME_SUBSTEPS per tabulated step); returned on the tabulated ages
    ages = _ages()[1:]
    sub = TIME_SUBSTEPS * refine
    ages = np.geomspace(FIRST_AGE, LAST_AGE, (ages.size - 1) * sub + 1)
    z = conduction_grid(
        thickness, dz0=2e-5 / refine, ratio=1.04 ** (1 / refine), dz_max=0.05 / refine
    )
    flow = math.inf if thickness is None else float(thickness)
    t0 = np.where(z <= flow, m.eruption_temperature, m.background_temperature)
    ts = np.empty(ages.size)
    h = np.empty(ages.size)
    hottest = np.empty(ages.size)
    lava = _k.conduction_lava(
        m.density * m.heat_capacity, m.density * m.latent_heat, m.solidus,
        max(m.liquidus, m.solidus + 1e-6), m.conductivity, m.emissivity,
        m.background_temperature, m.convective_coefficient, m.air_temperature,
    )  # fmt: skip
    _k.conduction_curve(z, t0, ages, lava, float(t_fixed), flow, ts, h, hottest)
    keep = slice(0, None, sub)
    return ages[keep], ts[keep], h[keep], hottest[keep]


@functools.lru_cache(maxsize=64)
def _curve(material: Material, model: str, thickness) -> CoolingCurve:
    ages = _ages()
    if model == "stefan":
        ts = np.empty(ages.size)
        h = np.empty(ages.size)
        _k.stefan_curve(ages, _k.stefan_lava(*_stefan_args(material)), ts, h)
    elif model == "conduction":
        _, ts1, h1, _ = _conduction(material, thickness)
        ts = np.concatenate([[material.eruption_temperature], ts1])
        h = np.concatenate([[0.0], h1])
    elif model == "howell":
        ts, h = _howell(ages, material)
    else:
        ts, h = _hon(ages, material)
    for a in (ages, ts, h):
        a.setflags(write=False)
    return CoolingCurve(material, model, thickness, ages, ts, h)


def _check(model, thickness):
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}; got {model!r}")
    if thickness is not None:
        if model != "conduction":
            raise ValueError("thickness applies to model='conduction' only")
        if not (math.isfinite(thickness) and thickness > 0):
            raise ValueError(f"thickness must be finite and > 0 [m]; got {thickness!r}")
        return float(thickness)
    return None


def cooling_curve(material="basalt", model="stefan", *, thickness=None, **overrides):
    """The tabulated cooling curve of a material (cached).

    Parameters
    ----------
    material : str or Material
        Preset name or Material; ``**overrides`` replace fields.
    model : {"stefan", "conduction", "hon", "howell"}
    thickness : float, optional
        Flow thickness [m] (``model="conduction"`` only); default semi-infinite.

    Returns
    -------
    CoolingCurve
        Ages 0 and 1e-3 to 1e10 s (40 per decade), surface temperature [K], crust [m].
        Log-age interpolation between the tabulated ages errs < 1e-4 in surface temperature
        (tested against the directly solved Stefan model).

    Notes
    -----
    For a finite flow (``thickness``) the conduction model lies on ground of the same rock at
    the background temperature (basal boundary: the ground is conducted through, 200 m deep
    (``conduction_grid(depth=)``), its bottom held at the background temperature).
    ``crust_thickness`` is the depth of the solidus isotherm, equal to ``thickness`` once the
    flow is solid throughout; the surface keeps cooling after that
    (:attr:`CoolingCurve.solidification_age`).
    """
    m = get_material(material, **overrides)
    return _curve(m, model, _check(model, thickness))


def _hon(age, m: Material):
    hours = np.asarray(age, float) / 3600.0
    with np.errstate(divide="ignore"):
        t = 303.0 - 140.0 * np.log10(hours) + 273.15
    # age 0: the eruption temperature (the logarithm diverges); NaN ages stay NaN
    t = np.clip(np.where(hours != 0, t, np.inf), m.background_temperature, m.eruption_temperature)
    return t, 0.0779 * np.sqrt(hours)


def _howell(age, m: Material):
    if not m.latent_heat > 0:
        raise ValueError("latent_heat must be > 0 for model='howell' [J kg-1]")
    lam = _k.stefan_lambda(m.heat_capacity * (m.eruption_temperature - m.background_temperature)
                           / m.latent_heat)  # fmt: skip
    age = np.asarray(age, float)
    q0 = (
        m.conductivity
        * m.eruption_temperature
        / (math.erf(lam) * math.sqrt(math.pi * m.diffusivity))
    )
    with np.errstate(divide="ignore"):
        t = (q0 / (m.emissivity * STEFAN_BOLTZMANN * np.sqrt(age))) ** 0.25
    return np.minimum(t, m.eruption_temperature), 2.0 * lam * np.sqrt(m.diffusivity * age)


def _age_array(age):
    a = np.asarray(age, dtype=float)
    if np.any(a < 0) or np.any(np.isinf(a)):
        raise ValueError("age must be finite and >= 0 [s]")
    return a


def _evaluate(age, material, model, thickness, overrides, which):
    m = get_material(material, **overrides)
    thickness = _check(model, thickness)
    if isinstance(age, xr.DataArray):
        values = _evaluate(age.values, m, model, thickness, {}, which)
        name = "surface_temperature" if which == 0 else "crust_thickness"
        unit = "K" if which == 0 else "m"
        attrs = {"units": unit, "long_name": name.replace("_", " ")}
        return xr.DataArray(values, coords=age.coords, dims=age.dims, name=name, attrs=attrs)
    a = _age_array(age)
    if model == "stefan":
        flat = np.ascontiguousarray(a.ravel())
        ts = np.empty(flat.size)
        h = np.empty(flat.size)
        _k.stefan_curve(flat, _k.stefan_lava(*_stefan_args(m)), ts, h)
        out = (ts, h)[which].reshape(a.shape)
    elif model == "hon":
        out = _hon(a, m)[which]
    elif model == "howell":
        out = _howell(a, m)[which]
    else:
        curve = _curve(m, model, thickness)
        out = curve.temperature_at(a) if which == 0 else curve.thickness_at(a)
        out = np.where(np.isnan(a), np.nan, out)
    return out[()] if np.ndim(out) == 0 else out


@quantity_inputs(age="s", thickness="m")
def surface_temperature(age, material="basalt", model="stefan", *, thickness=None, **overrides):
    """Surface temperature of cooling lava [K] versus age.

    Parameters
    ----------
    age : float, array_like or DataArray
        Time since emplacement [s], >= 0 (0 gives the eruption temperature; NaN gives NaN).
    material : str or Material, optional
        Preset name (``thermal.cooling.MATERIALS``) or Material; ``**overrides`` replace
        fields (e.g. ``conductivity=0.8`` [W m-1 K-1]).
    model : {"stefan", "conduction", "hon", "howell"}, optional
        See the module docstring for the equations and references.
    thickness : float, optional
        Flow thickness [m] for ``model="conduction"`` (default: semi-infinite).

    Returns
    -------
    float, ndarray or DataArray
        Surface temperature [K].

    Examples
    --------
    >>> round(float(surface_temperature(3600.0)))  # basalt on Io after 1 h, Stefan model
    742
    """
    return _evaluate(age, material, model, thickness, overrides, 0)


@quantity_inputs(age="s", thickness="m")
def crust_thickness(age, material="basalt", model="stefan", *, thickness=None, **overrides):
    """Crust thickness of cooling lava [m] versus age.

    Parameters and models as :func:`surface_temperature`. The crust is the solid layer at
    the top: the depth of the melt isotherm (``stefan``), of the solidus isotherm
    (``conduction``; a finite flow solid throughout returns its thickness) or Hon's law.

    Returns
    -------
    float, ndarray or DataArray
        Crust thickness [m].
    """
    return _evaluate(age, material, model, thickness, overrides, 1)
