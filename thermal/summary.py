"""What a fit result says in a few numbers: how many spectra were fitted, fitted by a model the
data reject, not detected, implausible, seen beyond the limb or failed, the hottest temperature
and the total power.

Spectra count as fitted with the status ``converged`` or ``at_bound``
(:class:`thermal.status.Status`); the hottest temperature and the total power count only
``converged`` ones (an ``at_bound`` fit has a component the data do not support, often at a
temperature bound). A total power is given only when
it adds distinct hot spots of one epoch: a result whose rows span several times, name one hot
spot twice or put two rows at one latitude and longitude has no total (the note says why).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from thermal.status import Status, check_result

__all__ = ["FITTED", "summarise"]

FITTED = (Status.CONVERGED, Status.AT_BOUND)
"""Statuses counted as fitted (at_bound with care: a component is not supported)."""
_KINDS = {
    "poor_fit": (Status.POOR_FIT,),
    "not_detected": (Status.NOT_DETECTED,),
    "implausible": (Status.IMPLAUSIBLE,),
    "limb": (Status.LIMB,),
}


def summarise(result: xr.Dataset) -> dict:
    """Counts and totals of a fit result.

    Parameters
    ----------
    result : xarray.Dataset
        A result of :func:`thermal.fit.fit_spectra` (or a result file's contents).

    Returns
    -------
    dict
        ``spectra``, ``fitted`` (converged or at bound), ``poor_fit``, ``not_detected``,
        ``implausible``, ``limb``, ``failed`` (every other status); ``hottest_temperature`` [K] and
        ``total_power`` [W, or W m-2 for area fractions] over converged spectra (NaN when none, or
        for the total when it would add epochs or repeat a spot); ``power_is_fraction``; and
        ``note`` (why there is no total, what a total of area fractions is, or "").
    """
    status = np.asarray(check_result(result)["status"].values).ravel()
    fitted = np.isin(status, FITTED)
    info = {"spectra": int(status.size), "fitted": int(fitted.sum())}
    counted = fitted.copy()
    for name, codes in _KINDS.items():
        mask = np.isin(status, codes)
        info[name] = int(mask.sum())
        counted |= mask
    info["failed"] = int((~counted).sum())
    good = status == Status.CONVERGED
    hottest = float("nan")
    if "temperature" in result and good.any():
        t = np.asarray(result["temperature"].values, dtype=float).reshape(status.size, -1)
        if np.isfinite(t[good]).any():
            hottest = float(np.nanmax(t[good]))
    power, note = float("nan"), ""
    if "power" in result and good.any():
        p = np.asarray(result["power"].values, dtype=float).ravel()[good]
        note = _why_no_total(result, good)
        if not note and np.isfinite(p).any():
            power = float(np.nansum(p))
            if "area_fraction" in result:
                note = "per m2 of pixel: the input gives no pixel area"
    info.update(
        hottest_temperature=hottest,
        total_power=power,
        power_is_fraction="area_fraction" in result,
        note=note,
    )
    return info


def _why_no_total(result: xr.Dataset, fitted: np.ndarray) -> str:
    """Why the powers of the fitted rows must not be added ("" when they may)."""
    batch = result["status"].dims
    for name in ("time", "hotspot"):
        if name not in result.coords:
            continue
        values = np.broadcast_to(
            result[name].values, [result.sizes[d] for d in batch]
        ) if set(result[name].dims) <= set(batch) else None  # fmt: skip
        if values is None:
            continue
        chosen = values.ravel()[fitted]
        if name == "time":
            times = chosen[~np.isnat(chosen)] if chosen.dtype.kind == "M" else chosen
            if np.unique(times).size > 1:
                return "several epochs: no total power"
        elif np.unique(chosen.astype(str)).size < chosen.size:
            return "a hot spot appears twice: no total power"
    if {"latitude", "longitude"} <= set(result.coords):
        shape = [result.sizes[d] for d in batch]
        places = [
            np.broadcast_to(result[n].values, shape).ravel()[fitted].astype(float)
            for n in ("latitude", "longitude")
            if set(result[n].dims) <= set(batch)
        ]
        if len(places) == 2:
            known = np.isfinite(places[0]) & np.isfinite(places[1])
            pairs = np.column_stack([p[known] for p in places])
            if np.unique(pairs, axis=0).shape[0] < pairs.shape[0]:
                return "two rows at one place (the same hot spot): no total power"
    return ""
