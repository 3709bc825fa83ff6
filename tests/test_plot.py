"""Figures of fit results."""

from __future__ import annotations

import os

import numpy as np
import pytest
import xarray as xr

pytest.importorskip("matplotlib")
pytest.importorskip("thermal.fit")

from thermal import bands, simulate
from thermal.fit import fit_spectra
from thermal.io import InputError, open_observation, write_results
from thermal.plot import plot_hotspots, plot_light_curves, plot_result, select_spectra

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def observation():
    return simulate.observation(
        [[1200.0, 450.0], [900.0, 400.0], [1000.0, 500.0]],
        [[0.5e6, 60e6], [1e6, 30e6], [2e6, 90e6]],
        wavelength=np.linspace(1.5, 5.0, 25),
        seed=4,
    )


@pytest.fixture(scope="module")
def result(observation):
    """A 2T result holding the model spectra and a copy of the observed data."""
    return fit_spectra(observation, model="2T", store=("model", "input"))


def drawn(figure):
    """What a figure shows, read back from its artists: per spectrum (in drawing order) the
    legend label, the data points (x, y, error bar half-length), the model line (x, y) and
    the residual points (x, y)."""
    top, bottom = figure.axes
    points = [c.lines[0] for c in top.containers]
    models = [line for line in top.lines if line not in points]
    residuals = [line for line in bottom.lines if list(line.get_xdata()) != [0, 1]]  # not y = 0
    labels = [t.get_text() for t in top.get_legend().get_texts()]
    out = []
    for label, p, bars, m, r in zip(
        labels, points, top.containers, models, residuals, strict=True
    ):
        segments = bars.lines[2][0].get_segments()
        half = np.array([0.5 * (s[1][1] - s[0][1]) for s in segments])
        out.append((label, (p.get_xdata(), p.get_ydata(), half), m.get_data(), r.get_data()))
    return out


def assert_shows(figure, result, spectra, x=None):
    """The figure shows exactly ``spectra`` of ``result``, in that order, at ``x`` (default
    the wavelengths; ascending): observed values with their 1-sigma bars, the best-fit model
    and (observed - model) / sigma."""
    shown = drawn(figure)
    assert len(shown) == len(spectra)
    lam = result.wavelength.values if x is None else np.asarray(x)
    for (label, (x, y, half), (mx, my), (rx, ry)), i in zip(shown, spectra, strict=True):
        obs = result.intensity.values[i]
        sigma = result.intensity_uncertainty.values[i]
        model = result.model_intensity.values[i]
        temps = ", ".join(f"{t:.0f}" for t in result.temperature.values[i])
        assert label == f"#{i} T = {temps} K"
        np.testing.assert_allclose(x, lam, rtol=1e-15)
        np.testing.assert_allclose(y, obs, rtol=1e-12)
        np.testing.assert_allclose(half, sigma, rtol=1e-9)
        np.testing.assert_allclose(mx, lam, rtol=1e-15)
        np.testing.assert_allclose(my, model, rtol=1e-12)
        np.testing.assert_allclose(rx, lam, rtol=1e-15)
        np.testing.assert_allclose(ry, (obs - model) / sigma, rtol=1e-9, atol=1e-12)


def test_png_of_spectra_fits_and_residuals(result, tmp_path):
    path = tmp_path / "fit.png"
    figure = plot_result(result, path, max_spectra=2)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the two converged spectra of highest power, highest first: true powers 4.3e11, 2.0e11
    # and 0.9e11 W for spectra 2, 0 and 1
    assert_shows(figure, result, [2, 0])
    top, bottom = figure.axes
    assert top.get_yscale() == "log"
    assert top.get_ylabel() == "intensity [W sr-1 um-1]"
    assert bottom.get_ylabel() == "residual / sigma"
    assert bottom.get_xlabel() == "wavelength [um]"
    (zero,) = [line for line in bottom.lines if list(line.get_xdata()) == [0, 1]]
    np.testing.assert_array_equal(zero.get_ydata(), [0.0, 0.0])


def test_from_file_and_refitted_from_the_input(result, observation, tmp_path):
    """A written result shows the same data; a lean one (no model spectra) is refitted from
    the input file it names, and shows the same best fits."""
    path = write_results(result, tmp_path / "r.nc")
    assert_shows(plot_result(path, tmp_path / "r.png"), result, [2, 0, 1])
    lean = fit_spectra(observation, model="2T")
    assert "model_intensity" not in lean
    with pytest.raises(InputError, match="holds no model spectra"):
        plot_result(lean, tmp_path / "lean.png")
    lean.attrs.update(
        thermal_input=write_results(observation, tmp_path / "obs.nc"), thermal_model="2T"
    )
    assert_shows(plot_result(lean, tmp_path / "lean.png", max_spectra=2), result, [2, 0])


def test_a_lean_automatic_fit_of_a_slit_shows_the_numbers_in_the_result(tmp_path):
    """The automatic model fits an image, cube or slit against its scene's median spectrum:
    the figure of a lean result fits the whole input again, so its legend holds the result's
    numbers (it refitted the chosen spectra alone, without the scene, and showed other ones);
    where a refit cannot give them, the figure is refused."""
    path = os.path.join(ROOT, "data", "examples", "JIR_SPE_RDR_2017033T114007_V99.LBL")
    lean = fit_spectra(open_observation(path))
    lean.attrs.update(thermal_input=path, thermal_model="auto")
    chosen = select_spectra(lean, 2)
    figure = plot_result(lean, tmp_path / "spe.png", max_spectra=2)
    labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    expected = []
    for i in chosen:
        temperatures = lean.temperature.values[i]
        shown = ", ".join(f"{t:.0f}" for t in temperatures[np.isfinite(temperatures)])
        expected.append(f"#{i} T = {shown} K")
    assert labels == expected
    lean.attrs["thermal_temperature_range_K"] = [150.0, 1000.0]  # not how it was fitted
    with pytest.raises(InputError, match="a fit of its input now gives other numbers"):
        plot_result(lean, tmp_path / "other.png", max_spectra=2)
    # the reader options and limb limit the file records are those of the refit
    from thermal.cli import main

    out = tmp_path / "out"
    assert main(["fit", path, "-o", str(out), "-q", "--relative-uncertainty", "0.02",
                 "--max-emission-angle", "70"]) == 0  # fmt: skip
    (written,) = out.glob("*.fit.nc")
    assert plot_result(written, tmp_path / "recorded.png", max_spectra=2)


def test_light_curves_follow_each_id_over_time(tmp_path):
    times = np.array(["2023-05-16T10:00", "2024-02-03T20:00", "2023-05-16T10:00",
                      "2024-02-03T20:00", "2024-02-03T20:00"], dtype="datetime64[ns]")  # fmt: skip
    table = xr.Dataset(
        {
            "hotspot_id": ("detection", ["Pele", "Pele", "Loki Patera", "Loki Patera", ""]),
            "time": ("detection", times),
            "band": ("detection", ["jiram_m"] * 5),
            "spectral_flux": ("detection", [2e9, 3e9, 9e9, 7e9, 1e9]),
            "saturated": ("detection", [False, False, False, True, False]),
        }
    )
    figure = plot_light_curves(table, tmp_path / "curves.png")
    (axis,) = figure.axes
    labels = [t.get_text() for t in axis.get_legend().get_texts()]
    assert labels == ["Loki Patera jiram_m", "Pele jiram_m"]
    lines = [line for line in axis.lines if line.get_linestyle() == "-"]
    np.testing.assert_allclose(lines[0].get_ydata(), [9.0, 7.0])  # GW um-1, in time order
    np.testing.assert_allclose(lines[1].get_ydata(), [2.0, 3.0])
    assert axis.get_ylabel() == "spectral flux [GW um-1]"


def test_adaptive_optics_hot_spots_are_drawn_on_their_image(tmp_path):
    """An AO hot-spot file is drawn on its FITS image (it said to run `thermal detect`), and a
    catalogue of spots without ids (no geometry: no positions on Io) is refused, not an empty
    figure or an internal error."""
    from thermal.cli import main
    from thermal.detect import scene

    image, _ = scene.write_ao_image(tmp_path / "io_Ms.fits", filter_name="Ms", seed=1)
    out = tmp_path / "out"
    assert main(["detect", str(image), "-o", str(out), "-q"]) == 0
    figure = plot_hotspots(out / "io_Ms.hotspots.nc", tmp_path / "spots.png")
    (axis,) = figure.axes
    with xr.open_dataset(out / "io_Ms.hotspots.nc") as spots:
        assert len(axis.patches) == spots.sizes["hotspot"] > 0
    with pytest.raises(InputError, match="no hot spot has an id"):
        plot_light_curves(out / "hotspots.csv", tmp_path / "curves.png")


def test_band_photometry_is_drawn_at_the_band_centres(tmp_path):
    names = ["nirc2_kc", "nirc2_lp", "nirc2_ms"]
    obs = simulate.observation([900.0], [1e6], bands=names, n=2, seed=6)
    res = fit_spectra(obs, model="1T", store=("model", "input"))
    figure = plot_result(res, tmp_path / "bands.png")
    centres = [bands.get(n).centre for n in names]  # ascending: Kc, Lp, Ms
    assert_shows(figure, res, list(np.argsort(-res.power.values)), x=centres)
    assert figure.axes[1].get_xlabel() == "band centre [um]"
    assert [t.get_text() for t in figure.axes[1].get_xticklabels()] == names


def test_select_spectra_prefers_converged_fits_of_highest_power():
    ds = xr.Dataset(
        {
            "status": ("spectrum", [0, 5, 0, 0, 1]),
            "power": ("spectrum", [1e9, 1e12, np.nan, 3e9, 5e9]),
        }
    )
    assert select_spectra(ds, 6) == [3, 0, 2]  # 1 and 4 did not converge; NaN power last
    assert select_spectra(ds, 1) == [3]
    # none converged: every spectrum is a candidate
    assert select_spectra(ds.assign(status=ds.status * 0 + 5), 2) == [1, 4]
    assert select_spectra(ds.drop_vars("power"), 6) == [0, 2, 3]
    with pytest.raises(ValueError, match="max_spectra"):
        select_spectra(ds, 0)


def test_not_a_result(tmp_path):
    obs = simulate.observation([900.0], [1e6], bands=["nirc2_kc", "nirc2_lp"])
    path = write_results(obs, tmp_path / "obs.nc")
    with pytest.raises(InputError, match="thermal fit result"):
        plot_result(path, tmp_path / "x.png")


def test_hot_spot_images_and_light_curves(tmp_path):
    """thermal plot of a hotspots file draws its image with the spots; of a catalogue, the
    light curves; a hotspots file whose input is gone is a one-line error."""
    import shutil

    from thermal.cli import main

    examples = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "data", "examples")  # fmt: skip
    for name in ("JIR_IMG_RDR_2017033T114006_V99.LBL", "JIR_IMG_RDR_2017033T114006_V99.IMG"):
        shutil.copy(os.path.join(examples, name), tmp_path / name)
    label = str(tmp_path / "JIR_IMG_RDR_2017033T114006_V99.LBL")
    out = tmp_path / "out"
    assert main(["detect", label, "-o", str(out), "-q"]) == 0
    spots = out / "JIR_IMG_RDR_2017033T114006_V99.hotspots.nc"
    figure = tmp_path / "spots.png"
    assert main(["plot", str(spots), "-o", str(figure)]) == 0
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the label gives no spot a place on Io, so no id: no light curve (it drew empty axes)
    assert main(["plot", str(out / "hotspots.csv"), "-o", str(tmp_path / "curves.png")]) == 1
    assert not (tmp_path / "curves.png").exists()
    os.remove(label)
    assert main(["plot", str(spots), "-o", str(tmp_path / "gone.png")]) == 1
