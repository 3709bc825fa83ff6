"""thermal.models.flow: the Io Flow Model fitted for areal rate and duration (fit_spectra)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from thermal import simulate
from thermal.cooling import FlowModel
from thermal.cooling import eruptions as e
from thermal.fit import fit_spectra
from thermal.status import Status

LAM = np.linspace(1.0, 5.2, 17)
DAY = 86400.0


def observation(y, sigma, bands=None):
    dim = "band" if bands is not None else "wavelength"
    coords = {"band": bands} if bands is not None else {"wavelength": LAM}
    return xr.Dataset(
        {
            "intensity": (("spectrum", dim), y, {"units": "W sr-1 um-1"}),
            "intensity_uncertainty": (("spectrum", dim), sigma),
        },
        coords=coords,
    )


@pytest.fixture(scope="module")
def synthetic():
    """400 flows (R_A 10-1e4 m2 s-1, t_max 1e3-1e7 s) with 2 % noise, and their fits."""
    rng = np.random.default_rng(3)
    n = 400
    rate, tau = 10 ** rng.uniform(1, 4, n), 10 ** rng.uniform(3, 7, n)
    obs = simulate.flow_observation(rate, tau, wavelength=LAM, seed=4)  # not the draws' seed
    return fit_spectra(obs, model=FlowModel()), rate, tau


def test_areal_rate_and_duration_are_recovered_within_their_uncertainties(synthetic):
    res, rate, tau = synthetic
    ok = res.status.values == 0
    assert ok.mean() > 0.95
    cover_rate = np.abs(res.areal_rate.values - rate) <= res.areal_rate_uncertainty.values
    cover_tau = np.abs(res.duration.values - tau) <= res.duration_uncertainty.values
    assert cover_rate[ok].mean() >= 0.60
    assert cover_tau[ok].mean() >= 0.60
    assert np.nanmean(res.chi2.values[ok] / res.dof.values[ok]) == pytest.approx(1.0, abs=0.1)


def test_noiseless_flow_is_recovered_exactly_with_derived_quantities():
    y = e.flow_intensity(LAM, 300.0, 2 * DAY)[None, :]
    res = fit_spectra(
        observation(y, 1e-3 * y), model=FlowModel(effusion_thickness=2.0), store="model"
    )
    r = res.isel(spectrum=0)
    assert float(r.areal_rate) == pytest.approx(300.0, rel=1e-4)
    assert float(r.duration) == pytest.approx(2 * DAY, rel=1e-4)
    assert float(r.area) == pytest.approx(300.0 * 2 * DAY, rel=2e-4)
    assert float(r.effusion_rate) == pytest.approx(600.0, rel=1e-4)
    assert float(r.power) == pytest.approx(e.flow_power(300.0, 2 * DAY), rel=1e-4)
    np.testing.assert_allclose(r.model_intensity, y[0], rtol=1e-4)


def test_photometry_bands_are_integrated():
    bands = ["nirc2_kc", "nirc2_lp", "nirc2_ms", "nirc2_h"]
    y = np.array([[e.flow_band_intensity(b, 50.0, DAY) for b in bands]])
    res = fit_spectra(observation(y, 0.01 * y, bands), model=FlowModel())
    assert float(res.duration[0]) == pytest.approx(DAY, rel=1e-3)


def test_bad_spectra_are_flagged_and_others_fitted():
    y = np.tile(e.flow_intensity(LAM, 300.0, 2 * DAY), (4, 1))
    sigma = 0.02 * y
    y[1] = np.nan
    y[2, 1:] = np.nan
    sigma[3, 4] = 0.0
    res = fit_spectra(observation(y, sigma), model=FlowModel())
    names = [Status(int(s)).meaning for s in res.status]
    assert names == ["converged", "no_data", "not_enough_channels", "invalid_uncertainty"]
    assert float(res.areal_rate[0]) == pytest.approx(300.0, rel=1e-3)


def test_invalid_model_parameters():
    with pytest.raises(ValueError, match="duration_bounds"):
        FlowModel(duration_bounds=(100.0, 10.0))
    with pytest.raises(ValueError, match="effusion_thickness"):
        FlowModel(effusion_thickness=0.0)


def test_eruption_temperature_is_fitted_on_a_grid():
    """Basalt-like flows erupted at 1350-1750 K, 2 % noise, 30 channels: the profiled eruption
    temperature is within its 1-sigma uncertainty about two thirds of the time."""
    rng = np.random.default_rng(1)
    lam = np.linspace(1.0, 5.2, 30)
    truth = rng.uniform(1350, 1750, 40)
    y = np.array(
        [
            e.flow_intensity(lam, 300.0, 3600.0, "basalt", eruption_temperature=t,
                             liquidus=max(1475.0, t), solidus=t - 10.0)
            for t in truth
        ]
    )  # fmt: skip
    sigma = 0.02 * y
    y = y + sigma * rng.standard_normal(y.shape)
    obs = xr.Dataset(
        {
            "intensity": (("spectrum", "wavelength"), y, {"units": "W sr-1 um-1"}),
            "intensity_uncertainty": (("spectrum", "wavelength"), sigma),
        },
        coords={"wavelength": lam},
    )
    grid = tuple(np.arange(1250.0, 1951.0, 50.0))
    res = fit_spectra(obs, model=FlowModel(eruption_temperatures=grid))
    assert (res.status == 0).all()
    err = np.abs(res.eruption_temperature.values - truth)
    assert np.median(err) < 20.0
    assert 0.5 <= np.mean(err <= res.eruption_temperature_uncertainty.values) <= 0.85
    assert res.eruption_temperature.attrs["units"] == "K"
    with pytest.raises(ValueError, match="eruption_temperatures"):
        FlowModel(eruption_temperatures=(1400.0, 1300.0, 1500.0))
