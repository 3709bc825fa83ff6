"""Hot-spot detection in images and cubes, and synthetic scenes to test it on.

:func:`find_hotspots` finds compact sources above a robust local background in one frame
(radiance [W m-2 sr-1 um-1]) and measures them; :func:`find_disk_hotspots` does so on a
disk-resolved (adaptive-optics) image with the lit disk's radial profile removed first;
:mod:`thermal.detect.pipeline` takes whole observations (JIRAM frames, cubes) to hot spots
with geometry and power;
:mod:`thermal.detect.scene` draws and writes synthetic frames with known truth
(:func:`synthetic_frame`, :func:`write_jiram_frame`, :func:`write_ao_image`).

The names are imported on first use: photutils and scikit-image take ~1.7 s to import, which
``thermal fit`` of spectra should not pay.
"""

from __future__ import annotations

import importlib

__all__ = [
    "disk_profile",
    "find_disk_hotspots",
    "find_hotspots",
    "synthetic_frame",
    "write_ao_image",
    "write_jiram_frame",
]

_WHERE = {
    "disk_profile": "thermal.detect.disk",
    "find_disk_hotspots": "thermal.detect.disk",
    "find_hotspots": "thermal.detect.find",
    "synthetic_frame": "thermal.detect.scene",
    "write_ao_image": "thermal.detect.scene",
    "write_jiram_frame": "thermal.detect.scene",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'thermal.detect' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
