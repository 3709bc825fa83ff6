"""Inversion of spectra and photometry for the parameters of an active lava flow.

:class:`FlowModel` fits Davies' Io Flow Model (:mod:`thermal.cooling.eruptions`) to every
spectrum of an observation: the areal coverage rate R_A [m2 s-1] enters linearly and is
solved exactly for each trial duration t_max [s] (variable projection), t_max is found on a
log grid and refined by golden-section search, all in a compiled batch kernel. Uncertainties
come from the weighted Jacobian at the optimum; the effusion rate is R_A times an assumed mean
flow thickness (Davies et al. 2000, doi:10.1006/icar.2000.6486, use 1 m).

``thermal.fit.fit_spectra(observation, model=FlowModel(...))`` calls
:meth:`FlowModel.fit_observation`.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from thermal._kernels import eruptions as _k
from thermal._kernels import fit as _kfit
from thermal.cooling.crust import cooling_curve
from thermal.cooling.eruptions import _table
from thermal.cooling.materials import Material, get_material

__all__ = ["STATUS", "FlowModel"]

STATUS = _kfit.STATUS
"""Status codes (index = code), the same as the blackbody fits of :mod:`thermal.fit`."""


@dataclass(frozen=True)
class FlowModel:
    """An active constant-rate lava flow, as a model for :func:`thermal.fit.fit_spectra`.

    Parameters
    ----------
    material : str or Material
        Lava (``thermal.cooling.MATERIALS``).
    cooling : {"stefan", "conduction", "howell", "hon"}
        Cooling model of :mod:`thermal.cooling.crust`.
    thickness : float, optional
        Flow thickness [m] for the finite-thickness conduction model; also used for the
        effusion rate when given.
    effusion_thickness : float
        Mean flow thickness [m] turning the areal rate into an effusion rate (default 1 m).
    duration_bounds : (float, float)
        Range of the fitted duration [s] (default 10 s to 30 years).
    overrides : dict
        Material fields to replace.
    eruption_temperatures : sequence of float, optional
        Also fit the eruption temperature [K]: the flow is fitted once per value (the
        material's solidus and liquidus move with it), the best value per spectrum is refined
        by a parabola through the chi-square of its neighbours, and its 1-sigma uncertainty
        is where chi-square rises by 1. Areal rate and duration are those of the best grid
        value. At least 3 values, increasing.
    """

    material: str | Material = "basalt"
    cooling: str = "stefan"
    thickness: float | None = None
    effusion_thickness: float = 1.0
    duration_bounds: tuple = (10.0, 30 * 365.25 * 86400.0)
    overrides: dict = field(default_factory=dict)
    eruption_temperatures: tuple | None = None

    def __post_init__(self):
        if self.eruption_temperatures is not None:
            t = np.asarray(self.eruption_temperatures, dtype=float)
            if t.ndim != 1 or t.size < 3 or not np.all(np.diff(t) > 0) or not t[0] > 0:
                raise ValueError(
                    "eruption_temperatures must be >= 3 increasing values > 0 [K]; "
                    f"got {self.eruption_temperatures!r}"
                )
        lo, hi = self.duration_bounds
        if not (0 < lo < hi <= 1e10):
            raise ValueError(
                f"duration_bounds must satisfy 0 < lo < hi <= 1e10 [s]; got {(lo, hi)}"
            )
        if not (math.isfinite(self.effusion_thickness) and self.effusion_thickness > 0):
            raise ValueError(f"effusion_thickness must be > 0 [m]; got {self.effusion_thickness}")

    @property
    def description(self) -> str:
        m = get_material(self.material, **self.overrides)
        return (
            f"Io Flow Model (Davies 1996): constant areal rate, {m.name} lava, "
            f"{self.cooling} cooling"
        )

    def fit_observation(self, observation: xr.Dataset, max_iterations: int = 100) -> xr.Dataset:
        """Fit every spectrum; returns the result layout with ``areal_rate``, ``duration``,
        ``area``, ``effusion_rate``, ``power`` (each with ``*_uncertainty``), ``covariance``,
        ``chi2``, ``dof``, ``status``, ``message`` and ``model_intensity``."""
        from thermal.fit.engine import _attrs, _observation_parts, _thermal_version

        if self.eruption_temperatures is not None:
            return self._fit_eruption_temperature(observation, max_iterations)
        kind, dim, channels, data, unc = _observation_parts(observation)
        if kind == "radiance":
            if "pixel_area" not in observation.variables:
                raise ValueError("a flow fit of radiance needs 'pixel_area' [m2]")
            data = data * observation["pixel_area"]
            unc = unc * observation["pixel_area"]
        m = get_material(self.material, **self.overrides)
        curve = cooling_curve(m, self.cooling, thickness=self.thickness)
        lam, bnode, cum, energy = _table(curve, channels.node_lam.tobytes())
        lo, hi = self.duration_bounds
        grid = np.geomspace(lo, hi, max(8, round(10 * math.log10(hi / lo))))
        data, unc = xr.broadcast(data, unc)
        if data.chunks is not None:
            data = data.chunk({dim: -1})
            unc = unc.chunk({dim: -1})

        def apply(y, s):
            shape = y.shape[:-1]
            y2 = np.ascontiguousarray(y.reshape(-1, y.shape[-1]), dtype=float)
            s2 = np.ascontiguousarray(s.reshape(-1, s.shape[-1]), dtype=float)
            n = y2.shape[0]
            out = [np.empty(n), np.empty(n), np.empty((n, 2, 2)), np.empty(n),
                   np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int8),
                   np.empty((n, channels.n_ch)), np.empty(n), np.empty(n)]  # fmt: skip
            if n:
                _k.fit_flow_batch(
                    y2, s2, lam, channels.node_w, channels.node_ch, curve.age,
                    curve.surface_temperature, bnode, cum, energy,
                    m.background_temperature, lo, hi, grid, *out, size=n * 2000,
                )  # fmt: skip
            out[0] /= m.emissivity
            out[2][:, 0, :] /= m.emissivity
            out[2][:, :, 0] /= m.emissivity
            shapes = [shape, shape, (*shape, 2, 2), shape, shape, shape,
                      (*shape, channels.n_ch), shape, shape]  # fmt: skip
            return tuple(a.reshape(sh) for a, sh in zip(out, shapes, strict=True))

        rate, tau, cov, chi2, dof, status, model, power, power_var = xr.apply_ufunc(
            apply, data, unc, input_core_dims=[[dim], [dim]],
            output_core_dims=[[], [], ["param", "param_j"], [], [], [], [dim], [], []],
            dask="parallelized",
            output_dtypes=[float, float, float, float, np.int64, np.int8, float, float, float],
            dask_gufunc_kwargs={"output_sizes": {"param": 2, "param_j": 2}},
        )  # fmt: skip
        params = ["areal_rate", "duration"]
        cov = cov.assign_coords(param=params, param_j=params)
        rate_sd = np.sqrt(cov.sel(param="areal_rate", param_j="areal_rate", drop=True))
        tau_sd = np.sqrt(cov.sel(param="duration", param_j="duration", drop=True))
        area = rate * tau
        area_sd = np.sqrt(
            (tau * rate_sd) ** 2 + (rate * tau_sd) ** 2
            + 2 * rate * tau * cov.sel(param="areal_rate", param_j="duration", drop=True)
        )  # fmt: skip
        q = self.effusion_thickness if self.thickness is None else self.thickness
        flags = np.arange(len(STATUS), dtype=np.int8)
        messages = np.array([s.replace("_", " ") for s in STATUS], dtype=object)
        message = xr.apply_ufunc(
            lambda s: messages[s].astype(str), status, dask="parallelized", output_dtypes=[str]
        )
        result = xr.Dataset(
            {
                "areal_rate": rate.assign_attrs(_attrs("areal coverage rate", "m2 s-1")),
                "areal_rate_uncertainty": rate_sd.assign_attrs(
                    _attrs("1-sigma uncertainty of areal_rate", "m2 s-1", "qualityInformation")
                ),
                "duration": tau.assign_attrs(_attrs("time the flow has been active", "s")),
                "duration_uncertainty": tau_sd.assign_attrs(
                    _attrs("1-sigma uncertainty of duration", "s", "qualityInformation")
                ),
                "area": area.assign_attrs(_attrs("flow area, areal_rate x duration", "m2")),
                "area_uncertainty": area_sd.assign_attrs(
                    _attrs("1-sigma uncertainty of area", "m2", "qualityInformation")
                ),
                "effusion_rate": (rate * q).assign_attrs(
                    _attrs(f"effusion rate for a mean flow thickness of {q:g} m", "m3 s-1")
                ),
                "effusion_rate_uncertainty": (rate_sd * q).assign_attrs(
                    _attrs("1-sigma uncertainty of effusion_rate", "m3 s-1", "qualityInformation")
                ),
                "power": power.assign_attrs(_attrs("radiated power above the background", "W")),
                "power_uncertainty": np.sqrt(power_var).assign_attrs(
                    _attrs("1-sigma uncertainty of power", "W", "qualityInformation")
                ),
                "covariance": cov.assign_attrs(
                    _attrs(
                        "covariance of (areal_rate [m2 s-1], duration [s])",
                        "1",
                        "qualityInformation",
                    )
                ),
                "chi2": chi2.assign_attrs(
                    _attrs("chi-square of the fit", "1", "qualityInformation")
                ),
                "dof": dof.assign_attrs(_attrs("degrees of freedom", "1", "qualityInformation")),
                "status": status.assign_attrs(
                    long_name="fit status",
                    flag_values=flags,
                    flag_meanings=" ".join(STATUS),
                    coverage_content_type="qualityInformation",
                ),
                "message": message.assign_attrs(long_name="fit status in words"),
                "model_intensity": model.assign_attrs(
                    _attrs("best-fit flow intensity", "W sr-1 um-1")
                ),
            },
            attrs={
                "Conventions": "CF-1.11, ACDD-1.3",
                "model": self.description,
                "material": repr(m),
                "thermal_version": _thermal_version(),
                "history": f"{datetime.datetime.now(datetime.UTC):%Y-%m-%dT%H:%M:%SZ}: "
                f"thermal.cooling.FlowModel.fit_observation",
            },
        )
        return result

    def _fit_eruption_temperature(self, observation, max_iterations):
        """Profile the fit over the eruption-temperature grid (see the class docstring)."""
        base = get_material(self.material, **self.overrides)
        grid = np.asarray(self.eruption_temperatures, dtype=float)
        fits = []
        for t_e in grid:
            shift = t_e - base.eruption_temperature
            model = dataclasses.replace(
                self,
                eruption_temperatures=None,
                overrides={
                    **self.overrides,
                    "eruption_temperature": float(t_e),
                    "liquidus": base.liquidus + shift,
                    "solidus": base.solidus + shift,
                },
            )
            fits.append(model.fit_observation(observation, max_iterations))
        dim = "eruption_temperature_grid"
        stacked = xr.concat(fits, dim=dim, coords="minimal", compat="override")
        chi2 = stacked.chi2.where(stacked.status == 0, np.inf)
        chi2 = chi2.fillna(np.inf)
        best = chi2.argmin(dim)
        result = stacked.isel({dim: best})
        n = grid.size
        i0 = best.clip(1, n - 2)
        x = [xr.DataArray(grid, dims=dim).isel({dim: i0 + d}) for d in (-1, 0, 1)]
        y = [chi2.isel({dim: i0 + d}) for d in (-1, 0, 1)]
        denom = (x[0] - x[1]) * (x[0] - x[2]) * (x[1] - x[2])
        a = (x[2] * (y[1] - y[0]) + x[1] * (y[0] - y[2]) + x[0] * (y[2] - y[1])) / denom
        b = x[2] ** 2 * (y[0] - y[1]) + x[1] ** 2 * (y[2] - y[0]) + x[0] ** 2 * (y[1] - y[2])
        b = b / denom
        inside = (best > 0) & (best < n - 1) & (a > 0) & np.isfinite(a)
        vertex = (-b / (2 * a)).where(inside)
        t_best = xr.DataArray(grid, dims=dim).isel({dim: best})
        eruption = vertex.where(inside, t_best)
        sigma = (1.0 / np.sqrt(a)).where(inside)
        status = result.status.where(inside | (result.status != 0), 5).astype(np.int8)
        result["eruption_temperature"] = eruption.assign_attrs(
            long_name="eruption temperature (chi-square parabola over the grid)", units="K",
            coverage_content_type="modelResult",
        )  # fmt: skip
        result["eruption_temperature_uncertainty"] = sigma.assign_attrs(
            long_name="1-sigma uncertainty of eruption_temperature (delta chi2 = 1)", units="K",
            coverage_content_type="qualityInformation",
        )  # fmt: skip
        result["status"] = status.assign_attrs(result.status.attrs)
        result = result.drop_vars(dim, errors="ignore")
        result.attrs["eruption_temperature_grid_K"] = grid
        return result
