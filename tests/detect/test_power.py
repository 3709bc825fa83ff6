"""One-band power ranges (thermal.detect.power)."""

import numpy as np
import pytest

from thermal import planck
from thermal.constants import STEFAN_BOLTZMANN
from thermal.detect.power import power_per_flux, power_range


@pytest.mark.parametrize("band", ["jiram_m", "jiram_l"])
@pytest.mark.parametrize("temperature", [350.0, 600.0, 900.0, 1300.0])
def test_the_true_power_lies_in_the_range(band, temperature):
    """A single-temperature spot of area A: flux pi A B_band(T) gives a range holding
    A sigma T^4 whenever T is inside the interval, and the bound's temperature gives it back."""
    area = 3.0e6
    flux = np.pi * area * float(planck.band_radiance(band, temperature))
    got = power_range([flux], band, (300.0, 1400.0))
    truth = area * STEFAN_BOLTZMANN * temperature**4
    assert got["power_lower"][0] <= truth <= got["power_upper"][0]
    t_low = got["temperature_at_power_lower"][0]
    at_low = (
        area
        * float(planck.band_radiance(band, temperature))
        / float(planck.band_radiance(band, t_low))
    )  # the area a source at t_low needs for the same flux
    np.testing.assert_allclose(got["power_lower"][0], at_low * STEFAN_BOLTZMANN * t_low**4)


def test_a_narrow_interval_gives_the_power():
    area, temperature = 2.0e6, 900.0
    flux = np.pi * area * float(planck.band_radiance("jiram_m", temperature))
    got = power_range([flux], "jiram_m", (temperature - 1e-3, temperature + 1e-3))
    truth = area * STEFAN_BOLTZMANN * temperature**4
    np.testing.assert_allclose([got["power_lower"][0], got["power_upper"][0]], truth, rtol=1e-5)


def test_the_m_band_factor_against_published_single_wavelength_values():
    """sigma T^4 / B(4.78 um, T) [sr um]: 219 at 300 K, 20.7 at 700 K, 31.0 at 1300 K (computed
    at the band centre; the band average differs by a few per cent at most)."""
    for temperature, factor in ((300.0, 219.0), (700.0, 20.7), (1300.0, 31.0)):
        at_centre = (
            STEFAN_BOLTZMANN * temperature**4 / float(planck.spectral_radiance(4.78, temperature))
        )
        np.testing.assert_allclose(at_centre, factor, rtol=0.01)
        band = np.pi * power_per_flux("jiram_m", temperature)
        np.testing.assert_allclose(band, factor, rtol=0.08)


def test_no_flux_gives_no_power():
    got = power_range([np.nan, -1.0, 0.0], "jiram_m")
    for values in got.values():
        assert np.isnan(values).all()


@pytest.mark.parametrize("bad", [(1400.0, 300.0), (0.0, 100.0), (300.0,), "hot"])
def test_bad_temperature_ranges_are_refused(bad):
    with pytest.raises(ValueError, match="temperature_range"):
        power_range([1e9], "jiram_m", bad)
