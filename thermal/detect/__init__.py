"""Hot-spot detection in imager frames, and synthetic scenes to test it on.

:func:`find_hotspots` finds compact sources above a robust local background in one frame
(radiance [W m-2 sr-1 um-1]) and measures them; :mod:`thermal.detect.scene` draws and writes
synthetic frames with known truth (:func:`synthetic_frame`, :func:`write_jiram_frame`,
:func:`write_ao_image`).
"""

from thermal.detect.find import find_hotspots
from thermal.detect.scene import synthetic_frame, write_ao_image, write_jiram_frame

__all__ = ["find_hotspots", "synthetic_frame", "write_ao_image", "write_jiram_frame"]
