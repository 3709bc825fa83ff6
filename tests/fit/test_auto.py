"""thermal.models.auto: the automatic choice of no source, 1T, 2T or 3T per spectrum."""

from __future__ import annotations

import os

import numpy as np
import pytest
import xarray as xr

from thermal import planck, simulate
from thermal.fit import fit_spectra
from thermal.io import open_observation
from thermal.models import AutoModel
from thermal.status import Status

LAM = np.linspace(1.0, 5.2, 17)
EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "data", "examples")


def spectra(y, sigma):
    y = np.atleast_2d(y)
    return xr.Dataset(
        {
            "intensity": (("spectrum", "wavelength"), y, {"units": "W sr-1 um-1"}),
            "intensity_uncertainty": (
                ("spectrum", "wavelength"),
                np.broadcast_to(sigma, y.shape),
                {"units": "W sr-1 um-1"},
            ),
        },
        coords={"wavelength": LAM},
    )  # fmt: skip


def test_one_temperature_sources_are_fitted_with_one_temperature():
    rng = np.random.default_rng(1)
    n = 1000
    t = rng.uniform(500, 1500, n)[:, None]
    a = 10 ** rng.uniform(5, 7, n)[:, None]
    res = fit_spectra(simulate.observation(t, a, wavelength=LAM, seed=2), model="auto")
    assert (res.model.values == 1).mean() >= 0.9
    assert res.sizes["component"] == 3
    one = res.model.values == 1
    assert np.isnan(res.temperature.values[one, 1:]).all()
    np.testing.assert_allclose(res.temperature.values[one, 0], t[one, 0], rtol=0.05)
    assert (res.detected.values == 1).all()
    assert (res.status.values == Status.CONVERGED).mean() >= 0.9


def test_two_temperature_sources_get_two_temperatures_with_evidence():
    rng = np.random.default_rng(3)
    n = 200
    t = np.column_stack([rng.uniform(1000, 1400, n), rng.uniform(350, 500, n)])
    a = np.column_stack([10 ** rng.uniform(5, 6, n), 10 ** rng.uniform(8, 8.5, n)])
    res = fit_spectra(simulate.observation(t, a, wavelength=LAM, seed=4), model="auto")
    two = res.model.values == 2
    assert two.mean() >= 0.9
    assert (res.evidence.values[two] > 10).all()
    assert (res.status.values[two] == Status.CONVERGED).all()


def test_noise_is_not_detected_and_gets_an_upper_limit():
    rng = np.random.default_rng(5)
    sigma = 1e6
    res = fit_spectra(spectra(rng.normal(0.0, sigma, (2000, LAM.size)), sigma), model="auto")
    not_detected = res.status.values == Status.NOT_DETECTED
    assert not_detected.mean() >= 0.99
    assert np.isnan(res.temperature.values[not_detected]).all()
    assert np.isnan(res.power.values[not_detected]).all()
    limit = res.power_upper_limit.values[not_detected]
    assert np.all(np.isfinite(limit) & (limit > 0))
    assert res.power_upper_limit.attrs["units"] == "W"


def test_spectra_that_cannot_be_fitted_get_no_upper_limit_or_statistics():
    """An infinite channel (invalid_data) or a single valid channel (not_enough_channels) is
    no evidence of anything: no upper limit and no no-source chi2, unlike a faint spectrum."""
    from thermal.fit import fit

    y = 1e6 * planck.spectral_radiance(LAM, 900.0) * np.ones((3, 1))
    sigma = 0.01 * y
    y[0, 3] = np.inf
    y[1, 1:] = np.nan
    y[2] *= 1e-12  # far below the noise: not detected
    result = fit(LAM, y, sigma, "auto")
    assert list(result.status.values) == [
        Status.INVALID_DATA, Status.NOT_ENOUGH_CHANNELS, Status.NOT_DETECTED,
    ]  # fmt: skip
    assert np.isnan(result.power_upper_limit.values[:2]).all()
    assert np.isnan(result.chi2.values[:2]).all()
    assert result.power_upper_limit.values[2] > 0 and result.chi2.values[2] >= 0


@pytest.mark.parametrize("model", ["auto", "1T", "2T"])
def test_unfittable_spectra_get_the_same_status_from_every_model(model):
    """Every uncertainty negative or NaN is invalid_uncertainty, not no_data; an infinite
    value is invalid_data; no measured channel is no_data."""
    from thermal.fit import fit

    y = 1e6 * planck.spectral_radiance(LAM, 900.0) * np.ones((4, 1))
    sigma = 0.01 * y
    sigma[0] = -1.0
    sigma[1] = np.nan
    y[2] = np.nan
    y[3, 0], sigma[3] = np.inf, -1.0
    result = fit(LAM, y, sigma, model)
    assert list(result.status.values) == [
        Status.INVALID_UNCERTAINTY, Status.INVALID_UNCERTAINTY, Status.NO_DATA,
        Status.INVALID_DATA,
    ]  # fmt: skip


def test_sources_at_snr_10_are_detected():
    rng = np.random.default_rng(6)
    n = 1000
    t = rng.uniform(400, 1500, n)[:, None]
    clean = planck.spectral_radiance(LAM, t)
    sigma = np.linalg.norm(clean, axis=1, keepdims=True) / 10.0  # SNR 10 over the spectrum
    y = clean + rng.normal(0.0, 1.0, clean.shape) * sigma
    res = fit_spectra(spectra(y, sigma), model="auto")
    assert (res.detected.values == 1).mean() >= 0.99


def test_the_upper_limit_bounds_an_undetected_source():
    rng = np.random.default_rng(7)
    n = 500
    sigma = 1e5
    column = planck.spectral_radiance(LAM, 1000.0)
    area = 0.5 * sigma / np.sqrt((column**2).sum())  # well below detection
    y = area * column + rng.normal(0.0, sigma, (n, LAM.size))
    res = fit_spectra(spectra(y, sigma), model="auto")
    true_power = 5.670374419e-8 * 1000.0**4 * area
    undetected = res.detected.values == 0
    assert undetected.mean() > 0.95
    assert (res.power_upper_limit.values[undetected] >= true_power).mean() >= 0.99


def test_keck_example_every_row_fitted_one_temperature_where_bands_are_few():
    res = fit_spectra(open_observation(os.path.join(EXAMPLES, "keck_2013-08.csv")), model="auto")
    assert (res.status.values == Status.CONVERGED).all()
    bands = np.isfinite(open_observation(os.path.join(EXAMPLES, "keck_2013-08.csv")).intensity)
    few = bands.sum("band").values <= 3
    assert (res.model.values[few] == 1).all()
    rarog = float(res.temperature[0, 0])
    assert rarog == pytest.approx(1040.0, rel=0.05)  # de Pater et al. 2014: ~1040 K


def test_covariance_and_model_spectra_are_padded_to_the_largest_model():
    rng = np.random.default_rng(8)
    t = np.column_stack([rng.uniform(1000, 1400, 20), rng.uniform(350, 500, 20)])
    a = np.column_stack([10 ** rng.uniform(5, 6, 20), 10 ** rng.uniform(8, 8.5, 20)])
    obs = simulate.observation(t, a, wavelength=LAM, seed=9)
    auto = fit_spectra(obs, model="auto", store=("covariance", "model"))
    fixed = fit_spectra(obs, model=AutoModel().candidate(2), store=("covariance", "model"))
    two = auto.model.values == 2
    assert two.any()
    cov = auto.covariance.sel(
        param=["temperature_0", "temperature_1", "area_0", "area_1"],
        param_j=["temperature_0", "temperature_1", "area_0", "area_1"],
    ).values[two]
    np.testing.assert_array_equal(cov, fixed.covariance.values[two])
    assert np.isnan(auto.covariance.sel(param="temperature_2").values[two]).all()
    np.testing.assert_array_equal(
        auto.model_intensity.values[two], fixed.model_intensity.values[two]
    )


def test_invalid_options_raise_naming_them():
    with pytest.raises(ValueError, match="temperature_range"):
        AutoModel(temperature_range=(2000.0, 150.0))
    with pytest.raises(ValueError, match="max_components"):
        AutoModel(max_components=4)
    with pytest.raises(ValueError, match="profile"):
        fit_spectra(spectra(np.ones(LAM.size), 0.1), model="auto", intervals="profile")
    with pytest.raises(ValueError, match="temperature_range"):
        fit_spectra(spectra(np.ones(LAM.size), 0.1), model="1T", temperature_range=(10, 5))


def test_cube_background_spaxels_are_not_detected_and_the_spot_is():
    """JWST example: a scene background everywhere, one spaxel (y 2, x 3) with 1000 K over 2e-4
    of it. The automatic choice takes the cube's median spectrum as the background."""
    path = os.path.join(EXAMPLES, "jwst_nirspec_synthetic_s3d.fits")
    res = fit_spectra(open_observation(path), model="auto")
    detected = res.detected.values == 1
    assert detected.sum() == 1 and detected[2, 3]
    assert (res.status.values[~detected] == Status.NOT_DETECTED).all()
    assert int(res.status[2, 3]) == Status.CONVERGED
    assert float(res.temperature[2, 3, 0]) == pytest.approx(1000.0, rel=0.02)
    assert float(res.area_fraction[2, 3, 0]) == pytest.approx(2e-4, rel=0.05)
    assert "median spectrum" in res.attrs["thermal_model_description"]
    from thermal.summary import summarise

    assert summarise(res)["hottest_temperature"] == float(res.temperature[2, 3, 0])


def test_slit_background_pixels_are_not_detected():
    path = os.path.join(EXAMPLES, "JIR_SPE_RDR_2017033T114007_V99.LBL")
    res = fit_spectra(open_observation(path), model="auto")
    assert list(np.flatnonzero(res.detected.values)) == [40, 200]
    assert (res.status.values[res.detected.values == 0] == Status.NOT_DETECTED).all()


def test_a_hot_spot_list_gets_no_scene_background():
    res = fit_spectra(
        open_observation(os.path.join(EXAMPLES, "nims_like_spectra.nc")), model="auto"
    )
    assert "median" not in res.attrs["thermal_model_description"]
    assert (res.detected.values == 1).all()
    with pytest.raises(ValueError, match="background"):
        AutoModel(background="dark")


def test_a_scene_background_cannot_stand_in_for_a_warm_component():
    """The bundled JIRAM slit: pixel 40 holds 1100 K over 0.3 km2 and 500 K over 6 km2 on a
    flat night-side scene of 0.002 W m-2 sr-1 um-1 (data/README.md). Unbounded, the scene's
    spectrum scaled 1100 times stood in for the 500 K component: one temperature, 970 K, and
    36 % of the power with a 4 % uncertainty. Held to at most 10 times the scene, the
    background leaves the warm component to the fit."""
    from thermal.constants import STEFAN_BOLTZMANN
    from thermal.models.auto import SCENE_BACKGROUND_LIMIT

    path = os.path.join(EXAMPLES, "JIR_SPE_RDR_2017033T114007_V99.LBL")
    obs = open_observation(path)
    res = fit_spectra(obs)
    scene = float(obs.radiance.median("pixel").max())
    assert np.nanmax(res.background.values) <= SCENE_BACKGROUND_LIMIT * scene * (1 + 1e-9)
    pixel = res.isel(pixel=40)
    assert int(pixel.model) == 2 and int(pixel.status) == Status.CONVERGED
    np.testing.assert_allclose(np.sort(pixel.temperature.values[:2]), [500, 1100], rtol=0.05)
    truth = STEFAN_BOLTZMANN * (1100.0**4 * 0.3e6 + 500.0**4 * 6e6)
    assert abs(float(pixel.power) - truth) < 3 * float(pixel.power_uncertainty)
    assert abs(float(pixel.power) / truth - 1) < 0.05
    # a held background is in the stored model spectrum: its chi-square is the fit's
    full = fit_spectra(obs, store=("model", "input")).isel(pixel=40)
    residual = (full.radiance - full.model_radiance) / full.radiance_uncertainty
    assert float((residual**2).sum()) == pytest.approx(float(full.chi2), rel=1e-6)
    # the no-source model's background is held too: a spectrum 300 times the scene is a source
    bright = obs.copy(deep=True)
    bright["radiance"][10] = 300 * obs.radiance.median("pixel")
    assert int(fit_spectra(bright).isel(pixel=10).model) > 0
