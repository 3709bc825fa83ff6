"""Status of a fitted (or detected) spectrum: one enum, its messages and its CF flag attributes.

Results hold the integer code only (``int8``); the words come from :class:`Status` when asked
for (:func:`messages`, :meth:`Status.message`) and, in files, from the ``flag_values``,
``flag_meanings`` and ``comment`` attributes of the ``status`` variable (CF 1.11 section 3.5).
The compiled kernels write the same codes (they import the integer values from here).
"""

from __future__ import annotations

import enum

import numpy as np

__all__ = ["Status", "check_result", "flag_attributes", "messages"]


class Status(enum.IntEnum):
    """Outcome of one spectrum's fit; 0 is the only code whose numbers are a result.

    ``at_bound`` fits hold numbers to read with care (a component the data do not support);
    ``poor_fit`` ones the best numbers of a model the data reject; ``not_detected``,
    ``implausible`` and ``limb`` spectra hold no result (see their messages).
    """

    CONVERGED = 0
    MAX_ITERATIONS = 1
    NOT_ENOUGH_CHANNELS = 2
    NO_DATA = 3
    DEGENERATE = 4
    AT_BOUND = 5
    INVALID_UNCERTAINTY = 6
    INVALID_DATA = 7
    NOT_DETECTED = 8
    IMPLAUSIBLE = 9
    LIMB = 10
    POOR_FIT = 11

    @property
    def meaning(self) -> str:
        """The CF flag meaning: the lower-case name (``"at_bound"``)."""
        return self.name.lower()

    @property
    def message(self) -> str:
        """One sentence for a person reading a report."""
        return _MESSAGES[self]


_MESSAGES = {
    Status.CONVERGED: "converged",
    Status.MAX_ITERATIONS: "iteration limit reached before convergence",
    Status.NOT_ENOUGH_CHANNELS: "fewer valid channels than fitted parameters: "
    "the data cannot constrain this model",
    Status.NO_DATA: "no valid data (every channel missing)",
    Status.DEGENERATE: "degenerate: singular covariance, parameters not separately constrained",
    Status.AT_BOUND: "a parameter is at a bound (area zero or temperature at a limit): "
    "the data support fewer components; its uncertainty is not reported",
    Status.INVALID_UNCERTAINTY: "zero, negative or non-finite uncertainty on a measured channel",
    Status.INVALID_DATA: "infinite data value, or a pixel area not > 0 or an emission angle "
    "outside [0, 90] degrees",
    Status.NOT_DETECTED: "no significant signal above the background: no temperature or area; "
    "see power_upper_limit",
    Status.IMPLAUSIBLE: "the solution is physically implausible (area larger than Io's disk or "
    "the pixel footprint, or power above the limit): not a result",
    Status.LIMB: "emission angle beyond the limb limit: no area or power (1/cos(e) diverges)",
    Status.POOR_FIT: "the data reject the model (chi-square beyond its 5-sigma tail for the "
    "degrees of freedom): the numbers are its best fit, not a result, and their uncertainties "
    "are too small; more components or larger uncertainties are needed",
}


def flag_attributes() -> dict:
    """CF attributes of a ``status`` variable: ``flag_values``, ``flag_meanings`` and a
    ``comment`` giving each code's message."""
    return dict(_FLAGS)


def _flag_attributes() -> dict:
    return {
        "long_name": "fit status",
        "flag_values": np.array([int(s) for s in Status], dtype=np.int8),
        "flag_meanings": " ".join(s.meaning for s in Status),
        "comment": "; ".join(f"{int(s)} {s.meaning}: {s.message}" for s in Status),
        "coverage_content_type": "qualityInformation",
    }


def messages(codes) -> np.ndarray:
    """The message of every code in ``codes`` (any shape), as an array of str."""
    codes = np.asarray(codes)
    table = np.array([s.message for s in Status])
    return table[codes.astype(np.intp)]


_FLAGS = _flag_attributes()


def check_result(result, name: str = "result"):
    """``result`` if it is a fit result (an xarray Dataset with a ``status`` variable), else a
    ValueError naming ``name``."""
    if not (hasattr(result, "data_vars") and "status" in result.data_vars):
        raise ValueError(
            f"{name} must be a fit result: an xarray.Dataset with a 'status' variable "
            f"(thermal.fit.fit_spectra); got {type(result).__name__}"
        )
    return result
