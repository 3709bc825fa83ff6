"""What no default may report as a result: hot spots beyond the limb, solutions larger or
more powerful than any hot spot on Io can be, and fits the data reject.

:func:`guard` runs on every block of fitted spectra in the engine (:func:`thermal.fit.fit_spectra`)
and inside the automatic model choice, so that such solutions carry the status ``limb``,
``implausible`` or ``poor_fit`` (:class:`thermal.status.Status`) and never ``converged``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import chdtrc

from thermal.constants import IO_PROJECTED_AREA
from thermal.status import Status

__all__ = ["AREA_LIMIT", "MAX_EMISSION_ANGLE", "POOR_FIT_PROBABILITY", "POWER_LIMIT", "guard"]

MAX_EMISSION_ANGLE = 80.0
"""Default limb limit [degree]: beyond it a pixel's footprint (1/cos e) is not trusted."""
AREA_LIMIT = IO_PROJECTED_AREA
"""Largest plausible emitting area [m2]: Io's projected disk."""
POWER_LIMIT = 1e15
"""Largest plausible power of one hot spot [W] (Io's whole thermal output is ~1e14 W)."""
POOR_FIT_PROBABILITY = 2.866515718791933e-07
"""A converged fit whose chi-square the model exceeds with a smaller probability (the
one-sided 5-sigma tail of a normal distribution, as the detection threshold) for its degrees
of freedom is ``poor_fit``: the data reject the model."""
_RESULTS = (Status.CONVERGED, Status.AT_BOUND, Status.MAX_ITERATIONS, Status.DEGENERATE)
_GEOMETRIC = ("area", "power", "effusion_rate", "areal_rate")


def guard(values: dict, geometry: dict, max_emission_angle: float) -> None:
    """Flag, in place, what no default may report as a result.

    Spectra seen beyond ``max_emission_angle`` [degree] get the status ``limb`` and no area or
    power (their footprint grows as 1/cos(e)); spectra with a pixel area that is not > 0 or an
    emission angle outside [0, 90] get ``invalid_data`` and no area or power; fitted solutions
    whose total area exceeds Io's projected disk (:data:`AREA_LIMIT`, 1.04e13 m2) or the pixel
    footprint, whose area fraction exceeds 1, or whose power exceeds :data:`POWER_LIMIT` get
    the status ``implausible``; converged fits whose chi-square has a probability below
    :data:`POOR_FIT_PROBABILITY` for their degrees of freedom (> 0) get ``poor_fit``. Both
    keep their numbers (a diagnosis, not a result: every summary counts ``converged`` only).

    Parameters
    ----------
    values : dict
        A model's outputs for a block of spectra (``status`` and any of ``area`` [m2],
        ``area_fraction``, ``power`` [W], ...).
    geometry : dict
        ``pixel_area`` [m2] and ``emission_angle`` [degree] per spectrum, where known.
    max_emission_angle : float
        Limb limit [degree].
    """
    status = values["status"]
    fitted = np.isin(status, _RESULTS)
    implausible = np.zeros(status.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for name, limit in (("area", AREA_LIMIT), ("area_fraction", 1.0)):
            if name in values:
                total = np.asarray(values[name], dtype=float)
                if total.ndim > status.ndim:
                    total = np.nansum(total, axis=-1)
                bound = limit
                if name == "area" and "pixel_area" in geometry:
                    bound = np.minimum(limit, geometry["pixel_area"])
                implausible |= total > bound
        if "power" in values:
            implausible |= np.asarray(values["power"], dtype=float) > POWER_LIMIT
        status = np.where(fitted & implausible, Status.IMPLAUSIBLE, status)
        if "chi2" in values and "dof" in values:
            dof = np.asarray(values["dof"], dtype=float)
            chi2 = np.asarray(values["chi2"], dtype=float)
            counted = (status == Status.CONVERGED) & (dof > 0) & np.isfinite(chi2)
            probability = chdtrc(np.where(counted, dof, 1.0), np.where(counted, chi2, 0.0))
            status = np.where(counted & (probability < POOR_FIT_PROBABILITY), Status.POOR_FIT,
                              status)  # fmt: skip
        # geometry no spectrum can have: a pixel area that is not > 0 (NaN included: the area
        # in m2 is then unknown), an emission angle outside [0, 90] degrees
        bad = np.zeros(status.shape, dtype=bool)
        if "pixel_area" in geometry:
            bad |= ~(np.asarray(geometry["pixel_area"], dtype=float) > 0) | ~np.isfinite(
                geometry["pixel_area"]
            )
        if "emission_angle" in geometry:
            angle = np.asarray(geometry["emission_angle"], dtype=float)
            bad |= (angle < 0) | (angle > 90) | np.isinf(angle)
        status = np.where(bad & (status != Status.NO_DATA), Status.INVALID_DATA, status)
        if bad.any():
            _no_geometric_values(values, bad)
        if "emission_angle" in geometry:
            angle = geometry["emission_angle"]
            beyond = np.isfinite(angle) & ~(angle <= max_emission_angle)
            beyond &= ~bad
            status = np.where(beyond & (status != Status.NO_DATA), Status.LIMB, status)
            _no_geometric_values(values, beyond)
    values["status"] = status.astype(np.int8)


def _no_geometric_values(values: dict, rows) -> None:
    """NaN, in place, for the areas, powers and rates of ``rows`` (a mask over spectra)."""
    for name in values:
        if name.startswith(_GEOMETRIC) and name != "power_upper_limit":
            v = np.asarray(values[name], dtype=float)
            mask = rows.reshape(rows.shape + (1,) * (v.ndim - rows.ndim))
            values[name] = np.where(mask, np.nan, v)
