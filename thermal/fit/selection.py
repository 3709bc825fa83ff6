"""Per-spectrum model selection between one, two and three temperatures.

Multi-temperature fits are easily over-interpreted: three filters cannot constrain two
temperatures (four parameters), and a second component whose area goes to zero is not
detected. :func:`select_model` fits each candidate model to every spectrum, discards fits that
the data cannot support (too few channels, degenerate covariance, a component at a bound) and
picks, per spectrum, the supported model with the lowest information criterion.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from thermal.fit.engine import fit_spectra
from thermal.models import MultiBlackbody, get_model
from thermal.status import Status, flag_attributes

__all__ = ["select_model"]

STATISTICS = ("chi2", "dof", "aic", "bic")
"""The fit statistics ``select_model`` reports per model, as the fits give them."""


def select_model(observation: xr.Dataset, models=("1T", "2T", "3T"), *, criterion: str = "bic"):
    """Fit several models to every spectrum and report which the data support.

    Parameters
    ----------
    observation : xarray.Dataset
        Observation layout (see :func:`thermal.fit.fit_spectra`).
    models : sequence of str or model objects, optional
        Candidate models, simplest first (default 1T, 2T, 3T).
    criterion : {"bic", "aic"}, optional
        Information criterion used to rank the supported models (Schwarz 1978,
        doi:10.1214/aos/1176344136; Akaike 1974, doi:10.1109/TAC.1974.1100705).

    Returns
    -------
    xarray.Dataset
        Over the observation's batch dims and a new dim ``model`` (the candidates' labels):
        ``status`` (each model's fit status, :class:`thermal.status.Status` codes with their
        CF flags; ``not_enough_channels`` also where the fit leaves no degree of freedom), and
        ``chi2``, ``dof``, ``aic``, ``bic`` as the fits give them,
        ``delta`` (criterion minus the best supported one; NaN when unsupported), and per
        spectrum ``best`` (index along ``model`` of the selected model, -1 when none is
        supported), ``best_model`` (its label, "" when none) and ``n_temperatures`` (0 when
        none). Attribute ``fits`` is not stored; call :func:`fit_spectra` with the chosen
        model for temperatures and areas.

    Notes
    -----
    A model is *supported* for a spectrum when its fit's status is ``converged`` (or
    ``poor_fit``: the data reject it, but it is the best such model and its criterion counts)
    with positive degrees of freedom: every component's area is positive and away from the
    temperature bounds, the covariance is regular and the solution is plausible. Among
    supported models the lowest criterion wins; a difference of less than 2 in BIC is weak
    evidence (Kass & Raftery 1995, doi:10.1080/01621459.1995.10476572), so ``delta`` is
    reported for the reader to judge. Spectra where no model is supported get ``best = -1``:
    the data cannot constrain even one temperature (e.g. a single band).

    Examples
    --------
    >>> sel = select_model(obs)                                    # doctest: +SKIP
    >>> sel.best_model, sel.delta.sel(model="2T")                  # doctest: +SKIP
    """
    if criterion not in ("aic", "bic"):
        raise ValueError(f"criterion must be 'aic' or 'bic'; got {criterion!r}")
    if len(models) == 0:
        raise ValueError("models must name at least one model")
    labels = []
    fits = []
    for model in models:
        m = get_model(model)
        if not isinstance(m, MultiBlackbody):
            raise ValueError(
                f"models: select_model compares multi-blackbody models (1T, 2T, 3T); got {model!r}"
            )
        label = model if isinstance(model, str) else m.description
        labels.append(label)
        fits.append(fit_spectra(observation, model=m))
    statistics = {name: xr.concat([f[name] for f in fits], dim="model") for name in STATISTICS}
    dof = statistics["dof"]
    status = xr.concat([f.status for f in fits], dim="model")
    # a fit that leaves no degree of freedom cannot be judged against the others
    status = status.where(
        ~((status == Status.CONVERGED) & (dof <= 0)), int(Status.NOT_ENOUGH_CHANNELS)
    ).astype(fits[0].status.dtype)
    supported = status.isin([Status.CONVERGED, Status.POOR_FIT])  # rejected, but comparable
    score = statistics[criterion]
    ranked = score.where(supported)
    best_score = ranked.min("model", skipna=True)
    any_supported = supported.any("model")
    best = ranked.fillna(np.inf).argmin("model").where(any_supported, -1).astype(np.int64)
    label_array = np.array([*labels, ""], dtype=object)
    best_model = xr.apply_ufunc(
        lambda b: np.asarray(label_array[np.where(b < 0, len(labels), b)]).astype(str),
        best,
        dask="parallelized",
        output_dtypes=[str],
    )
    n_temp = np.array([*(get_model(m).n_components for m in models), 0])
    n_temperatures = xr.apply_ufunc(
        lambda b: n_temp[np.where(b < 0, len(labels), b)],
        best,
        dask="parallelized",
        output_dtypes=[np.int64],
    )
    out = xr.Dataset(
        {
            "status": status.assign_attrs(flag_attributes()),
            **statistics,
            "delta": (ranked - best_score).assign_attrs(
                long_name=f"{criterion.upper()} minus that of the selected model", units="1"
            ),
            "best": best.assign_attrs(long_name="index along model of the selected model"),
            "best_model": best_model.assign_attrs(long_name="selected model"),
            "n_temperatures": n_temperatures.assign_attrs(
                long_name="number of temperatures the data support", units="1"
            ),
        },
        coords={"model": labels},
        attrs={"criterion": criterion},
    )
    return out
