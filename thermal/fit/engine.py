"""Batch fit engine: observation Dataset -> compiled kernel -> result Dataset.

The kernel (:mod:`thermal._kernels.fit`) sees arrays only: data and 1-sigma uncertainties
(n_fits x n_channels) and the channels flattened into quadrature nodes shared by the batch (a
spectral channel is one node of weight 1 at its wavelength; a band channel is its
:attr:`thermal.bands.Band.nodes` and ``weights``). This module converts units, builds the
nodes and the multi-start grid, runs the kernel through :func:`xarray.apply_ufunc` (numpy or
dask, spectral dimension in one chunk; inside dask worker threads the serial kernel runs, so
numba's thread pool is never nested) and assembles power, uncertainties, information criteria
and CF attributes.
"""

from __future__ import annotations

import datetime

import numpy as np
import xarray as xr

from thermal import bands as _bands
from thermal import planck, units
from thermal._kernels import fit as _kfit
from thermal._kernels import profile as _kprofile
from thermal.constants import STEFAN_BOLTZMANN
from thermal.models import SOLAR_TEMPERATURE, get_model

__all__ = ["STATUS", "STATUS_MESSAGES", "fit_arrays", "fit_spectra"]

STATUS = _kfit.STATUS
STATUS_MESSAGES = (
    "converged",
    "iteration limit reached before convergence",
    "fewer valid channels than fitted parameters: the data cannot constrain this model",
    "no valid data (every channel missing)",
    "degenerate: singular covariance, parameters not separately constrained",
    "a parameter is at a bound (area zero or temperature at a limit): "
    "the data support fewer components; its uncertainty is not reported",
    "zero, negative or non-finite uncertainty on a measured channel",
    "infinite data value",
)

_CANONICAL = {"intensity": "W sr-1 um-1", "radiance": "W m-2 sr-1 um-1"}
_GRID = {1: 40, 2: 12, 3: 12}


def _thermal_version() -> str:
    try:
        from thermal import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover
        from importlib.metadata import version

        return version("io-thermal")


def _channel_basis(node_lam, node_w, node_ch, n_ch, temperature):
    """Channel basis [W m-2 sr-1 um-1], shape (len(temperature), n_ch)."""
    b = planck.spectral_radiance(node_lam[None, :], np.asarray(temperature, float)[:, None])
    out = np.zeros((b.shape[0], n_ch))
    for k in range(b.shape[0]):
        out[k] = np.bincount(node_ch, weights=node_w * b[k], minlength=n_ch)
    return out


class Channels:
    """Quadrature nodes of an observation's channels (shared by all spectra of a batch)."""

    def __init__(self, node_lam, node_w, node_ch, n_ch):
        self.node_lam = np.ascontiguousarray(node_lam, dtype=np.float64)
        self.node_w = np.ascontiguousarray(node_w, dtype=np.float64)
        self.node_ch = np.ascontiguousarray(node_ch, dtype=np.int64)
        self.n_ch = int(n_ch)

    @classmethod
    def from_wavelength(cls, wavelength):
        lam = np.asarray(wavelength, dtype=np.float64).ravel()
        if not np.all(np.isfinite(lam) & (lam > 0)):
            raise ValueError("wavelength must be finite and > 0 [um]")
        return cls(lam, np.ones_like(lam), np.arange(lam.size), lam.size)

    @classmethod
    def from_bands(cls, names):
        lam, w, ch = [], [], []
        for k, name in enumerate(names):
            band = name if isinstance(name, _bands.Band) else _bands.get(str(name))
            lam.append(band.nodes)
            w.append(band.weights)
            ch.append(np.full(band.nodes.size, k))
        return cls(np.concatenate(lam), np.concatenate(w), np.concatenate(ch), len(names))


INTERVALS = ("linear", "profile")


def _check_intervals(intervals):
    if intervals not in INTERVALS:
        raise ValueError(f"intervals must be one of {INTERVALS}; got {intervals!r}")


def fit_arrays(
    y, sigma, channels: Channels, model="2T", *, max_iterations: int = 1000, intervals="linear"
):
    """Fit spectra held in numpy arrays (the engine's array face).

    Parameters
    ----------
    y, sigma : array_like
        Data and 1-sigma uncertainties, shape (..., n_channels), in one unit (any: areas come
        out in that unit per W m-2 sr-1 um-1). NaN data mark missing channels.
    channels : Channels
        Quadrature nodes of the channels.
    model : str or model object
        ``"1T"``, ``"2T"``, ``"3T"`` or a :mod:`thermal.models` object.
    max_iterations : int
        Levenberg-Marquardt iteration limit per spectrum.
    intervals : {"linear", "profile"}
        ``"profile"`` adds profile-likelihood 1-sigma intervals (see :func:`fit_spectra`).

    Returns
    -------
    tuple of ndarray
        temperature (..., c) [K], area (..., c), background (...), covariance (..., p, p),
        chi2 (...), dof (...), status (...), model (..., n_channels), nfev (...); with
        ``intervals="profile"`` also temperature_lower, temperature_upper (..., c) [K],
        power_lower, power_upper (...) [unit of y x sr um].
    """
    _check_intervals(intervals)
    m = get_model(model)
    y = np.asarray(y, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    if y.shape != sigma.shape:
        y, sigma = np.broadcast_arrays(y, sigma)
    batch = y.shape[:-1]
    n_ch = y.shape[-1]
    if n_ch != channels.n_ch:
        raise ValueError(f"data have {n_ch} channels but the channel list has {channels.n_ch}")
    y2 = np.ascontiguousarray(y.reshape(-1, n_ch))
    s2 = np.ascontiguousarray(sigma.reshape(-1, n_ch))
    n_fits = y2.shape[0]
    c = m.n_components
    lo = np.log(np.asarray(m.lower, dtype=float))
    hi = np.log(np.asarray(m.upper, dtype=float))
    eps = np.asarray(m.emissivity, dtype=float)
    n_grid = _GRID[c]
    grid = np.empty((c, n_grid))
    for j in range(c):
        grid[j] = np.linspace(lo[j], hi[j], n_grid) if hi[j] > lo[j] else lo[j]
    basis = np.empty((c, n_grid, n_ch))
    for j in range(c):
        basis[j] = eps[j] * _channel_basis(
            channels.node_lam, channels.node_w, channels.node_ch, n_ch, np.exp(grid[j])
        )
    bg = _channel_basis(
        channels.node_lam, channels.node_w, channels.node_ch, n_ch, [SOLAR_TEMPERATURE]
    )[0] / float(planck.spectral_radiance(1.0, SOLAR_TEMPERATURE))
    n_par = 2 * c + int(m.background)
    out = (
        np.empty((n_fits, c)),
        np.empty((n_fits, c)),
        np.empty(n_fits),
        np.empty((n_fits, n_par, n_par)),
        np.empty(n_fits),
        np.empty(n_fits, dtype=np.int64),
        np.empty(n_fits, dtype=np.int8),
        np.empty((n_fits, n_ch)),
        np.empty(n_fits, dtype=np.int64),
    )
    if n_fits:
        _kfit.fit_batch(
            y2, s2, channels.node_lam, channels.node_w, channels.node_ch, eps, lo, hi,
            bool(m.exchangeable), bg, bool(m.background), grid, basis, int(max_iterations),
            *out, size=n_fits * 200,
        )  # fmt: skip
        for j in range(c):  # a fixed temperature comes back exactly as given, not exp(log(T))
            if m.lower[j] == m.upper[j]:
                out[0][:, j] = np.where(np.isnan(out[0][:, j]), np.nan, m.lower[j])
    shapes = [
        (*batch, c), (*batch, c), batch, (*batch, n_par, n_par), batch, batch, batch,
        (*batch, n_ch), batch,
    ]  # fmt: skip
    if intervals == "profile":
        extra = (np.empty((n_fits, c)), np.empty((n_fits, c)), np.empty(n_fits), np.empty(n_fits))
        if n_fits:
            _kprofile.profile_batch(
                y2, s2, channels.node_lam, channels.node_w, channels.node_ch, eps, lo, hi,
                bool(m.exchangeable), bg, bool(m.background), grid, basis, int(max_iterations),
                out[0], out[1], out[3], out[4], out[6], *extra, size=n_fits * 5000,
            )  # fmt: skip
        out = out + extra
        shapes += [(*batch, c), (*batch, c), batch, batch]
    return tuple(a.reshape(s) for a, s in zip(out, shapes, strict=True))


# ---------------------------------------------------------------------------------------------
# xarray face


def _observation_parts(observation: xr.Dataset):
    """(kind, spectral dim, channels, data, uncertainty) in canonical units, validated."""
    if not isinstance(observation, xr.Dataset):
        raise ValueError("observation must be an xarray.Dataset in the observation layout")
    dims = [d for d in ("wavelength", "band") if d in observation.dims]
    if len(dims) != 1:
        raise ValueError(
            "observation must have exactly one spectral dimension, 'wavelength' or 'band'; "
            f"found {dims or 'none'}"
        )
    dim = dims[0]
    kinds = [k for k in ("intensity", "radiance") if k in observation.data_vars]
    if len(kinds) != 1:
        raise ValueError(
            "observation must hold exactly one of 'intensity' [W sr-1 um-1] or 'radiance' "
            f"[W m-2 sr-1 um-1]; found {kinds or 'neither'}"
        )
    kind = kinds[0]
    name_u = f"{kind}_uncertainty"
    if name_u not in observation.data_vars:
        raise ValueError(f"observation lacks {name_u!r} (1-sigma uncertainty of {kind!r})")
    data, unc = observation[kind], observation[name_u]
    if dim not in data.dims or dim not in unc.dims:
        raise ValueError(f"{kind!r} and {name_u!r} must both have the spectral dimension {dim!r}")
    unit = data.attrs.get("units", _CANONICAL[kind])
    try:
        f_data = units.conversion_factor(unit, _CANONICAL[kind])
    except ValueError as error:
        raise ValueError(f"{kind!r} units: {error}") from None
    try:
        f_unc = units.conversion_factor(unc.attrs.get("units", unit), _CANONICAL[kind])
    except ValueError as error:
        raise ValueError(f"{name_u!r} units: {error}") from None
    if f_data != 1.0:
        data = data * f_data
    if f_unc != 1.0:
        unc = unc * f_unc
    if dim == "wavelength":
        coord = observation["wavelength"]
        factor = units.conversion_factor(coord.attrs.get("units", "um"), "um")
        try:
            channels = Channels.from_wavelength(np.asarray(coord.values, float) * factor)
        except ValueError as error:
            raise ValueError(f"'wavelength' coordinate: {error}") from None
    else:
        channels = Channels.from_bands([str(b) for b in observation["band"].values])
    return kind, dim, channels, data, unc


def _attrs(long_name, units_, content="modelResult", **extra):
    return {"long_name": long_name, "units": units_, "coverage_content_type": content, **extra}


def fit_spectra(
    observation: xr.Dataset, model="2T", *, max_iterations: int = 1000, intervals="linear"
) -> xr.Dataset:
    """Fit multi-temperature blackbody models to every spectrum of an observation.

    Parameters
    ----------
    observation : xarray.Dataset
        Observation layout (see the project spec): spectral dim ``wavelength`` [um] or ``band``
        (names from :mod:`thermal.bands`), ``intensity`` [W sr-1 um-1] or ``radiance``
        [W m-2 sr-1 um-1] with its ``_uncertainty`` (1 sigma; ``units`` attributes are
        honoured), optional ``pixel_area`` [m2]. Every other dim is a batch dim. numpy or dask
        backed (dask in, dask out: nothing is computed until asked).
    model : str or model object, optional
        ``"1T"``, ``"2T"`` (default), ``"3T"``, or a :class:`thermal.models.MultiBlackbody`
        (emissivity, bounded or fixed temperatures, reflected-sunlight background). Any other
        object with a ``fit_observation(observation, max_iterations=...)`` method (a cooling
        model) is asked to fit itself and returns its own result Dataset.
    max_iterations : int, optional
        Levenberg-Marquardt iteration limit per spectrum.
    intervals : {"linear", "profile"}, optional
        ``"profile"`` adds profile-likelihood 1-sigma intervals, ``temperature_lower``,
        ``temperature_upper`` [K] and ``power_lower``, ``power_upper`` [W]: the values where
        the chi-square, minimised over every other parameter, rises by 1 above its minimum
        (Venzon & Moolgavkar 1988, doi:10.2307/2347496). They follow curved, one-sided and
        bounded valleys that the linearised ``*_uncertainty`` (always given) cannot; a
        temperature interval stops at the model's bound, a power interval the data cannot
        close is 0 or inf. About 10-20 times the cost of the fit.

    Returns
    -------
    xarray.Dataset
        Result layout: ``temperature`` [K] and ``area`` [m2] (or ``area_fraction`` for radiance
        without ``pixel_area``) over (..., component), hottest first when components are
        exchangeable, with ``*_uncertainty`` (1 sigma); ``power`` [W] (``W m-2`` per unit pixel
        area for area fractions) and ``power_uncertainty``; ``covariance`` (..., param,
        param_j); ``chi2``, ``dof``, ``aic``, ``bic``, ``status`` (CF flags, 0 = converged),
        ``message``, ``nfev``, ``model_intensity`` or ``model_radiance``; ``background`` when
        the model fits one.

    Notes
    -----
    Areas enter linearly and are solved exactly (non-negative least squares) for every set of
    temperatures (variable projection: Golub & Pereyra 1973, doi:10.1137/0710036); the
    temperatures start from the best point of a deterministic grid and are refined by
    Levenberg-Marquardt in ln T. The covariance is (J^T W J)^-1 over (T, area) at the optimum
    with the uncertainties taken as absolute 1 sigma (not rescaled by chi2/dof); the power
    uncertainty is propagated through it. One bad spectrum never raises: it gets a status.
    Invalid arguments (unknown band, inconsistent units, missing variables) raise ValueError.
    """
    _check_intervals(intervals)
    fit_observation = getattr(model, "fit_observation", None)
    if callable(fit_observation):  # e.g. a lava-cooling model (thermal.cooling): fits itself
        return fit_observation(observation, max_iterations=max_iterations)
    m = get_model(model)
    kind, dim, channels, data, unc = _observation_parts(observation)
    c = m.n_components
    n_par = 2 * c + int(m.background)
    data, unc = xr.broadcast(data, unc)
    if data.chunks is not None or unc.chunks is not None:
        data = data.chunk({dim: -1})
        unc = unc.chunk({dim: -1})
    out_dims = [["component"], ["component"], [], ["param", "param_j"], [], [], [], [dim], []]
    out_types = [float, float, float, float, float, np.int64, np.int8, float, np.int64]
    if intervals == "profile":
        out_dims += [["component"], ["component"], [], []]
        out_types += [float] * 4
    results = xr.apply_ufunc(
        _apply,
        data,
        unc,
        kwargs={
            "channels": channels,
            "model": m,
            "max_iterations": max_iterations,
            "intervals": intervals,
        },
        input_core_dims=[[dim], [dim]],
        output_core_dims=out_dims,
        dask="parallelized",
        output_dtypes=out_types,
        keep_attrs=False,
        dask_gufunc_kwargs={
            "output_sizes": {"component": c, "param": n_par, "param_j": n_par},
            "allow_rechunk": False,
        },
    )
    t, a, bg, cov, chi2, dof, status, mod, nfev = results[:9]

    has_pixel = kind == "radiance" and "pixel_area" in observation.variables
    fraction = kind == "radiance" and not has_pixel
    params = list(m.parameter_names)
    component = np.arange(c)
    coords = {"component": component, "param": params, "param_j": params}
    t = t.assign_coords(component=component)
    a = a.assign_coords(component=component)
    cov = cov.assign_coords(param=params, param_j=params)
    if has_pixel:
        pixel = observation["pixel_area"]
        a = a * pixel
        scale = xr.concat(
            [xr.ones_like(pixel).expand_dims(param=params[:c]),
             pixel.expand_dims(param=params[c : 2 * c]),
             *([xr.ones_like(pixel).expand_dims(param=params[2 * c :])] if m.background else [])],
            dim="param",
        )  # fmt: skip
        cov = cov * scale * scale.rename(param="param_j")
    var = xr.apply_ufunc(
        np.diagonal, cov, input_core_dims=[["param", "param_j"]], output_core_dims=[["param"]],
        kwargs={"axis1": -2, "axis2": -1}, dask="parallelized", output_dtypes=[float],
    )  # fmt: skip
    sd = np.sqrt(var)
    t_sd = sd.isel(param=slice(0, c)).rename(param="component").assign_coords(component=component)
    a_sd = (
        sd.isel(param=slice(c, 2 * c)).rename(param="component").assign_coords(component=component)
    )
    eps = xr.DataArray(np.asarray(m.emissivity), dims="component", coords={"component": component})
    power = (eps * STEFAN_BOLTZMANN * t**4 * a).sum("component", skipna=False)
    grad_t = (4.0 * eps * STEFAN_BOLTZMANN * t**3 * a).rename(component="param")
    grad_a = (eps * STEFAN_BOLTZMANN * t**4).rename(component="param")
    parts = [grad_t.assign_coords(param=params[:c]), grad_a.assign_coords(param=params[c : 2 * c])]
    if m.background:
        parts.append(xr.zeros_like(power).expand_dims(param=params[2 * c :]))
    grad = xr.concat(parts, dim="param")
    if grad.chunks is not None:
        grad = grad.chunk({"param": -1})
    power_var = xr.apply_ufunc(
        _quadratic_form, grad, cov, input_core_dims=[["param"], ["param", "param_j"]],
        dask="parallelized", output_dtypes=[float],
    )  # fmt: skip
    power_sd = np.sqrt(power_var.where(power_var >= 0))
    k_par = m.n_free
    n_used = dof + k_par
    aic = chi2 + 2.0 * k_par
    bic = chi2 + k_par * np.log(n_used.astype(float))
    messages = np.array(STATUS_MESSAGES)
    message = xr.apply_ufunc(
        lambda s: messages[s], status, dask="parallelized", output_dtypes=[messages.dtype]
    )

    area_name = "area_fraction" if fraction else "area"
    area_units = "1" if fraction else "m2"
    power_units = "W m-2" if fraction else "W"
    mk = f"model_{kind}"
    ds = xr.Dataset(
        {
            "temperature": t.assign_attrs(_attrs("fitted component temperature", "K")),
            "temperature_uncertainty": t_sd.assign_attrs(
                _attrs("1-sigma uncertainty of temperature", "K", "qualityInformation")
            ),
            area_name: a.assign_attrs(
                _attrs(
                    "fitted component area fraction of the pixel"
                    if fraction
                    else "fitted component emitting area",
                    area_units,
                )
            ),
            f"{area_name}_uncertainty": a_sd.assign_attrs(
                _attrs(f"1-sigma uncertainty of {area_name}", area_units, "qualityInformation")
            ),
            "power": power.assign_attrs(
                _attrs(
                    "total emitted power per unit pixel area (sum of eps sigma T^4 fraction)"
                    if fraction
                    else "total emitted power (sum of emissivity sigma T^4 area)",
                    power_units,
                )
            ),
            "power_uncertainty": power_sd.assign_attrs(
                _attrs("1-sigma uncertainty of power", power_units, "qualityInformation")
            ),
            "covariance": cov.assign_attrs(
                _attrs(
                    "covariance of the fitted parameters",
                    "1",
                    "qualityInformation",
                    comment="entry (p, q) has the unit of parameter p times that of q "
                    "(temperature K, area m2 or 1, background as the data); NaN rows: "
                    "parameter not constrained (status)",
                )
            ),
            "chi2": chi2.assign_attrs(
                _attrs(
                    "chi-square of the fit (sum of squared normalised residuals)",
                    "1",
                    "qualityInformation",
                )
            ),
            "dof": dof.assign_attrs(
                _attrs(
                    "degrees of freedom (valid channels minus fitted parameters)",
                    "1",
                    "qualityInformation",
                )
            ),
            "aic": aic.assign_attrs(
                _attrs("Akaike information criterion, chi2 + 2 k", "1", "qualityInformation")
            ),
            "bic": bic.assign_attrs(
                _attrs("Bayesian information criterion, chi2 + k ln n", "1", "qualityInformation")
            ),
            "status": status.assign_attrs(
                long_name="fit status",
                flag_values=np.arange(len(STATUS), dtype=np.int8),
                flag_meanings=" ".join(STATUS),
                coverage_content_type="qualityInformation",
            ),
            "message": message.assign_attrs(
                long_name="fit status explained", coverage_content_type="qualityInformation"
            ),
            "nfev": nfev.assign_attrs(
                _attrs("number of model evaluations", "1", "auxiliaryInformation")
            ),
            mk: mod.assign_attrs(_attrs(f"best-fit model {kind}", _CANONICAL[kind])),
        },
        coords=coords,
    )
    if intervals == "profile":
        t_lo, t_hi, p_lo, p_hi = results[9:]
        if has_pixel:
            p_lo, p_hi = p_lo * pixel, p_hi * pixel
        what = "of the 68.3 % profile-likelihood interval (chi2 minimum + 1)"
        for name, value, units_ in (
            ("temperature_lower", t_lo, "K"), ("temperature_upper", t_hi, "K"),
            ("power_lower", p_lo, power_units), ("power_upper", p_hi, power_units),
        ):  # fmt: skip
            quantity, end = name.split("_")
            if quantity == "temperature":
                value = value.assign_coords(component=component)
            ds[name] = value.assign_attrs(
                _attrs(f"{'lower' if end == 'lower' else 'upper'} end {what} of {quantity}",
                       units_, "qualityInformation")
            )  # fmt: skip
    if m.background:
        ds["background"] = bg.assign_attrs(
            _attrs("reflected sunlight at 1 um (5772 K blackbody shape)", _CANONICAL[kind])
        )
    ds["component"].attrs.update(long_name="component index, hottest first when exchangeable",
                                 units="1")  # fmt: skip
    ds["param"].attrs.update(long_name="fitted parameter")
    ds["param_j"].attrs.update(long_name="fitted parameter (second covariance index)")
    for name in ds.coords:
        if name not in ("component", "param", "param_j") and name in observation.coords:
            ds[name].attrs = dict(observation[name].attrs)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ds.attrs = {
        "Conventions": "CF-1.11, ACDD-1.3",
        "title": "thermal: fitted hot-spot thermal emission",
        "thermal_model_description": m.description,
        "thermal_version": _thermal_version(),
        "history": f"{now}: thermal.fit.fit_spectra(model={model!r}, intervals={intervals!r})",
        "source": str(observation.attrs.get("source", observation.attrs.get("product_id", ""))),
    }
    return ds


def _quadratic_form(g, cov):
    """g^T C g over the last axes, with 0 x NaN = 0 (a parameter the power does not depend
    on may have no variance); the same summation order for any batch shape or chunking."""
    terms = g[..., :, None] * g[..., None, :]
    terms = np.where(terms != 0.0, terms * cov, 0.0)
    return terms.reshape(*terms.shape[:-2], -1).sum(axis=-1)


def _apply(y, sigma, *, channels, model, max_iterations, intervals):
    return fit_arrays(
        y, sigma, channels, model, max_iterations=max_iterations, intervals=intervals
    )
