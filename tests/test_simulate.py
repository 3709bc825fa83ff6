"""Synthetic observations: the truth they carry is the model they claim."""

from __future__ import annotations

import numpy as np
import pytest

from thermal import planck, simulate
from thermal.constants import C1, C2


def test_spectra_equal_blackbody_sum():
    lam = np.linspace(1.0, 5.0, 30)
    ds = simulate.observation([450.0, 1200.0], [60e6, 0.5e6], wavelength=lam, noise=0.0, n=2)
    # independent Planck: B = C1 / (lambda^5 (exp(C2 / (lambda T)) - 1))
    b = lambda t: C1 / lam**5 / np.expm1(C2 / (lam * t))  # noqa: E731
    np.testing.assert_allclose(ds.intensity[1], 0.5e6 * b(1200.0) + 60e6 * b(450.0), rtol=1e-13)
    np.testing.assert_array_equal(ds.true_temperature[0], [1200.0, 450.0])  # hottest first
    np.testing.assert_array_equal(ds.true_area[0], [0.5e6, 60e6])
    assert ds.intensity.attrs["units"] == "W sr-1 um-1"


def test_bands_reproduce_two_temperature_vector():
    # a test vector derived independently (Planck at the band centres, CODATA constants):
    # 1200 K 0.5 km2 + 450 K 60 km2 -> Kc 5.1390, Lp 5.3401, Ms 5.6527 GW um-1 sr-1
    ds = simulate.observation(
        [1200.0, 450.0], [0.5e6, 60e6], bands=["nirc2_kc", "nirc2_lp", "nirc2_ms"], noise=0.0
    )
    np.testing.assert_allclose(ds.intensity[0] / 1e9, [5.1390, 5.3401, 5.6527], rtol=3e-3)


def test_noise_and_radiance():
    lam = np.linspace(2.0, 5.0, 50)
    ds = simulate.observation(
        [800.0], [1e6], wavelength=lam, n=2000, noise=0.05, seed=3, pixel_area=1e8
    )
    truth = 1e6 / 1e8 * planck.spectral_radiance(lam, 800.0)
    z = (ds.radiance.values - truth) / ds.radiance_uncertainty.values
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1.0) < 0.01
    np.testing.assert_allclose(ds.radiance_uncertainty[0], 0.05 * truth)
    assert float(ds.pixel_area) == 1e8


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature": [-1.0], "area": [1.0], "bands": ["nirc2_kc"]}, "temperature"),
        ({"temperature": [900.0], "area": [-1.0], "bands": ["nirc2_kc"]}, "area"),
        ({"temperature": [900.0], "area": [1.0]}, "exactly one"),
        ({"temperature": [900.0], "area": [1.0], "bands": ["x"]}, "unknown band"),
        ({"temperature": [900.0], "area": [1.0], "bands": ["nirc2_kc"], "noise": -1}, "noise"),
    ],
)
def test_invalid(kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate.observation(kwargs.pop("temperature"), kwargs.pop("area"), **kwargs)


def test_flow_observation_carries_the_flow_model_and_its_noise():
    from thermal.cooling import flow_intensity

    lam = np.linspace(1.0, 5.0, 9)
    rate, tau = [30.0, 3000.0], [1e4, 1e6]
    exact = simulate.flow_observation(rate, tau, wavelength=lam, noise=0.0)
    for i in range(2):
        np.testing.assert_allclose(exact.intensity[i], flow_intensity(lam, rate[i], tau[i]))
    np.testing.assert_array_equal(exact.true_areal_rate, rate)
    assert exact.intensity.attrs["units"] == "W sr-1 um-1"
    noisy = simulate.flow_observation(rate, tau, wavelength=lam, noise=0.1, seed=1)
    np.testing.assert_allclose(noisy.intensity_uncertainty, 0.1 * exact.intensity)
    z = (noisy.intensity - exact.intensity) / noisy.intensity_uncertainty
    assert 0 < float(np.abs(z).max()) < 5
    np.testing.assert_array_equal(noisy.true_duration, tau)
    with pytest.raises(ValueError, match="noise"):
        simulate.flow_observation(rate, tau, wavelength=lam, noise=-0.1)
    with pytest.raises(ValueError, match="areal_rate and duration"):
        simulate.flow_observation([[1.0, 2.0]], tau, wavelength=lam)
    with pytest.raises(ValueError, match="areal_rate and duration"):
        simulate.flow_observation([1.0, 2.0, 3.0], tau, wavelength=lam)


@pytest.mark.parametrize("spot", [(256, 10), (-1, 10), (10, 432), (1.5, 10)])
def test_a_spot_outside_the_jiram_frame_is_refused(tmp_path, spot):
    with pytest.raises(ValueError, match=r"spots: pixel .* is not inside the image \(256 x 432"):
        simulate.jiram_image(tmp_path, "JIR_IMG_RDR_X_V01", spots=((*spot, 900.0, 1e6),))


def test_a_spot_outside_the_cube_is_refused(tmp_path):
    pytest.importorskip("astropy")
    with pytest.raises(ValueError, match="hot: pixel"):
        simulate.s3d_cube(tmp_path / "cube.fits", hot=((40, 0, 1000.0, 1e-4),))
