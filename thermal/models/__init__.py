"""Forward models the fit engine understands, one module per model.

* :class:`MultiBlackbody` (:mod:`thermal.models.blackbody`): a sum of 1-3 blackbodies with
  emissivity, bounded or fixed temperatures and an optional reflected-sunlight term;
  ``"1T"``, ``"2T"`` and ``"3T"`` name its common forms.
* :class:`FlowModel` (:mod:`thermal.models.flow`): Davies' Io Flow Model, an active lava flow
  of constant areal rate, with its areal rate, duration and (optionally) eruption temperature
  fitted.

Every model gives :func:`thermal.fit.fit_spectra` (the one engine) what it needs through two
methods, and the engine does the rest (validation, units, batching, dask, the result
Dataset through :func:`thermal.layout.build_result`):

* ``outputs(problem) -> list[thermal.layout.Output]``: the result variables it produces for a
  :class:`~thermal.models.base.Problem` (spectral dim, data kind, options), with their dims
  after the batch dims, dtype and CF attributes;
* ``evaluate(y, sigma, geometry, problem) -> dict``: fits a block of spectra held in numpy
  arrays (``y``, ``sigma``: (..., n_channels) in canonical units; ``geometry``: a dict with
  the ``pixel_area`` [m2] (radiance only) and ``emission_angle`` [degree] per spectrum where
  the observation has them) and returns every output's values. The engine then applies
  :func:`thermal.fit.engine.guard` (limb and plausibility) to them.

Models also carry ``parameter_names`` (the ``param`` coordinate), ``n_free`` (fitted
parameters, for information criteria), ``description`` (one line stored in the result) and
``attributes()`` (further global attributes).
"""

from __future__ import annotations

from thermal.models.base import Problem
from thermal.models.blackbody import DEFAULT_BOUNDS, SOLAR_TEMPERATURE, MultiBlackbody

__all__ = [
    "DEFAULT_BOUNDS",
    "SOLAR_TEMPERATURE",
    "FlowModel",
    "MultiBlackbody",
    "Problem",
    "get_model",
]


def __getattr__(name: str):
    if name == "FlowModel":  # loads the cooling models only when asked for
        from thermal.models.flow import FlowModel

        return FlowModel
    raise AttributeError(f"module 'thermal.models' has no attribute {name!r}")


def get_model(model):
    """A model object from ``"1T"``, ``"2T"``, ``"3T"``, ``"flow"`` or a model object.

    Parameters
    ----------
    model : str or model object
        A name, or an object with ``outputs`` and ``evaluate`` (returned as it is).

    Returns
    -------
    MultiBlackbody or FlowModel or model object

    Raises
    ------
    ValueError
        For an unknown name or an object that is not a model.
    """
    if isinstance(model, str):
        key = model.strip().upper()
        if key in ("1T", "2T", "3T"):
            return MultiBlackbody(int(key[0]))
        if key == "FLOW":
            from thermal.models.flow import FlowModel

            return FlowModel()
        raise ValueError(
            f"model must be '1T', '2T', '3T', 'flow' or a thermal.models object; got {model!r}"
        )
    needed = ("outputs", "evaluate", "parameter_names")
    missing = [name for name in needed if not hasattr(model, name)]
    if missing:
        raise ValueError(f"model object lacks {', '.join(missing)} (see thermal.models)")
    return model
