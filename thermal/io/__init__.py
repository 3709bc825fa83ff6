"""Readers into the observation layout and the CF/ACDD results writer.

- :func:`open_observation` reads any supported file into the observation layout of
  ``docs/layout.md`` (canonical units, original unit strings kept as ``original_units``,
  product ids in ``product_id``): netCDF in the layout, CSV and AAS MRT photometry tables,
  Juno JIRAM PDS3 RDR products (imager and spectrometer), JWST ``s3d`` FITS cubes, and the
  formats other packages register (:mod:`thermal.io.formats`: :func:`register_format` or the
  ``thermal.formats`` entry-point group); :func:`detect_format` names the format of a file.
- :func:`write_results` writes a fit result (or any Dataset) as CF-1.11/ACDD-1.3 netCDF4,
  atomically.

Problems with an input raise :class:`InputError` (a ``ValueError``) whose message is one line,
``"<file>: <problem>"``; bad options raise :class:`OptionError`. Inputs are untrusted
(``SECURITY.md``): :func:`open_observation` reads under a deadline (``timeout=``, a
:class:`ReadTimeout` when it passes) and a memory budget (``max_memory=``), see
:mod:`thermal.io.limits`.
"""

from __future__ import annotations

from thermal.io.formats import OptionError, detect_format, open_observation, register_format
from thermal.io.jiram import input_files, label_for
from thermal.io.limits import ReadTimeout
from thermal.io.results import write_results
from thermal.layout import InputError

__all__ = [
    "InputError",
    "OptionError",
    "ReadTimeout",
    "detect_format",
    "input_files",
    "label_for",
    "open_observation",
    "register_format",
    "write_results",
]
