"""Figures of fit results: observed spectra with the best-fit model and normalised residuals.

matplotlib is imported when a figure is made (``pip install io-thermal[plot]``), never at
``import thermal``.
"""

from __future__ import annotations

import os

import numpy as np

from thermal.status import Status

__all__ = ["plot_result", "select_spectra"]


def select_spectra(result, max_spectra: int = 6) -> list[int]:
    """Flat indices of up to ``max_spectra`` spectra to show: converged, highest power first.

    Parameters
    ----------
    result : xarray.Dataset
        A fit result with ``status`` and (optionally) ``power`` over the batch dimensions.
    max_spectra : int
        >= 1.
    """
    if max_spectra < 1:
        raise ValueError(f"max_spectra must be >= 1; got {max_spectra}")
    status = np.asarray(result["status"].values).ravel()
    candidates = np.flatnonzero(status == Status.CONVERGED)
    if candidates.size == 0:
        candidates = np.arange(status.size)
    if "power" in result:
        power = np.asarray(result["power"].values, dtype=float).ravel()[candidates]
        candidates = candidates[np.argsort(-np.nan_to_num(power, nan=-np.inf), kind="stable")]
    return [int(i) for i in candidates[:max_spectra]]


def _spectral_axis(result):
    if "wavelength" in result.dims:
        return "wavelength", np.asarray(result["wavelength"].values, dtype=float), None
    from thermal import bands

    names = [str(n) for n in result["band"].values]
    return "band", np.array([bands.get(n).centre for n in names]), names


def plot_result(result, output=None, *, max_spectra: int = 6):
    """Plot observed spectra, best-fit models and residuals of a fit result.

    Parameters
    ----------
    result : xarray.Dataset or str or path-like
        The result of :func:`thermal.fit.fit_spectra` with the observed data merged in (as
        written by ``thermal fit``), or the path of such a file.
    output : str or path-like, optional
        PNG file to write; if None the Figure is returned without saving.
    max_spectra : int, optional
        How many spectra to draw (converged ones with the highest power first).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    if output is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from thermal.io import InputError

    source = None
    if not hasattr(result, "data_vars"):
        from thermal.io.netcdf import read_dataset

        source = os.fspath(result)
        result = read_dataset(source)
    if "status" not in result:
        raise InputError(source or "result", "has no 'status' (not a thermal fit result file)")
    chosen = select_spectra(result, max_spectra)
    numbers = list(chosen)  # flat indices in the result, for the legend
    kind = "intensity" if "intensity" in result else "radiance"
    if kind not in result or f"model_{kind}" not in result:
        result, kind = _refit(result, source, chosen)
        chosen = list(range(len(chosen)))
    spectral, x, names = _spectral_axis(result)

    def rows(name):
        if name not in result:
            return None
        values = np.asarray(result[name].transpose(..., spectral).values, dtype=float)
        return values.reshape(-1, x.size)

    obs = rows(kind)
    fit = rows(f"model_{kind}")
    sigma = rows(f"{kind}_uncertainty")
    units = result[kind].attrs.get("units", "")
    temperature = (
        np.asarray(result["temperature"].values, dtype=float).reshape(obs.shape[0], -1)
        if "temperature" in result
        else None
    )

    fig, (top, bottom) = plt.subplots(
        2, 1, sharex=True, figsize=(7.5, 6.5), gridspec_kw={"height_ratios": [3, 1]}
    )
    order = np.argsort(x)
    for k, i in enumerate(chosen):
        colour = f"C{k % 10}"
        label = f"#{numbers[k]}"
        if temperature is not None:
            temps = ", ".join(f"{t:.0f}" for t in temperature[i] if np.isfinite(t))
            label += f" T = {temps} K"
        err = None if sigma is None else sigma[i]
        marker = "o" if names is not None else "."
        top.errorbar(x, obs[i], yerr=err, fmt=marker, ms=3, color=colour, alpha=0.7, label=label)
        top.plot(x[order], fit[i][order], "-", color=colour, lw=1.2)
        resid = obs[i] - fit[i]
        if err is not None:
            resid = resid / err
        bottom.plot(x, resid, marker, ms=3, color=colour)
    bottom.axhline(0.0, color="0.5", lw=0.8)
    positive = obs[chosen][np.isfinite(obs[chosen])] if chosen else np.array([])
    if positive.size and np.all(positive > 0):
        top.set_yscale("log")
    top.set_ylabel(f"{kind} [{units}]")
    top.legend(fontsize=8, loc="best")
    title = result.attrs.get("product_id", source or "")
    top.set_title(f"{title}: {result.attrs.get('thermal_model', '')} fit".strip())
    bottom.set_ylabel("residual / sigma" if sigma is not None else f"residual [{units}]")
    bottom.set_xlabel("wavelength [um]" if names is None else "band centre [um]")
    if names is not None:
        bottom.set_xticks(x)
        bottom.set_xticklabels(names, rotation=30, fontsize=7)
    fig.tight_layout()
    if output is not None:
        fig.savefig(output, dpi=120)
        plt.close(fig)
    return fig


def _refit(result, source, chosen):
    """The chosen spectra of a lean result file (no model spectra stored), refitted from the
    input file it names with the same model: (a small result with model and input, kind)."""
    from thermal.fit import fit_spectra
    from thermal.io import InputError, open_observation
    from thermal.layout import spectral_dim_and_kind

    path = result.attrs.get("thermal_input")
    model = result.attrs.get("thermal_model")
    if not path or not model or not os.path.exists(str(path)):
        raise InputError(
            source or "result",
            "holds no model spectra and the input it was fitted from is not available; "
            "fit with --store model,input to keep them in the result",
        )
    from thermal.batch import recorded_options

    recorded = recorded_options(str(path), result.attrs)
    observation = open_observation(str(path), **recorded["reader"])
    _, kind = spectral_dim_and_kind(observation)
    bounds = np.ravel(result.attrs.get("thermal_temperature_range_K", []))
    options = {"temperature_range": tuple(map(float, bounds))} if bounds.size == 2 else {}
    # the whole input, as it was fitted: the automatic model's background is the scene's
    refit = fit_spectra(
        observation, model=model, intervals="linear", store=("model", "input"),
        max_emission_angle=recorded["max_emission_angle"], **options,
    )  # fmt: skip

    def flat(ds):
        batch = list(ds["status"].dims)
        ds = ds.stack(spectrum_=batch) if batch else ds.expand_dims("spectrum_")
        ds = ds.isel(spectrum_=list(chosen)).transpose("spectrum_", ...)
        return ds.drop_vars([n for n in ds.coords if "spectrum_" in ds[n].dims])

    refit, stored = flat(refit), flat(result)
    same = all(
        np.array_equal(refit[name].values, stored[name].values, equal_nan=True)
        for name in ("status", "temperature")
        if name in stored and name in refit
    )
    if not same:
        raise InputError(
            source or "result",
            "holds no model spectra, and a fit of its input now gives other numbers (options "
            "the file does not record, or a changed input); fit with --store model,input to "
            "keep them in the result",
        )
    refit.attrs.update(result.attrs)
    return refit, kind


def _pyplot(output):
    import matplotlib

    if output is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, output):
    fig.tight_layout()
    if output is not None:
        fig.savefig(output, dpi=120)
        _pyplot(output).close(fig)
    return fig


def plot_hotspots(spots, output=None):
    """Draw the image a hot-spot file was found in, with each spot outlined and named.

    Parameters
    ----------
    spots : xarray.Dataset or str or path-like
        A ``<name>.hotspots.nc`` of ``thermal detect`` (or :func:`thermal.detect.pipeline.
        detect_hotspots` with ``source``/``thermal_input`` attributes naming the input).
    output : str or path-like, optional
        PNG file to write; if None the Figure is returned without saving.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per band (per half of a JIRAM frame), the radiance on a logarithmic stretch,
        each spot circled with its row number (and catalogue name where it has one).
    """
    from thermal.io import InputError, open_observation

    source = None
    if not hasattr(spots, "data_vars"):
        from thermal.io.netcdf import read_dataset

        source = os.fspath(spots)
        spots = read_dataset(source)
    if "hotspot" not in spots.dims:
        raise InputError(source or "spots", "has no dim 'hotspot' (not a thermal detect file)")
    path = spots.attrs.get("thermal_input")
    if not path or not os.path.exists(path):
        raise InputError(source or "spots", f"its input {path!r} is not there to draw")
    from thermal.io.formats import detect_format

    if detect_format(path) == "ao":  # an adaptive-optics image: Jy per pixel, one band
        from thermal.io.ao import read_ao_image

        image = read_ao_image(path)
        band = str(image["band"].values) if "band" in image.coords else ""
        radiance = image.drop_vars("band", errors="ignore").expand_dims(band=[band])
    else:
        radiance = open_observation(path)["radiance"]
    if "y" in radiance.dims:
        radiance = radiance.rename({"y": "line", "x": "sample"})
    if "wavelength" in radiance.dims:
        radiance = radiance.mean("wavelength").expand_dims(band=[""])
    bands = [str(b) for b in radiance["band"].values]
    plt = _pyplot(output)
    fig, axes = plt.subplots(len(bands), 1, figsize=(8, 3.2 * len(bands)), squeeze=False)
    spot_bands = (  # an AO table's band is one scalar
        np.broadcast_to(spots["band"].values.astype(str), (spots.sizes["hotspot"],))
        if "band" in spots.variables
        else None
    )
    for axis, band in zip(axes[:, 0], bands, strict=True):
        image = radiance.sel(band=band).transpose("line", "sample")
        rows = np.flatnonzero(np.isfinite(image.values).any(axis=1))
        if rows.size:
            image = image.isel(line=slice(int(rows[0]), int(rows[-1]) + 1))
        values = image.values
        finite = values[np.isfinite(values)]
        low, high = np.percentile(finite, [1, 99.9]) if finite.size else (0.0, 1.0)
        stretch = np.arcsinh((values - low) / max((high - low) / 50.0, 1e-300))
        lines, samples = image["line"].values, image["sample"].values
        axis.imshow(
            stretch, origin="upper", cmap="inferno", aspect="equal",
            extent=(samples[0] - 0.5, samples[-1] + 0.5, lines[-1] + 0.5, lines[0] - 0.5),
        )  # fmt: skip
        for k in range(spots.sizes["hotspot"]):
            if spot_bands is not None and band and spot_bands[k] != band:
                continue
            y, x = float(spots["line"][k]), float(spots["sample"][k])
            radius = max(2.0, np.sqrt(float(spots["npix"][k]) / np.pi) + 1.5)
            axis.add_patch(plt.Circle((x, y), radius, fill=False, color="cyan", lw=0.8))
            name = str(spots["name"].values[k]) if "name" in spots else ""
            axis.annotate(f"{k}" + (f" {name}" if name else ""), (x + radius, y - radius),
                          color="cyan", fontsize=7)  # fmt: skip
        axis.set_title(f"{os.path.basename(path)} {band}".strip(), fontsize=9)
        axis.set_xlabel("sample")
        axis.set_ylabel("line")
    return _finish(fig, output)


def plot_light_curves(catalogue, output=None, *, max_spots: int = 8):
    """Each hot spot's spectral radiant flux over time, from a catalogue of ``thermal detect``.

    Parameters
    ----------
    catalogue : xarray.Dataset or str or path-like
        ``hotspots.csv`` (:func:`thermal.catalogue.read_catalogue_csv`) or its Dataset.
    output : str or path-like, optional
        PNG file to write; if None the Figure is returned without saving.
    max_spots : int, optional
        The spots seen most often are drawn (default 8).

    Returns
    -------
    matplotlib.figure.Figure
        ``spectral_flux`` [GW um-1] (``radiance_sum`` where there is no flux) against time, one
        line per ``hotspot_id`` and band, saturated detections as open markers (lower limits).
    """
    from thermal.catalogue import read_catalogue_csv
    from thermal.io import InputError

    source = None
    if not hasattr(catalogue, "data_vars"):
        source = os.fspath(catalogue)
        catalogue = read_catalogue_csv(source)
    if "hotspot_id" not in catalogue:
        raise InputError(source or "catalogue", "has no hotspot_id (not a thermal catalogue)")
    ids = catalogue["hotspot_id"].values.astype(str)
    known = ids[ids != ""]
    if not known.size:
        raise InputError(
            source or "catalogue",
            "no hot spot has an id: ids come from positions on Io (detect with --backplanes or "
            "--kernels), so its rows cannot be followed over time",
        )
    names, counts = np.unique(known, return_counts=True)
    chosen = names[np.argsort(-counts, kind="stable")][:max_spots]
    flux = "spectral_flux" in catalogue and np.isfinite(catalogue["spectral_flux"].values).any()
    column = "spectral_flux" if flux else "radiance_sum"
    scale, unit = (1e-9, "GW um-1") if flux else (1.0, "W m-2 sr-1 um-1")
    plt = _pyplot(output)
    fig, axis = plt.subplots(figsize=(8, 4.5))
    times = catalogue["time"].values
    bands = catalogue["band"].values.astype(str) if "band" in catalogue else np.full(ids.size, "")
    saturated = (
        catalogue["saturated"].values.astype(bool) if "saturated" in catalogue
        else np.zeros(ids.size, bool)
    )  # fmt: skip
    for k, spot in enumerate(chosen):
        for band in np.unique(bands[ids == spot]):
            rows = np.flatnonzero((ids == spot) & (bands == band))
            rows = rows[np.argsort(times[rows])]
            value = catalogue[column].values[rows] * scale
            label = f"{spot} {band}".strip()
            axis.plot(times[rows], value, "-", color=f"C{k % 10}", lw=0.8, label=label)
            sat = saturated[rows]
            axis.plot(times[rows][~sat], value[~sat], "o", color=f"C{k % 10}", ms=4)
            axis.plot(times[rows][sat], value[sat], "o", mfc="none", color=f"C{k % 10}", ms=5)
    axis.set_ylabel(f"{column.replace('_', ' ')} [{unit}]")
    axis.set_xlabel("time (UTC)")
    axis.set_title(f"{os.path.basename(source or 'catalogue')}: light curves", fontsize=9)
    if len(chosen):
        axis.legend(fontsize=7, loc="best")
    fig.autofmt_xdate()
    return _finish(fig, output)
