"""Constant-rate lava flows (Davies' Io Flow Model): science.md 8.4-8.5 and limits."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

from thermal import planck
from thermal.constants import STEFAN_BOLTZMANN
from thermal.cooling import eruptions as e
from thermal.cooling.crust import surface_temperature
from thermal.cooling.materials import get_material

MINUTE, HOUR, DAY, YEAR = 60.0, 3600.0, 86400.0, 365.25 * 86400.0

# science.md 8.5: IFM, basalt_ref, Stefan model, all ages 0..t_max
TABLE = [
    # t_max, 2/5 um, Kc/Ms, Lp/Ms, P per R_A [W per m2 s-1]
    (MINUTE, 2.39, 2.22, 1.51, 6.68e6),
    (10 * MINUTE, 1.29, 1.38, 1.36, 3.24e7),
    (HOUR, 0.685, 0.851, 1.21, 1.01e8),
    (DAY, 0.182, 0.296, 0.918, 6.60e8),
    (10 * DAY, 0.0735, 0.138, 0.719, 2.40e9),
    (100 * DAY, 0.0385, 0.0797, 0.567, 8.42e9),
    (YEAR, 0.0308, 0.0665, 0.512, 1.69e10),
]


@pytest.mark.parametrize(("t_max", "r25", "kc_ms", "lp_ms", "power"), TABLE)
def test_ratios_and_power_reproduce_the_derived_table(t_max, r25, kc_ms, lp_ms, power):
    assert e.flow_ratio(t_max) == pytest.approx(r25, rel=0.01)
    assert e.flow_ratio(t_max, short="nirc2_kc", long="nirc2_ms") == pytest.approx(kc_ms, rel=0.01)
    assert e.flow_ratio(t_max, short="nirc2_lp", long="nirc2_ms") == pytest.approx(lp_ms, rel=0.01)
    # the table does not subtract the 100 K background; we do (sigma T_bg^4 t_max)
    background = STEFAN_BOLTZMANN * 100.0**4 * t_max
    assert e.flow_power(1.0, t_max) + background == pytest.approx(power, rel=0.01)


def test_intensity_matches_adaptive_quadrature_of_the_cooling_curve():
    def integrand(a, lam):
        return float(planck.spectral_radiance(lam, surface_temperature(a)))

    for lam in (1.5, 3.8, 4.8):
        reference = quad(integrand, 0, DAY, args=(lam,), limit=400, points=[1, 60, 3600])[0]
        assert e.flow_intensity(lam, 1.0, DAY) == pytest.approx(reference, rel=2e-3)


def test_howell_lambda_cubed_law_for_a_long_lived_flow():
    """Howell 1997: a constant-rate flow with T_s ~ t^(-1/8) radiates as lambda^3 (3-5 um)."""
    lam = np.array([3.0, 5.0])
    i = e.flow_intensity(lam, 1.0, 300 * YEAR, model="howell")
    slope = np.log(i[1] / i[0]) / np.log(5.0 / 3.0)
    assert slope == pytest.approx(3.0, abs=0.1)


@pytest.mark.parametrize(("lo", "hi", "slope"), [(3.0, 4.0, 3.05), (4.0, 5.0, 3.01)])
def test_howell_local_slopes_match_the_derived_table(lo, hi, slope):
    """science.md 8.4 (area ~ T^-9 from 1475 K to 100 K): local log-slopes of a 300-year
    Howell flow in the 3-5 um range, where the hot and cold ends of the distribution do not
    matter."""
    i = e.flow_intensity(np.array([lo, hi]), 1.0, 300 * YEAR, model="howell")
    assert np.log(i[1] / i[0]) / np.log(hi / lo) == pytest.approx(slope, abs=0.04)


def test_howell_two_parameter_form_against_quadrature_and_lambda_cubed():
    """I = eps R'_A int_0^t'_0 B(T_e min(1, tau^-1/8)) dtau depends on (R'_A, t'_0) only."""
    m = get_material("basalt")

    def integrand(tau, lam):
        return float(planck.spectral_radiance(lam, m.eruption_temperature * min(1.0, tau**-0.125)))

    for lam in (1.5, 3.0, 5.0):
        for t0 in (0.5, 10.0, 1e4):
            points = [1.0] if t0 > 1 else None
            ref = m.emissivity * 2.0 * quad(integrand, 1e-12, t0, args=(lam,), points=points,
                                            limit=500)[0]  # fmt: skip
            assert e.howell_intensity(lam, 2.0, t0) == pytest.approx(ref, rel=1e-3)
    # the material only enters through t_c: a denser, more conductive lava with the same T_e
    # gives the same spectrum in scaled parameters
    lam = np.array([2.0, 4.0])
    np.testing.assert_allclose(
        e.howell_intensity(lam, 1.0, 100.0, conductivity=2.0, density=2000.0),
        e.howell_intensity(lam, 1.0, 100.0),
        rtol=1e-3,
    )
    i = e.howell_intensity(np.array([3.0, 5.0]), 1.0, 1e8)
    assert np.log(i[1] / i[0]) / np.log(5.0 / 3.0) == pytest.approx(3.0, abs=0.1)
    with pytest.raises(ValueError, match="scaled_duration"):
        e.howell_intensity(3.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="scaled_rate"):
        e.howell_intensity(3.0, -1.0, 1.0)


def test_effusion_rate_is_areal_rate_times_thickness():
    """Davies et al. 2000: 7-79 m3 s-1 for a 1 m thick flow means R_A of 7-79 m2 s-1."""
    assert e.flow_effusion_rate(79.0) == pytest.approx(79.0)
    np.testing.assert_allclose(e.flow_effusion_rate([1.5e5, 10.0], 2.0), [3e5, 20.0])
    with pytest.raises(ValueError, match="thickness"):
        e.flow_effusion_rate(1.0, 0.0)
    with pytest.raises(ValueError, match="areal_rate"):
        e.flow_effusion_rate(-1.0)


def test_linear_in_areal_rate_and_cooling_after_the_flow_stops():
    lam = np.array([2.0, 4.8])
    one = e.flow_intensity(lam, 1.0, DAY)
    np.testing.assert_allclose(e.flow_intensity(lam, 250.0, DAY), 250.0 * one, rtol=1e-14)
    later = e.flow_intensity(lam, 1.0, DAY, time=10 * DAY)
    assert np.all(later < one)
    assert e.flow_ratio(DAY, time=10 * DAY) < e.flow_ratio(DAY)
    assert e.flow_intensity(2.0, 0.0, DAY) == 0.0


def test_time_series_dataset():
    times = np.array([0.5, 1, 2, 5, 10]) * DAY
    ds = e.flow_time_series([2.0, 5.0], 1e3, 2 * DAY, times)
    assert ds.intensity.dims == ("time", "wavelength")
    assert ds.intensity.attrs["units"] == "W sr-1 um-1"
    assert ds.power.attrs["units"] == "W"
    np.testing.assert_allclose(ds.area, 1e3 * np.minimum(times, 2 * DAY))
    assert np.all(np.diff(ds.ratio_2_5.values) < 0)  # a cooling flow reddens


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"areal_rate": -1.0}, "areal_rate"),
        ({"duration": 0.0}, "duration"),
        ({"duration": -5.0}, "duration"),
        ({"time": -1.0}, "time"),
        ({"wavelength": -2.0}, "wavelength"),
    ],
)
def test_invalid_parameters_raise_naming_them(kwargs, match):
    args = {"wavelength": 2.0, "areal_rate": 1.0, "duration": DAY} | kwargs
    with pytest.raises(ValueError, match=match):
        e.flow_intensity(**args)


# --- lava lakes and fountains ----------------------------------------------------------------

LOKI_AREA = 21_500e6  # dark floor [m2], de Kleer et al. 2017
LOKI_PERIOD = 540 * DAY


def test_loki_like_lake_radiates_about_1e13_watts():
    """Loki emits ~1e13 W (Veeder et al. 2011; Davies et al. 2012): a basalt lake of Loki's
    area resurfaced by a 2 km/day wave over 150 km every 540 days is in that range."""
    speed = 2000.0 / DAY
    powers = [
        e.lake_power(t, LOKI_AREA, LOKI_PERIOD, wave_speed=speed, length=150e3)
        for t in np.linspace(0, LOKI_PERIOD, 7)[1:-1]
    ]
    assert all(3e12 < p < 3e13 for p in powers)


def test_overturned_lake_is_a_single_age_surface():
    t = 10 * DAY
    lam = np.array([2.0, 4.8])
    expected = 1e6 * planck.spectral_radiance(lam, surface_temperature(t))
    np.testing.assert_allclose(e.lake_intensity(lam, t, 1e6, 100 * DAY), expected, rtol=1e-3)
    # periodic
    np.testing.assert_allclose(
        e.lake_intensity(lam, t + 100 * DAY, 1e6, 100 * DAY), expected, rtol=1e-3
    )


def test_wave_spreads_ages_and_brightens_right_after_the_wave_passes():
    speed = 2000.0 / DAY
    early = e.lake_power(0.2 * LOKI_PERIOD, LOKI_AREA, LOKI_PERIOD, wave_speed=speed, length=150e3)
    late = e.lake_power(0.95 * LOKI_PERIOD, LOKI_AREA, LOKI_PERIOD, wave_speed=speed, length=150e3)
    assert early > late
    with pytest.raises(ValueError, match="period"):
        e.lake_power(1.0, LOKI_AREA, 10 * DAY, wave_speed=speed, length=150e3)


def test_fountain_adds_hot_emission_and_raises_the_2_5_ratio():
    lam = np.array([2.0, 5.0])
    flow = e.flow_intensity(lam, 1e4, HOUR, "ultramafic")
    both = e.fountain_intensity(lam, 1e6, 1e4, HOUR)
    assert np.all(both > flow)
    assert both[0] / both[1] > flow[0] / flow[1]
    # after the eruption stops only the cooling flow remains
    after = e.fountain_intensity(lam, 1e6, 1e4, HOUR, time=2 * HOUR)
    np.testing.assert_allclose(
        after, e.flow_intensity(lam, 1e4, HOUR, "ultramafic", time=2 * HOUR)
    )
    with pytest.raises(ValueError, match="fountain_area"):
        e.fountain_intensity(lam, -1.0, 1e4, HOUR)
