"""Forward models the fit engine understands, one module per model.

* :class:`AutoModel` (:mod:`thermal.models.auto`, ``"auto"``): per spectrum the
  simplest of no source, 1T, 2T and 3T that the data support, with detection and upper limits.
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

import functools

from thermal.models.base import Problem, check_interval
from thermal.models.blackbody import DEFAULT_BOUNDS, SOLAR_TEMPERATURE, MultiBlackbody

__all__ = [
    "DEFAULT_BOUNDS",
    "SOLAR_TEMPERATURE",
    "AutoModel",
    "FlowModel",
    "MultiBlackbody",
    "Problem",
    "get_model",
]


def __getattr__(name: str):
    if name == "FlowModel":  # loads the cooling models only when asked for
        from thermal.models.flow import FlowModel

        return FlowModel
    if name == "AutoModel":
        from thermal.models.auto import AutoModel

        return AutoModel
    raise AttributeError(f"module 'thermal.models' has no attribute {name!r}")


def get_model(model, temperature_range=None):
    """A model object from ``"auto"``, ``"1T"``, ``"2T"``, ``"3T"``, ``"flow"`` or a model object.

    Parameters
    ----------
    model : str or model object
        A name, or an object with ``outputs`` and ``evaluate`` (returned as it is).
    temperature_range : (float, float), optional
        Temperature bounds [K] of every component of a named blackbody model (``"auto"``,
        ``"1T"``, ``"2T"``, ``"3T"``); default 150-2000 K for ``"auto"``
        (:data:`thermal.models.auto.TEMPERATURE_RANGE`) and :data:`DEFAULT_BOUNDS` for the
        others.

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
        if key not in ("AUTO", "1T", "2T", "3T", "FLOW"):
            raise ValueError(
                "model must be 'auto', '1T', '2T', '3T' or 'flow' (or a thermal.models object); "
                f"got {model!r}"
            )
        if key == "FLOW" and temperature_range is not None:
            raise ValueError(
                "temperature_range goes with the blackbody models ('auto', '1T', '2T', '3T'); "
                "the Flow Model's temperatures come from its material"
            )
        return _named(
            key, None if temperature_range is None else check_interval(temperature_range)
        )
    if temperature_range is not None:
        raise ValueError("temperature_range goes with a model name; set a model object's bounds")
    needed = ("outputs", "evaluate", "parameter_names")
    missing = [name for name in needed if not hasattr(model, name)]
    if missing:
        raise ValueError(f"model object lacks {', '.join(missing)} (see thermal.models)")
    return model


@functools.lru_cache(maxsize=64)
def _named(key: str, temperature_range):
    """The model of a name (cached: models are immutable)."""
    bounds = DEFAULT_BOUNDS if temperature_range is None else temperature_range
    if key == "AUTO":
        from thermal.models.auto import AutoModel

        return AutoModel() if temperature_range is None else AutoModel(temperature_range=bounds)
    if key in ("1T", "2T", "3T"):
        n = int(key[0])
        return MultiBlackbody(n, bounds=dict.fromkeys(range(n), bounds))
    if key == "FLOW" and temperature_range is None:
        from thermal.models.flow import FlowModel

        return FlowModel()
    raise ValueError(
        "model must be 'auto', '1T', '2T', '3T', 'flow' or a thermal.models object (and "
        f"temperature_range goes with the blackbody names only); got {key.lower()!r}"
    )
