"""Lava-cooling and eruption-style models from the Io literature.

* :mod:`thermal.cooling.materials`: :class:`Material` and the cited presets (``MATERIALS``).
* :mod:`thermal.cooling.crust`: surface temperature and crust thickness versus age
  (``model="stefan"``, ``"conduction"``, ``"hon"``), cached cooling curves.
* :mod:`thermal.cooling.eruptions`: active flows (Davies' Io Flow Model), Howell's
  two-parameter model, lava lakes, fountains: spectra, band intensities, power, 2/5 um ratio.
* :mod:`thermal.cooling.inversion`: eruption parameters fitted to spectra and photometry.
* :mod:`thermal.cooling.figures`: cooling curves and the 2/5 um ratio diagram (matplotlib).

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
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'thermal.cooling' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"thermal.cooling.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
