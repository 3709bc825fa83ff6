"""Automatic model choice: per spectrum, the simplest of no source, 1T, 2T and 3T its data support.

``model="auto"`` of :func:`thermal.fit.fit_spectra` and ``thermal fit``. For every spectrum:

1. **Detection.** A one-temperature fit is compared with no source (zero signal, or the
   reflected-sunlight background alone when ``background=True``). The source is detected when
   the chi-square falls by at least ``detection`` (default 25, a 5-sigma change for one
   amplitude; the temperature scan adds a look-elsewhere factor that keeps noise-only false
   detections well under 1 % at 17 channels). A spectrum that is not detected gets the status
   ``not_detected``, no temperature or area, and ``power_upper_limit``: the power of a blackbody
   at ``limit_temperature`` (default 1000 K) whose area is the best-fit area at that temperature
   (zero if negative) plus ``limit_sigma`` (default 3) standard deviations.
2. **More components.** Two temperatures replace one, and three replace two, only where the
   richer model has fewer free parameters than valid channels, converged (not at a bound,
   plausible) and lowers the Bayesian information criterion (Schwarz 1978,
   doi:10.1214/aos/1176344136) by more than ``evidence`` (default 10, "very strong" on the scale
   of Kass & Raftery 1995, doi:10.1080/01621459.1995.10476572). One temperature is fitted even
   to two channels (the colour temperature; zero degrees of freedom).

The result has the component dimension of the largest candidate (NaN where a spectrum has fewer
components), ``model`` (0 none, 1-3 temperatures), ``evidence`` (BIC of the next simpler model
minus that of the chosen one), ``detected`` and ``power_upper_limit``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from thermal.constants import STEFAN_BOLTZMANN
from thermal.layout import output
from thermal.models.base import check_count, check_interval
from thermal.models.blackbody import MultiBlackbody
from thermal.plausibility import guard
from thermal.status import Status

__all__ = ["TEMPERATURE_RANGE", "AutoModel"]

TEMPERATURE_RANGE = (150.0, 2000.0)
"""Default temperature bounds [K] of the automatic choice: from the coldest surfaces whose
emission the 1-5 um data can separate from reflected light and the background, to above the
hottest silicate lavas proposed for Io (ultramafic eruptions, ~1600-1900 K)."""

_FAILED = (
    Status.NO_DATA, Status.INVALID_UNCERTAINTY, Status.INVALID_DATA, Status.NOT_ENOUGH_CHANNELS,
)  # fmt: skip


@dataclass(frozen=True)
class AutoModel:
    """Per spectrum the simplest supported of no source, 1T, 2T and 3T (see the module doc).

    Parameters
    ----------
    temperature_range : (float, float)
        Bounds of every component's temperature [K] (default :data:`TEMPERATURE_RANGE`,
        150-2000 K).
    max_components : int
        Largest number of temperatures tried, 1 to 3 (default 3).
    background : bool or {"sunlight", "scene"}
        An additive background in every candidate and in the no-source model: False (none),
        True or ``"sunlight"`` (reflected sunlight, day-side data), or ``"scene"`` (the
        observation's median spectrum over all its spectra, scaled per spectrum by at most
        :data:`SCENE_BACKGROUND_LIMIT`: images and cubes whose spectra are mostly background;
        the engine computes it, see ``scene``).
    scene : sequence of float, optional
        The background spectrum of ``background="scene"`` [canonical data unit]; filled in
        by :func:`thermal.fit.fit_spectra` when not given.
    emissivity : float
        Emissivity of every component, in (0, 1].
    detection : float
        Chi-square drop of the 1T fit over no source that counts as a detection (default 25).
    evidence : float
        BIC drop that justifies one more component (default 10).
    limit_temperature : float
        Temperature [K] at which the power upper limit of undetected spectra is stated.
    limit_sigma : float
        Standard deviations of the area above its best fit in the upper limit (default 3).
    """

    temperature_range: tuple = TEMPERATURE_RANGE
    max_components: int = 3
    background: bool | str = False
    scene: tuple | None = None
    emissivity: float = 1.0
    detection: float = 25.0
    evidence: float = 10.0
    limit_temperature: float = 1000.0
    limit_sigma: float = 3.0

    def __post_init__(self):
        object.__setattr__(self, "temperature_range", check_interval(self.temperature_range))
        if self.background not in (False, True, "sunlight", "scene"):
            raise ValueError(
                f"background must be False, True, 'sunlight' or 'scene'; got {self.background!r}"
            )
        if self.scene is not None:
            object.__setattr__(self, "scene", tuple(float(v) for v in self.scene))
        check_count(self.max_components, "max_components", 1, 3)
        for name in ("detection", "evidence", "limit_temperature", "limit_sigma"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0; got {value!r}")
        self.candidate(1)  # validates the emissivity

    def candidate(self, n: int) -> MultiBlackbody:
        """The ``n``-temperature model tried."""
        bounds = dict.fromkeys(range(n), self.temperature_range)
        shape = self.scene if self.background == "scene" else None
        return MultiBlackbody(
            n, emissivity=self.emissivity, bounds=bounds, background=bool(self.background),
            background_shape=shape,
        )  # fmt: skip

    @property
    def n_components(self) -> int:
        return self.max_components

    @property
    def parameter_names(self) -> tuple:
        return self.candidate(self.max_components).parameter_names

    @property
    def n_free(self) -> int:
        return self.candidate(self.max_components).n_free

    @property
    def description(self) -> str:
        lo, hi = self.temperature_range
        text = (
            f"automatic choice per spectrum of no source or 1-{self.max_components} blackbodies "
            f"({lo:g}-{hi:g} K, emissivity {self.emissivity:g}): detected when chi2 drops by "
            f">= {self.detection:g} against no source, one more component when BIC drops by "
            f"> {self.evidence:g}"
        )
        if self.background == "scene":
            return text + " + the scene's median spectrum as background"
        return text + (" + reflected sunlight" if self.background else "")

    def attributes(self) -> dict:
        """Global attributes of a result of this model."""
        return {
            "thermal_temperature_range_K": np.asarray(self.temperature_range),
            "thermal_detection_delta_chi2": self.detection,
            "thermal_evidence_delta_bic": self.evidence,
            "thermal_upper_limit": f"{self.limit_sigma:g} sigma at {self.limit_temperature:g} K",
        }

    def outputs(self, problem) -> list:
        """The result variables of a fit of ``problem`` (see :mod:`thermal.models`)."""
        if self.background == "scene" and self.scene is None:
            raise ValueError(
                "background='scene' needs the scene's spectrum (fit_spectra makes it)"
            )
        if problem.intervals != "linear":
            raise ValueError(
                "intervals='profile' needs a fixed model ('1T', '2T', '3T'), not 'auto'"
            )
        rows = self.candidate(self.max_components).outputs(problem)
        power_units = "W m-2" if problem.fraction else "W"
        names = " ".join(["none", *(f"{n}T" for n in range(1, self.max_components + 1))])
        rows += [
            output("model", long_name="number of temperatures chosen (0: no source detected)",
                   units="1", dtype=np.int8, content="auxiliaryInformation",
                   flag_values=np.arange(self.max_components + 1, dtype=np.int8),
                   flag_meanings=names),
            output("evidence", units="1", content="qualityInformation",
                   long_name="BIC of the next simpler model minus that of the chosen one"),
            output("detected", long_name="source detected above the background", units="1",
                   dtype=np.int8, content="qualityInformation",
                   flag_values=np.array([0, 1], dtype=np.int8),
                   flag_meanings="not_detected detected"),
            output("power_upper_limit", units=power_units,
                   long_name=f"{self.limit_sigma:g}-sigma upper limit of the power of an "
                   f"undetected source at {self.limit_temperature:g} K"),
        ]  # fmt: skip
        return rows

    def evaluate(self, y, sigma, geometry, problem) -> dict:
        """Fit a block of spectra (see :mod:`thermal.models`)."""
        shape = y.shape[:-1]
        n_ch = y.shape[-1]
        y2 = y.reshape(-1, n_ch)
        s2 = sigma.reshape(-1, n_ch)
        flat = {k: np.broadcast_to(v, shape).reshape(-1) for k, v in geometry.items()}
        n = y2.shape[0]
        big = self.candidate(self.max_components)
        sizes = {"component": big.n, "param": len(big.parameter_names), problem.dim: n_ch}
        sizes["param_j"] = sizes["param"]
        result, per_component = {}, set()
        for out in big.outputs(problem):
            fill = 0 if np.dtype(out.dtype).kind in "iu" else np.nan
            result[out.name] = np.full((n, *(sizes[d] for d in out.dims)), fill, out.dtype)
            if "component" in out.dims:
                per_component.add(out.name)

        # no source: zero signal, or the reflected-sunlight background alone
        valid = np.isfinite(y2) & np.isfinite(s2) & (s2 > 0)
        w = np.where(valid, 1.0 / np.where(valid, s2, 1.0) ** 2, 0.0)
        yv = np.where(valid, y2, 0.0)
        k_none = int(bool(self.background))
        if self.background:
            sun = (
                np.asarray(big.background_shape)
                if big.background_shape is not None
                else _sunlight(problem.channels)
            )
            den = (w * sun * sun).sum(axis=-1)
            b = np.maximum((w * yv * sun).sum(axis=-1) / np.where(den > 0, den, 1.0), 0.0)
            if self.background == "scene":  # held as the candidates' is
                b = np.minimum(b, SCENE_BACKGROUND_LIMIT * max(self.scene))
            chi2_none = (w * (yv - b[:, None] * sun) ** 2).sum(axis=-1)
        else:
            chi2_none = (w * yv * yv).sum(axis=-1)
        n_valid = valid.sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            bic_none = chi2_none + k_none * np.log(n_valid.astype(float))

        chosen = np.zeros(n, dtype=np.int8)
        bic = [bic_none]  # BIC of each candidate (index = temperatures) where it was fitted
        rows = np.arange(n)
        for m in range(1, self.max_components + 1):
            model = self.candidate(m)
            # every spectrum goes to the one-temperature fit, which gives those it cannot fit
            # their status (invalid data or uncertainty, no data, too few channels); one
            # temperature may use every channel (a colour temperature), more need dof > 0
            if m > 1:
                rows = rows[(chosen[rows] == m - 1) & (n_valid[rows] >= model.n_free + 1)]
            bic.append(np.full(n, np.nan))
            if rows.size == 0:
                break
            part = {k: v[rows] for k, v in flat.items()}
            values = model.evaluate(y2[rows], s2[rows], part, problem)
            if self.background == "scene":
                _bound_scene_background(
                    model, self.scene, values, y2[rows], s2[rows], part, problem
                )
            if self.background:
                _background_at_zero_is_no_bound(values, self.temperature_range)
            guard(values, part, 90.0)  # an implausible solution is never chosen
            status = values["status"]
            bic[m][rows] = values["bic"]
            if m == 1:
                failed = np.isin(status, _FAILED)
                result["status"][rows] = np.where(failed, status, Status.NOT_DETECTED)
                # the no-source statistics where the data could be fitted at all
                fine = rows[~failed]
                result["chi2"][fine] = chi2_none[fine]
                result["dof"][fine] = n_valid[fine] - k_none
                result["aic"][fine] = chi2_none[fine] + 2.0 * k_none
                result["bic"][fine] = bic_none[fine]
                accept = ~failed & (chi2_none[rows] - values["chi2"] >= self.detection)
            else:  # a richer model the data still reject may be the better one
                accept = np.isin(status, (Status.CONVERGED, Status.POOR_FIT))
                accept &= bic[m - 1][rows] - values["bic"] > self.evidence
            take = rows[accept]
            chosen[take] = m
            for name, value in values.items():
                if name not in result or value is None:
                    continue
                value = np.asarray(value)[accept]
                if name == "covariance":
                    index = np.array([big.parameter_names.index(p) for p in model.parameter_names])
                    block = np.full((take.size, *result[name].shape[1:]), np.nan)
                    block[:, index[:, None], index[None, :]] = value
                    result[name][take] = block
                elif name in per_component:
                    result[name][take] = np.nan
                    result[name][take, :m] = value
                else:
                    result[name][take] = value
            rows = take
        result["model"] = chosen
        result["detected"] = (chosen > 0).astype(np.int8)
        everything = np.arange(n)
        with np.errstate(invalid="ignore"):
            chosen_bic = np.stack(bic)[chosen, everything]
            simpler_bic = np.stack(bic)[np.maximum(chosen - 1, 0), everything]
            # for a detection, against the next simpler model; otherwise a source (1T)
            # against none (then usually negative: no evidence)
            result["evidence"] = np.where(chosen > 0, simpler_bic - chosen_bic, bic_none - bic[1])
        upper = self._upper_limit(yv, w, problem, flat.get("pixel_area"))
        # an upper limit where nothing was detected, not where the data could not be fitted
        result["power_upper_limit"] = np.where(
            (chosen == 0) & (result["status"] == Status.NOT_DETECTED), upper, np.nan
        )
        return {name: value.reshape((*shape, *value.shape[1:])) for name, value in result.items()}

    def _upper_limit(self, yv, w, problem, pixel_area):
        """Power upper limit [W, or W m-2 for area fractions] at the limit temperature."""
        t = self.limit_temperature
        basis = self.emissivity * problem.channels.radiance(t)[0]
        den = (w * basis * basis).sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            best = (w * yv * basis).sum(axis=-1) / den
            area = np.maximum(best, 0.0) + self.limit_sigma / np.sqrt(den)
        power = self.emissivity * STEFAN_BOLTZMANN * t**4 * area
        if pixel_area is not None and problem.kind == "radiance":
            power = power * pixel_area
        return power


SCENE_BACKGROUND_LIMIT = 10.0
"""Most a spectrum's background may be of the scene's median spectrum (``background="scene"``)
[1]: across a sunlit disk the background varies by limb darkening and albedo, a few times,
not a thousand. Unbounded, a flat scene (the night side) scaled a thousand times stood in for
a warm component: a JIRAM pixel of 1100 K + 500 K was fitted as 970 K and a background 1100
times the scene's, with a third of its power."""


def _bound_scene_background(model, scene, values, y, sigma, geometry, problem) -> None:
    """Where a candidate's scene background (its peak [data unit]) exceeds
    :data:`SCENE_BACKGROUND_LIMIT` times the ``scene``'s, fit it again, in place, with the
    background held at that limit (its parameter still counted in dof, AIC and BIC, its
    covariance NaN)."""
    scene = np.asarray(scene, dtype=float)
    limit = SCENE_BACKGROUND_LIMIT * float(scene.max())
    with np.errstate(invalid="ignore"):
        over = np.flatnonzero(np.asarray(values["background"]) > limit)
    if over.size == 0:
        return
    bare = dataclasses.replace(model, background=False, background_shape=None)
    part = {k: np.asarray(v)[over] for k, v in geometry.items()}
    refit = bare.evaluate(y[over] - SCENE_BACKGROUND_LIMIT * scene, sigma[over], part, problem)
    n_valid = np.count_nonzero(np.isfinite(y[over]) & np.isfinite(sigma[over]), axis=-1)
    held = {"dof": -1, "aic": 2.0, "bic": np.log(np.maximum(n_valid, 1))}
    for name, value in refit.items():
        if name not in values or value is None or values[name] is None:
            continue
        value = np.asarray(value)
        if name == "covariance":
            size = value.shape[-1]
            block = np.full((over.size, *values[name].shape[1:]), np.nan)
            block[:, :size, :size] = value
            value = block
        elif name in held:
            value = value + held[name]
        elif name.startswith("model_"):  # with the background it was fitted against
            value = value + SCENE_BACKGROUND_LIMIT * scene
        values[name][over] = value
    values["background"][over] = limit


def _background_at_zero_is_no_bound(values, temperature_range) -> None:
    """A background amplitude of zero (a bright source outshines it) is a result, not a
    component the data cannot support: such at_bound fits become converged where every
    temperature lies inside the range with an uncertainty and every area is positive."""
    lo, hi = np.log(temperature_range)
    t = np.log(values["temperature"])
    inside = np.all((t > lo + 1e-6) & (t < hi - 1e-6), axis=-1)
    area = values.get("area", values.get("area_fraction"))
    sd = values["temperature_uncertainty"]
    fine = inside & np.all(area > 0, axis=-1) & np.all(np.isfinite(sd), axis=-1)
    fine &= values["background"] == 0.0
    values["status"] = np.where(
        fine & (values["status"] == Status.AT_BOUND), Status.CONVERGED, values["status"]
    ).astype(np.int8)


def _sunlight(channels):
    """The reflected-sunlight shape of :mod:`thermal.models.blackbody` over ``channels``."""
    from thermal import planck
    from thermal.models.blackbody import SOLAR_TEMPERATURE

    shape = channels.radiance(SOLAR_TEMPERATURE)[0]
    return shape / float(planck.spectral_radiance(1.0, SOLAR_TEMPERATURE))
