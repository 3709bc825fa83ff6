"""thermal.fit.fit (plain arrays) and thermal.fit.report (one spectrum in words)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from thermal import bands, planck
from thermal.fit import fit, fit_spectra, report
from thermal.io import open_observation

LAM = np.linspace(1.0, 5.0, 12)
KECK = os.path.join(os.path.dirname(__file__), "..", "..", "data", "examples", "keck_2013-08.csv")


def test_fit_of_arrays_equals_fit_spectra_of_the_same_dataset():
    y = 1e6 * planck.spectral_radiance(LAM, [[900.0], [1200.0]]) + 1e8 * planck.spectral_radiance(
        LAM, 400.0
    )
    res = fit(LAM, y, 0.02 * y, model="2T")
    assert res.temperature.dims == ("spectrum", "component")
    np.testing.assert_allclose(res.temperature.values[:, 0], [900.0, 1200.0], rtol=1e-6)
    np.testing.assert_allclose(res.temperature.values[:, 1], 400.0, rtol=1e-6)
    again = fit(LAM, y[0], 0.02 * y[0], model="2T")  # one spectrum: no batch dim
    assert again.temperature.dims == ("component",)
    assert float(again.temperature[0]) == float(res.temperature[0, 0])


def test_fit_of_band_photometry_in_catalogue_units_with_geometry():
    names = ["nirc2_kc", "nirc2_lp", "nirc2_ms"]
    y = np.array([[float(planck.band_radiance(b, 1000.0)) * 1e6 / 1e9 for b in names]] * 3)
    res = fit(names, y, 0.01 * y, model="1T", unit="GW um-1 sr-1", emission_angle=[0, 30, 85])
    assert res.temperature.values[:2, 0] == pytest.approx([1000.0, 1000.0], rel=1e-6)
    assert res.area.values[0, 0] == pytest.approx(1e6, rel=1e-6)
    assert int(res.status[2]) == 10  # limb
    custom = bands.top_hat("report_test_band", 3.2, 0.2)
    y[0, 1] = float(planck.band_radiance(custom, 1000.0)) * 1e6 / 1e9
    try:
        res = fit(
            ["nirc2_kc", custom, "nirc2_ms"], y[0], 0.01 * y[0], model="1T", unit="GW um-1 sr-1"
        )
        assert float(res.temperature[0]) == pytest.approx(1000.0, rel=1e-6)
    finally:
        bands._REGISTRY.pop("report_test_band", None)


@pytest.mark.parametrize("model", ["auto", "1T", "2T"])
def test_fit_of_one_spectrum_without_a_batch_dim(model):
    """One 1-D spectrum, every model: no batch dim in the result, the same numbers as a batch
    of one."""
    y = 1e6 * planck.spectral_radiance(LAM, 1000.0) + 1e8 * planck.spectral_radiance(LAM, 400.0)
    one = fit(LAM, y, 0.02 * y, model=model)
    batch = fit(LAM, y[None], 0.02 * y[None], model=model)
    assert one.temperature.dims == ("component",)
    # one temperature cannot describe the noise-free two-temperature source: poor_fit
    assert int(one.status) == int(batch.status[0]) == (11 if model == "1T" else 0)
    np.testing.assert_array_equal(one.temperature.values, batch.temperature.values[0])
    np.testing.assert_array_equal(one.area.values, batch.area.values[0])


def test_fit_takes_channels_in_any_order():
    """A frequency axis (increasing) is a decreasing wavelength axis: the fit puts the channels
    in increasing wavelength and gives the same numbers."""
    u = pytest.importorskip("astropy.units")
    y = 1e6 * planck.spectral_radiance(LAM, 900.0)
    ordered = fit(LAM, y, 0.01 * y, model="1T", store="model")
    frequency = (LAM[::-1] * u.um).to(u.THz, equivalencies=u.spectral())
    reversed_ = fit(frequency, y[::-1], 0.01 * y[::-1], model="1T", store="model")
    np.testing.assert_allclose(reversed_.wavelength, LAM, rtol=1e-12)
    np.testing.assert_allclose(reversed_.temperature, ordered.temperature, rtol=1e-9)
    np.testing.assert_allclose(reversed_.model_intensity, ordered.model_intensity, rtol=1e-9)
    with pytest.raises(ValueError, match="duplicate wavelength"):
        fit(np.r_[LAM, LAM[:1]], np.r_[y, y[:1]], 0.01 * np.r_[y, y[:1]], model="1T")


def test_a_band_object_never_stands_in_for_another_of_its_name():
    y = np.array([float(planck.band_radiance(b, 1000.0)) for b in ("nirc2_kc", "nirc2_ms")])
    impostor = bands.top_hat("nirc2_lp", 10.0, 0.2)
    with pytest.raises(ValueError, match="'nirc2_lp' with another response"):
        fit([impostor, "nirc2_ms"], y, 0.01 * y, model="1T")
    # the bundled band itself, given as an object, is the same band
    same = fit([bands.get("nirc2_kc"), "nirc2_ms"], y, 0.01 * y, model="1T")
    assert float(same.temperature[0]) == pytest.approx(1000.0, rel=1e-6)


def test_fit_rejects_inconsistent_shapes_naming_them():
    with pytest.raises(ValueError, match="channels last"):
        fit(LAM, np.ones((3, 5)), 0.1)
    with pytest.raises(ValueError, match="broadcast"):
        fit(LAM, np.ones((3, 12)), np.ones((2, 12)))
    with pytest.raises(ValueError, match="kind"):
        fit(LAM, np.ones(12), 0.1, kind="flux")


def test_report_states_model_status_parameters_and_statistics():
    obs = open_observation(KECK)
    res = fit_spectra(obs, model="auto")
    text = report(res, 0)
    assert "Rarog Patera" in text and "chosen:  1T" in text and "converged" in text
    t, sd = float(res.temperature[0, 0]), float(res.temperature_uncertainty[0, 0])
    assert f"T_0 = {t:.5g} +- {sd:.2g} K" in text
    assert f"chi2 = {float(res.chi2[0]):.4g}, dof = {int(res.dof[0])}" in text
    assert "delta BIC" in text
    two = report(fit_spectra(obs, model="2T", intervals="profile"), {"obs": 3})
    assert "T_1 = " in two and "profile 68% interval" in two
    with pytest.raises(ValueError, match="index"):
        report(res, 10)


def test_report_refuses_what_is_not_a_spectrum_of_a_result():
    y = 1e6 * planck.spectral_radiance(LAM, 900.0) * np.ones((2, 1))
    result = fit(LAM, y, 0.01 * y, model="1T")
    for index, match in [
        ({"spectrum": 5}, "index: spectrum=5 is not an index of a batch dim"),
        ({"axis": 0}, "index: axis=0"),
        (None, r"index must be an integer in \[0, 2\) or a dict; got None"),
        (2, "index must be an integer"),
        (1.0, "index must be an integer"),
    ]:
        with pytest.raises(ValueError, match=match):
            report(result, index)
    with pytest.raises(ValueError, match="result must be a fit result"):
        report(result.drop_vars("status"))
    assert report(result, np.int64(1)).startswith("[[Spectrum]] spectrum=1")
