"""The Io Flow Model as a fit model: areal rate and duration of an active lava flow.

:class:`FlowModel` fits Davies' Io Flow Model (:mod:`thermal.cooling.eruptions`) to every
spectrum of an observation through the one fit engine (``thermal.fit.fit_spectra(observation,
model=FlowModel(...))`` or ``model="flow"``): the areal coverage rate R_A [m2 s-1] enters
linearly and is solved exactly for each trial duration t_max [s] (variable projection), t_max
is found on a log grid and refined by golden-section search, all in a compiled batch kernel.
Uncertainties come from the weighted Jacobian at the optimum; the effusion rate is R_A times an
assumed mean flow thickness (Davies et al. 2000, doi:10.1006/icar.2000.6486, use 1 m).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from thermal._kernels import eruptions as _k
from thermal.cooling.crust import cooling_curve
from thermal.cooling.eruptions import age_table
from thermal.cooling.materials import Material, get_material
from thermal.layout import output, statistics_outputs, uncertainty
from thermal.status import Status

__all__ = ["FlowModel"]


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

    parameter_names = ("areal_rate", "duration")
    n_free = 2

    def attributes(self) -> dict:
        """Global attributes of a result of this model."""
        attrs = {"material": repr(get_material(self.material, **self.overrides))}
        if self.eruption_temperatures is not None:
            attrs["eruption_temperature_grid_K"] = np.asarray(self.eruption_temperatures, float)
        return attrs

    def outputs(self, problem) -> list:
        """The result variables of a fit of ``problem`` (see :mod:`thermal.models`)."""
        if problem.intervals != "linear":
            raise ValueError("intervals must be 'linear' for FlowModel fits")
        if problem.kind == "radiance" and not problem.scaled:
            raise ValueError("a flow fit of radiance needs 'pixel_area' [m2]")
        q = self._effusion_thickness
        rows = [
            output("areal_rate", long_name="areal coverage rate", units="m2 s-1"),
            output("duration", long_name="time the flow has been active", units="s"),
            output("area", long_name="flow area, areal_rate x duration", units="m2"),
            output("effusion_rate", units="m3 s-1",
                   long_name=f"effusion rate for a mean flow thickness of {q:g} m"),
            output("power", long_name="radiated power above the background", units="W"),
        ]  # fmt: skip
        if self.eruption_temperatures is not None:
            rows.append(
                output("eruption_temperature", units="K",
                       long_name="eruption temperature (chi-square parabola over the grid)")
            )  # fmt: skip
        rows = [row for value in rows for row in (value, uncertainty(value))]
        stats = statistics_outputs(self.parameter_names, problem.dim, "intensity", problem.store)
        return rows + [row for row in stats if row.name != "nfev"]

    @property
    def _effusion_thickness(self) -> float:
        return self.effusion_thickness if self.thickness is None else self.thickness

    def evaluate(self, y, sigma, geometry, problem) -> dict:
        """Fit a block of spectra (see :mod:`thermal.models`); radiance times the pixel area
        [m2] of ``geometry``."""
        scale = geometry.get("pixel_area")
        if scale is not None and problem.kind == "radiance":
            y = y * scale[..., None]
            sigma = sigma * scale[..., None]
        if self.eruption_temperatures is not None:
            return self._evaluate_eruption_temperature(y, sigma, problem)
        return self._evaluate(y, sigma, problem)

    def _evaluate(self, y, s, problem) -> dict:
        channels = problem.channels
        m = get_material(self.material, **self.overrides)
        curve = cooling_curve(m, self.cooling, thickness=self.thickness)
        lam, bnode, cum, energy = age_table(curve, channels.node_lam.tobytes())
        lo, hi = self.duration_bounds
        grid = np.geomspace(lo, hi, max(8, round(10 * math.log10(hi / lo))))
        shape = y.shape[:-1]
        y2 = np.ascontiguousarray(y.reshape(-1, y.shape[-1]), dtype=float)
        s2 = np.ascontiguousarray(s.reshape(-1, s.shape[-1]), dtype=float)
        n = y2.shape[0]
        out = [np.empty(n), np.empty(n), np.empty((n, 2, 2)), np.empty(n),
               np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int8),
               np.empty((n, channels.n_ch)), np.empty(n), np.empty(n)]  # fmt: skip
        if n:
            table = _k.flow_table(
                lam, channels.node_w, channels.node_ch, curve.age, curve.surface_temperature,
                bnode, cum, energy, m.background_temperature,
            )  # fmt: skip
            _k.fit_flow_batch(y2, s2, table, lo, hi, grid, _k.FlowFits(*out), size=n * 2000)
        out[0] /= m.emissivity
        out[2][:, 0, :] /= m.emissivity
        out[2][:, :, 0] /= m.emissivity
        shapes = [shape, shape, (*shape, 2, 2), shape, shape, shape,
                  (*shape, channels.n_ch), shape, shape]  # fmt: skip
        rate, tau, cov, chi2, dof, status, model, power, power_var = (
            a.reshape(sh) for a, sh in zip(out, shapes, strict=True)
        )
        rate_sd = np.sqrt(cov[..., 0, 0])
        tau_sd = np.sqrt(cov[..., 1, 1])
        q = self._effusion_thickness
        with np.errstate(invalid="ignore", divide="ignore"):
            area_sd = np.sqrt(
                (tau * rate_sd) ** 2 + (rate * tau_sd) ** 2 + 2 * rate * tau * cov[..., 0, 1]
            )
            bic = chi2 + 2 * np.log((dof + 2).astype(float))
        return {
            "areal_rate": rate, "areal_rate_uncertainty": rate_sd,
            "duration": tau, "duration_uncertainty": tau_sd,
            "area": rate * tau, "area_uncertainty": area_sd,
            "effusion_rate": rate * q, "effusion_rate_uncertainty": rate_sd * q,
            "power": power, "power_uncertainty": np.sqrt(power_var),
            "covariance": cov, "chi2": chi2, "dof": dof, "aic": chi2 + 4.0, "bic": bic,
            "status": status, "model_intensity": model,
        }  # fmt: skip

    def _evaluate_eruption_temperature(self, y, s, problem) -> dict:
        """Fit once per grid value and refine the best by a parabola (see the class doc)."""
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
            fits.append(model._evaluate(y, s, problem))
        chi2 = np.stack(
            [np.where(f["status"] == Status.CONVERGED, f["chi2"], np.inf) for f in fits]
        )
        chi2 = np.where(np.isnan(chi2), np.inf, chi2)
        best = np.argmin(chi2, axis=0)
        result = {
            name: np.take_along_axis(
                np.stack([f[name] for f in fits]), best.reshape(1, *best.shape, *(1,) * (
                    fits[0][name].ndim - best.ndim)), axis=0
            )[0]
            for name in fits[0]
        }  # fmt: skip
        n = grid.size
        i0 = np.clip(best, 1, n - 2)
        x = [grid[i0 + d] for d in (-1, 0, 1)]
        c = [np.take_along_axis(chi2, (i0 + d)[None], axis=0)[0] for d in (-1, 0, 1)]
        with np.errstate(invalid="ignore", divide="ignore"):
            denom = (x[0] - x[1]) * (x[0] - x[2]) * (x[1] - x[2])
            a = (x[2] * (c[1] - c[0]) + x[1] * (c[0] - c[2]) + x[0] * (c[2] - c[1])) / denom
            b = x[2] ** 2 * (c[0] - c[1]) + x[1] ** 2 * (c[2] - c[0]) + x[0] ** 2 * (c[1] - c[2])
            b = b / denom
            inside = (best > 0) & (best < n - 1) & (a > 0) & np.isfinite(a)
            vertex = -b / (2 * a)
            sigma = 1.0 / np.sqrt(a)
        result["eruption_temperature"] = np.where(inside, vertex, grid[best])
        result["eruption_temperature_uncertainty"] = np.where(inside, sigma, np.nan)
        status = result["status"]
        result["status"] = np.where(
            inside | (status != Status.CONVERGED), status, Status.AT_BOUND
        ).astype(np.int8)
        return result
