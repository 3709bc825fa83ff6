"""Batch fit engine: observation Dataset -> compiled kernel -> result Dataset.

The kernel (:mod:`thermal._kernels.fit`) sees arrays only: data and 1-sigma uncertainties
(n_fits x n_channels) and the channels flattened into quadrature nodes shared by the batch (a
spectral channel is one node of weight 1 at its wavelength; a band channel is its
:attr:`thermal.bands.Band.nodes` and ``weights``). This module converts units, builds the
nodes and the multi-start grid, and hands blocks of spectra to the model
(:mod:`thermal.models`): directly for numpy-backed data, through :func:`xarray.apply_ufunc`
for dask (spectral dimension in one chunk; inside dask worker threads the serial kernel runs,
so numba's thread pool is never nested). The model's outputs become the result Dataset in
:func:`thermal.layout.build_result`.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools

import numpy as np
import xarray as xr

from thermal import bands as _bands
from thermal import layout, planck, units
from thermal._kernels import fit as _kfit
from thermal._kernels import profile as _kprofile
from thermal.models import SOLAR_TEMPERATURE, MultiBlackbody, Problem, get_model
from thermal.models.base import check_count
from thermal.plausibility import MAX_EMISSION_ANGLE, guard

__all__ = ["Channels", "fit_arrays", "fit_spectra"]

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


@functools.lru_cache(maxsize=64)
def _start_grid_cached(key, lower, upper, emissivity):
    nodes, n_ch = key
    n = len(nodes) // 24  # float64 wavelength, float64 weight and int64 channel per node
    node_lam = np.frombuffer(nodes, np.float64, n, 0)
    node_w = np.frombuffer(nodes, np.float64, n, 8 * n)
    node_ch = np.frombuffer(nodes, np.int64, n, 16 * n)
    c = len(lower)
    lo = np.log(np.asarray(lower, dtype=float))
    hi = np.log(np.asarray(upper, dtype=float))
    eps = np.asarray(emissivity, dtype=float)
    n_grid = _GRID[c]
    grid = np.empty((c, n_grid))
    for j in range(c):
        grid[j] = np.linspace(lo[j], hi[j], n_grid) if hi[j] > lo[j] else lo[j]
    basis = np.empty((c, n_grid, n_ch))
    for j in range(c):
        basis[j] = eps[j] * _channel_basis(node_lam, node_w, node_ch, n_ch, np.exp(grid[j]))
    bg = _channel_basis(node_lam, node_w, node_ch, n_ch, [SOLAR_TEMPERATURE])[0] / float(
        planck.spectral_radiance(1.0, SOLAR_TEMPERATURE)
    )
    return lo, hi, eps, grid, basis, bg


def _start_grid(channels, lower, upper, emissivity):
    """ln T bounds, emissivities, the multi-start grid in ln T, its channel basis and the
    reflected-sunlight shape of a model over ``channels``; computed once per channel set and
    model bounds (the kernels only read them, so later calls share the arrays)."""
    return _start_grid_cached(channels.key, tuple(lower), tuple(upper), tuple(emissivity))


class Channels:
    """Quadrature nodes of an observation's channels (shared by all spectra of a batch)."""

    def __init__(self, node_lam, node_w, node_ch, n_ch):
        self.node_lam = np.ascontiguousarray(node_lam, dtype=np.float64)
        self.node_w = np.ascontiguousarray(node_w, dtype=np.float64)
        self.node_ch = np.ascontiguousarray(node_ch, dtype=np.int64)
        self.n_ch = int(n_ch)
        self.key = (
            self.node_lam.tobytes() + self.node_w.tobytes() + self.node_ch.tobytes(),
            self.n_ch,
        )

    def radiance(self, temperature):
        """Channel radiances [W m-2 sr-1 um-1] of blackbodies at ``temperature`` [K] (1-D):
        B at each wavelength, or the response-weighted band mean; shape (n_T, n_channels)."""
        return _channel_basis(
            self.node_lam, self.node_w, self.node_ch, self.n_ch, np.atleast_1d(temperature)
        )

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
    model : str or MultiBlackbody
        ``"1T"``, ``"2T"``, ``"3T"`` or a :class:`thermal.models.MultiBlackbody` (the automatic
        choice and the Flow Model fit through :func:`fit_spectra`).
    max_iterations : int
        Levenberg-Marquardt iteration limit per spectrum, in [1, 1e6].
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
    if not isinstance(m, MultiBlackbody):
        raise ValueError(
            f"model: fit_arrays fits multi-blackbody models (1T, 2T, 3T); got {model!r}: use "
            "fit_spectra or thermal.fit.fit for it"
        )
    y = np.asarray(y, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    if y.shape != sigma.shape:
        try:
            y, sigma = np.broadcast_arrays(y, sigma)
        except ValueError:
            raise ValueError(f"y {y.shape} and sigma {sigma.shape} do not broadcast") from None
    if y.ndim == 0:
        raise ValueError("y must have the channels last; got a scalar")
    batch = y.shape[:-1]
    n_ch = y.shape[-1]
    if n_ch != channels.n_ch:
        raise ValueError(f"data have {n_ch} channels but the channel list has {channels.n_ch}")
    y2 = np.ascontiguousarray(y.reshape(-1, n_ch))
    s2 = np.ascontiguousarray(sigma.reshape(-1, n_ch))
    n_fits = y2.shape[0]
    c = m.n_components
    lo, hi, eps, grid, basis, bg = _start_grid(channels, m.lower, m.upper, m.emissivity)
    if getattr(m, "background_shape", None) is not None:
        bg = np.ascontiguousarray(m.background_shape, dtype=np.float64)
        if bg.size != n_ch:
            raise ValueError(f"background_shape has {bg.size} values for {n_ch} channels")
    n_par = 2 * c + int(m.background)
    out = tuple(_kfit.fits(n_fits, c, n_par, n_ch))
    if n_fits:
        problem = _kfit.problem(
            channels.node_lam, channels.node_w, channels.node_ch, eps, lo, hi, grid, basis, bg,
            exchangeable=m.exchangeable, has_bg=m.background, max_iter=_iterations(max_iterations),
        )  # fmt: skip
        _kfit.fit_batch(y2, s2, problem, _kfit.Fits(*out), size=n_fits * 200)
        for j in range(c):  # a fixed temperature comes back exactly as given, not exp(log(T))
            if m.lower[j] == m.upper[j]:
                out[0][:, j] = np.where(np.isnan(out[0][:, j]), np.nan, m.lower[j])
    shapes = [
        (*batch, c), (*batch, c), batch, (*batch, n_par, n_par), batch, batch, batch,
        (*batch, n_ch), batch,
    ]  # fmt: skip
    if intervals == "profile":
        extra = tuple(_kprofile.intervals(n_fits, c))
        if n_fits:
            _kprofile.profile_batch(
                y2, s2, problem, _kfit.Fits(*out), _kprofile.Intervals(*extra), size=n_fits * 5000
            )
        out = out + extra
        shapes += [(*batch, c), (*batch, c), batch, batch]
    return tuple(a.reshape(s) for a, s in zip(out, shapes, strict=True))


# ---------------------------------------------------------------------------------------------
# xarray face


def _observation_parts(observation: xr.Dataset):
    """(kind, spectral dim, channels, data, uncertainty) in canonical units, validated."""
    if not isinstance(observation, xr.Dataset):
        raise ValueError("observation must be an xarray.Dataset in the observation layout")
    dim, kind = layout.spectral_dim_and_kind(observation, ValueError)
    name_u = f"{kind}_uncertainty"
    if name_u not in observation.data_vars:
        raise ValueError(
            f"observation lacks {name_u!r} (1-sigma uncertainty of {kind!r}); a table gives it "
            "as a '<band>_uncertainty' column for each band"
        )
    data, unc = observation[kind], observation[name_u]
    if dim not in data.dims or dim not in unc.dims:
        raise ValueError(f"{kind!r} and {name_u!r} must both have the spectral dimension {dim!r}")
    canonical = layout.CANONICAL_DATA_UNITS[kind]
    unit = data.attrs.get("units", canonical)
    try:
        f_data = units.conversion_factor(unit, canonical)
    except ValueError as error:
        raise ValueError(f"{kind!r} units: {error}") from None
    try:
        f_unc = units.conversion_factor(unc.attrs.get("units", unit), canonical)
    except ValueError as error:
        raise ValueError(f"{name_u!r} units: {error}") from None
    if f_data != 1.0:
        data = data * f_data
    if f_unc != 1.0:
        unc = unc * f_unc

    def problem(message):
        return ValueError(f"{dim!r} coordinate: {message}")

    if dim not in observation.coords:
        raise problem(
            f"the {dim!r} dimension has no coordinate values (wavelengths [um] or band names)"
        )
    if dim == "wavelength":
        coord = observation["wavelength"]
        factor = units.conversion_factor(coord.attrs.get("units", "um"), "um")
        values = np.asarray(coord.values, float) * factor
        channels = Channels.from_wavelength(layout.check_wavelengths(values, problem))
    else:
        channels = Channels.from_bands(
            layout.check_band_names(observation["band"].values, problem)
        )
    return kind, dim, channels, data, unc


def fit_spectra(
    observation: xr.Dataset,
    model="auto",
    *,
    max_iterations: int = 1000,
    intervals="linear",
    store=(),
    max_emission_angle: float = MAX_EMISSION_ANGLE,
    temperature_range=None,
) -> xr.Dataset:
    """Fit a model to every spectrum of an observation.

    Parameters
    ----------
    observation : xarray.Dataset
        Observation layout (``docs/layout.md``): spectral dim ``wavelength`` [um] or ``band``
        (names from :mod:`thermal.bands`), ``intensity`` [W sr-1 um-1] or ``radiance``
        [W m-2 sr-1 um-1] with its ``_uncertainty`` (1 sigma; ``units`` attributes are
        honoured), optional ``pixel_area`` [m2]. Every other dim is a batch dim. numpy or dask
        backed (dask in, dask out: nothing is computed until asked).
    model : str or model object, optional
        ``"auto"`` (default: per spectrum the simplest of no source, 1T, 2T and 3T the data
        support, see :class:`~thermal.models.AutoModel`), ``"1T"``, ``"2T"``, ``"3T"``,
        ``"flow"``, or a model object of :mod:`thermal.models`: a
        :class:`~thermal.models.MultiBlackbody` (emissivity, bounded or fixed temperatures,
        reflected-sunlight background), an :class:`~thermal.models.AutoModel` with its
        thresholds, or a :class:`~thermal.models.FlowModel` (Io Flow Model).
    max_iterations : int, optional
        Levenberg-Marquardt iteration limit per spectrum, in [1, 1e6] (the Flow Model searches
        a grid of durations and does not use it).
    intervals : {"linear", "profile"}, optional
        ``"profile"`` adds profile-likelihood 1-sigma intervals, ``temperature_lower``,
        ``temperature_upper`` [K] and ``power_lower``, ``power_upper`` [W]: the values where
        the chi-square, minimised over every other parameter, rises by 1 above its minimum
        (Venzon & Moolgavkar 1988, doi:10.2307/2347496). They follow curved, one-sided and
        bounded valleys that the linearised ``*_uncertainty`` (always given) cannot; a
        temperature interval stops at the model's bound, a power interval the data cannot
        close is 0 or inf. About 10-20 times the cost of the fit. Blackbody models only.
    store : str or sequence of str, optional
        Further variables: ``"covariance"`` (``covariance`` over ``param``, ``param_j``),
        ``"model"`` (the best-fit ``model_intensity`` or ``model_radiance``), ``"input"`` (a
        copy of the observed data, uncertainties and geometry). Default none: parameters,
        uncertainties, fit statistics and status only.
    max_emission_angle : float, optional
        Limb limit [degree], in (0, 90] (default 80): spectra whose ``emission_angle`` exceeds
        it get the status ``limb`` and no area or power (see :func:`thermal.plausibility.guard`).
    temperature_range : (float, float), optional
        Temperature bounds [K] of every component of a named blackbody model (default 150-2000 K
        for ``"auto"``, :data:`thermal.models.DEFAULT_BOUNDS` for the others); recorded in the
        result's model description.

    Returns
    -------
    xarray.Dataset
        Result layout: for blackbody models ``temperature`` [K] and ``area`` [m2] (or
        ``area_fraction`` for radiance without ``pixel_area``) over (..., component), hottest
        first when components are exchangeable, with ``*_uncertainty`` (1 sigma); ``power``
        [W] (``W m-2`` per unit pixel area for area fractions) and ``power_uncertainty``;
        ``chi2``, ``dof``, ``aic``, ``bic``, ``status`` (:class:`thermal.status.Status`
        codes with CF flag attributes; 0 = converged), ``nfev``; ``background`` when the model
        fits one. A FlowModel gives ``areal_rate`` [m2 s-1], ``duration`` [s], ``area`` [m2],
        ``effusion_rate`` [m3 s-1] and ``power`` [W] instead.

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
    wanted = layout.check_store(store)
    m = get_model(model, temperature_range)
    kind, dim, channels, data, unc = _observation_parts(observation)
    m = _with_scene(m, model, data, dim)
    scaled = kind == "radiance" and "pixel_area" in observation.variables
    problem = Problem(
        channels, dim, kind, scaled, _iterations(max_iterations), intervals, wanted - {"input"}
    )
    limb = _check_angle("max_emission_angle", max_emission_angle)
    outputs = m.outputs(problem)
    if data.dims != unc.dims or data.shape != unc.shape:
        data, unc = xr.broadcast(data, unc)
    batch = [d for d in data.dims if d != dim]
    if data.dims[-1] != dim:  # (a transpose costs ~70 us even when it changes nothing)
        data = data.transpose(*batch, dim)
    if unc.dims != data.dims:
        unc = unc.transpose(*batch, dim)
    aux = {}  # per-spectrum geometry, broadcast to the batch
    for name in ("pixel_area", "emission_angle"):
        if name in observation.variables and (name != "pixel_area" or scaled):
            template = data.isel({dim: 0}, drop=True)
            factor = units.conversion_factor(
                observation[name].attrs.get("units", _AUX_UNITS[name]), _AUX_UNITS[name]
            )
            value = observation[name] * factor if factor != 1.0 else observation[name]
            aux[name] = value.broadcast_like(template).transpose(*batch)
    names = [out.name for out in outputs]
    options = {
        "model": m,
        "problem": problem,
        "names": names,
        "aux_names": list(aux),
        "limb": limb,
    }
    lazy = any(a.chunks is not None for a in (data, unc, *aux.values()))
    if lazy:
        args = [data.chunk({dim: -1}), unc.chunk({dim: -1}), *aux.values()]
        known = {"param": len(m.parameter_names), "param_j": len(m.parameter_names)}
        known["component"] = getattr(m, "n_components", 1)
        used = {d for out in outputs for d in out.dims}
        sizes = {d: n for d, n in known.items() if d in used}
        results = xr.apply_ufunc(
            _block, *args,
            kwargs=options,
            input_core_dims=[[dim], [dim]] + [[]] * len(aux),
            output_core_dims=[list(out.dims) for out in outputs],
            dask="parallelized",
            output_dtypes=[out.dtype for out in outputs],
            keep_attrs=False,
            dask_gufunc_kwargs={"output_sizes": sizes, "allow_rechunk": False},
        )  # fmt: skip
        variables = {out.name: (r.dims, r.data) for out, r in zip(outputs, results, strict=True)}
    else:
        values = _in_blocks(data.values, unc.values, [a.values for a in aux.values()], options)
        variables = {
            out.name: ((*batch, *out.dims), v) for out, v in zip(outputs, values, strict=True)
        }
    used = {d for out in outputs for d in out.dims}
    # the spectral coordinate (wavelength, or band with band_centre) where the result has
    # spectra (model, residuals)
    coords = {
        name: coord for name, coord in data.coords.items() if dim not in coord.dims or dim in used
    }
    components = getattr(m, "n_components", 1) if "component" in used else 0
    params = tuple(m.parameter_names) if "param" in used else ()
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    attrs = {
        "Conventions": "CF-1.11, ACDD-1.3",
        "title": "thermal: fitted hot-spot thermal emission",
        "thermal_model_description": m.description,
        "thermal_version": _thermal_version(),
        "history": f"{now}: thermal.fit.fit_spectra(model={model!r}, intervals={intervals!r})",
        "source": str(observation.attrs.get("source", observation.attrs.get("product_id", ""))),
        **m.attributes(),
    }
    result = layout.build_result(
        variables, outputs, coords=coords, attrs=attrs, components=components, params=params
    )
    if "input" in wanted:
        for name in (kind, f"{kind}_uncertainty", "pixel_area", "emission_angle"):
            if name in observation.variables:
                result[name] = observation[name]
    result.attrs["thermal_area_basis"] = _area_basis(observation, kind, scaled)
    return result


def _area_basis(observation: xr.Dataset, kind: str, scaled: bool) -> str:
    """What a result's areas (and so powers) are, in words: the assumption behind them."""
    if kind == "intensity":
        return (
            "area = intensity / (emissivity B_lambda(T)): the area as projected towards the "
            "observer (no emission-angle correction; a Lambertian surface seen at emission "
            "angle e has 1/cos(e) times more)"
        )
    if not scaled:
        return "area_fraction = radiance / (emissivity B_lambda(T)): a fraction of the pixel"
    pixel = observation["pixel_area"]
    what = pixel.attrs.get("long_name", "pixel area")
    size = (
        f"{float(pixel.values):.6g} m2"
        if pixel.size == 1
        else f"{float(pixel.min()):.6g}-{float(pixel.max()):.6g} m2"
    )
    return f"area = area fraction of the pixel x pixel_area ({what}, {size}, from the input)"


SPATIAL_DIMS = ("x", "y", "line", "sample", "pixel")
"""Batch dims of images and cubes: with ``model="auto"`` their median spectrum is the default
background (at least :data:`SCENE_MIN_SPECTRA` spectra)."""
SCENE_MIN_SPECTRA = 9


def _with_scene(m, name, data, dim):
    """The automatic model with the scene's median spectrum as its background where it asks for
    one, or (``model="auto"`` by name) where the observation is an image or cube."""
    from thermal.models.auto import AutoModel

    if not isinstance(m, AutoModel) or m.scene is not None:
        return m
    batch = [d for d in data.dims if d != dim]
    n = int(np.prod([data.sizes[d] for d in batch])) if batch else 1
    spatial = any(d in SPATIAL_DIMS for d in batch) and n >= SCENE_MIN_SPECTRA
    if m.background != "scene" and not (
        isinstance(name, str) and m.background is False and spatial
    ):
        return m
    scene = np.asarray(data.median(dim=batch, skipna=True).values, dtype=float)
    scene = np.where(np.isfinite(scene) & (scene > 0), scene, 0.0)
    if not scene.max() > 0:
        return m  # no positive background to scale: fit without one
    return dataclasses.replace(m, background="scene", scene=tuple(scene))


BLOCK = 1 << 16
"""Spectra per call of a model on numpy-backed data: bounds the temporaries, and Ctrl-C is
answered between blocks (a compiled kernel does not see it)."""


def _in_blocks(y, sigma, aux, options):
    """:func:`_block` over at most :data:`BLOCK` spectra at a time; the same results as one
    call (every spectrum is fitted on its own)."""
    batch = y.shape[:-1]
    n = int(np.prod(batch)) if batch else 1
    if n <= BLOCK:
        return _block(y, sigma, *aux, **options)
    y = y.reshape(n, y.shape[-1])
    sigma = sigma.reshape(n, sigma.shape[-1])
    aux = [np.broadcast_to(a, batch).reshape(n) for a in aux]
    outputs = None
    for start in range(0, n, BLOCK):
        part = slice(start, start + BLOCK)
        values = _block(y[part], sigma[part], *(a[part] for a in aux), **options)
        if outputs is None:
            outputs = [np.empty((n, *v.shape[1:]), dtype=v.dtype) for v in values]
        for out, v in zip(outputs, values, strict=True):
            out[part] = v
    return tuple(out.reshape((*batch, *out.shape[1:])) for out in outputs)


def _block(y, sigma, *aux, model, problem, names, aux_names, limb):
    """Fit one block of spectra (numpy arrays, spectral axis last) into the named outputs;
    ``aux`` holds the per-spectrum geometry named by ``aux_names``."""
    geometry = dict(zip(aux_names, (np.asarray(a, dtype=float) for a in aux), strict=True))
    values = model.evaluate(y, sigma, geometry, problem)
    guard(values, geometry, limb)
    return tuple(values[name] for name in names)


_AUX_UNITS = {"pixel_area": "m2", "emission_angle": "degree"}


MAX_ITERATIONS = 1_000_000
"""Largest ``max_iterations`` accepted (a fit converges in tens)."""


def _iterations(value) -> int:
    return check_count(value, "max_iterations", 1, MAX_ITERATIONS)


def _check_angle(name, value) -> float:
    value = float(value)
    if not 0.0 < value <= 90.0:
        raise ValueError(f"{name} must be in (0, 90] degrees; got {value!r}")
    return value
