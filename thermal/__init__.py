"""thermal: thermal emission modelling of volcanic hot spots, on Io first.

Modules: :mod:`thermal.planck` (radiometry), :mod:`thermal.bands` (filters),
:mod:`thermal.units` (units and viewing geometry), :mod:`thermal.constants`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("io-thermal")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
