"""Lava-cooling and eruption-style models from the Io literature.

* :mod:`thermal.cooling.materials`: :class:`Material` and the cited presets (``MATERIALS``).
* :mod:`thermal.cooling.crust`: surface temperature and crust thickness versus age
  (``model="stefan"``, ``"conduction"``, ``"hon"``, ``"howell"``), cached cooling curves.
* :mod:`thermal.cooling.eruptions`: constant-rate flows (Davies' Io Flow Model, Howell's
  t^-1/8 variant), resurfacing lava lakes (overturn or wave) and fountains with the flows
  they feed: spectra, band intensities, power, the 2/5 um ratio and time series.
* :class:`FlowModel` (defined in :mod:`thermal.models.flow`): areal rate and duration (and
  effusion rate) fitted to spectra and photometry through ``thermal.fit.fit_spectra``.

Submodules load on first use, so ``import thermal.cooling`` stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Material": "materials",
    "MATERIALS": "materials",
    "get_material": "materials",
    "CoolingCurve": "crust",
    "cooling_curve": "crust",
    "surface_temperature": "crust",
    "crust_thickness": "crust",
    "flow_intensity": "eruptions",
    "flow_power": "eruptions",
    "flow_band_intensity": "eruptions",
    "flow_ratio": "eruptions",
    "flow_time_series": "eruptions",
    "FlowModel": "thermal.models.flow",
    "lake_intensity": "eruptions",
    "lake_power": "eruptions",
    "fountain_intensity": "eruptions",
    "howell_intensity": "eruptions",
    "flow_effusion_rate": "eruptions",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'thermal.cooling' has no attribute {name!r}")
    if "." not in module:
        module = f"thermal.cooling.{module}"
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
