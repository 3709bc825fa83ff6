"""Constant-rate lava flows (Davies' Io Flow Model): derived tables and limits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import cumulative_simpson, quad

from thermal import planck
from thermal.constants import STEFAN_BOLTZMANN
from thermal.cooling import eruptions as e
from thermal.cooling.crust import surface_temperature
from thermal.cooling.materials import get_material

MINUTE, HOUR, DAY, YEAR = 60.0, 3600.0, 86400.0, 365.25 * 86400.0

# derived independently: IFM, basalt preset, Stefan model, all ages 0..t_max
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
    """A derived table (area ~ T^-9 from 1475 K to 100 K): local log-slopes of a 300-year
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
    with pytest.raises(ValueError, match="overturn"):  # crossing in 1e-12 of a period
        e.lake_power(1.0, LOKI_AREA, LOKI_PERIOD, wave_speed=150e3 / (1e-12 * LOKI_PERIOD),
                     length=150e3)  # fmt: skip


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


# --- lava lakes: continuous in time, and an independent quadrature of the same model ----------
#
# The lake surface at time t is a distribution of ages a (time since the crust at that spot was
# last renewed). Overturn: all of it has age t mod period. Wave: a front sets off every period
# and takes sweep = length / wave_speed to cross, so the spot it reaches tau seconds after
# setting off has age (t - tau) mod period, tau uniform on [0, sweep]. Then
#     P(t) = eps A / sweep int_0^sweep sigma (T_s(age)^4 - T_bg^4) dtau   (B_lambda for I).

LAKE_LAM = np.array([2.27, 3.8, 4.8])  # Kc, Lp, Ms [um]
LOKI_SPEED = 2000.0 / DAY  # [m s-1]
LOKI_LENGTH = 150e3  # [m]: sweep 75 days
# (period, wave_speed) [s], [m s-1]: Loki (75-day sweep in 540 days), and a front that is
# always crossing (sweep = period)
WAVES = [(LOKI_PERIOD, LOKI_SPEED), (10 * DAY, LOKI_LENGTH / (10 * DAY))]
# Agreement with the quadrature: the kernels' tables have 40 nodes per decade of age (power
# to ~1e-4); at 2.27 um the emission of old (~300 K) crust is so steep in T that the table's
# temperature interpolation gives up to ~1e-3 (and ~3e-3 at 1.5 um, as for flows).
POWER_RTOL = 2e-4
INTENSITY_RTOL = 2e-3


class _AgeIntegral:
    """F(a) = int_0^a f(a') da' for f = sigma (T_s^4 - T_bg^4) [W m-2] and B_lambda(T_s) at
    LAKE_LAM [W m-2 sr-1 um-1], with T_s(a) from ``surface_temperature`` (the Stefan balance
    solved at every age, not the tabulated curve the kernels use): composite Simpson in ln a on
    200 nodes per decade from 1e-9 s (converged to ~3e-7 against 400), a trapezoid over
    [0, 1e-9 s], and Simpson in ln a from the node below to a between nodes."""

    def __init__(self, top):
        n = int(np.ceil(np.log10(top / 1e-9) * 200)) + 1
        self.age = np.concatenate([[0.0], np.geomspace(1e-9, top, n)])
        self.f = self.integrand(self.age)
        first = 0.5 * (self.f[:, 0] + self.f[:, 1]) * self.age[1]
        rest = cumulative_simpson(
            self.f[:, 1:] * self.age[1:], x=np.log(self.age[1:]), axis=1, initial=0.0
        )
        self.cum = np.hstack([np.zeros((self.f.shape[0], 1)), first[:, None] + rest])

    @staticmethod
    def integrand(age):
        m = get_material("basalt")
        t = np.atleast_1d(surface_temperature(np.asarray(age, float)))
        power = STEFAN_BOLTZMANN * (t**4 - m.background_temperature**4)
        return np.vstack([power, planck.spectral_radiance(LAKE_LAM[:, None], t[None, :])])

    def __call__(self, a):
        k = int(np.searchsorted(self.age, a, side="right")) - 1
        if a == self.age[k]:
            return self.cum[:, k]
        mid = np.sqrt(self.age[k] * a) if k > 0 else 0.5 * a
        fm, fa = self.integrand([mid, a]).T
        if k == 0:
            return a / 6 * (self.f[:, 0] + 4 * fm + fa)
        h = np.log(a / self.age[k])
        return self.cum[:, k] + h / 6 * (self.f[:, k] * self.age[k] + 4 * fm * mid + fa * a)


@pytest.fixture(scope="module")
def age_integral():
    return _AgeIntegral(LOKI_PERIOD)


def _reference(age_integral, t, period, wave_speed):
    """(power [W], intensity at LAKE_LAM [W sr-1 um-1]) of a basalt Loki-area lake."""
    eps = get_material("basalt").emissivity
    phase = math.fmod(t, period)
    if wave_speed is None:  # one age
        values = eps * LOKI_AREA * _AgeIntegral.integrand([phase])[:, 0]
        return values[0], values[1:]
    sweep = LOKI_LENGTH / wave_speed
    # tau in [0, min(phase, sweep)]: behind the front, ages phase - tau; tau in [phase, sweep]:
    # ahead of it, renewed one period earlier, ages period + phase - tau
    total = age_integral(phase) - age_integral(phase - min(phase, sweep))
    if phase < sweep:
        total = total + age_integral(period) - age_integral(period + phase - sweep)
    values = eps * LOKI_AREA / sweep * total
    return values[0], values[1:]


def _lake(t, period, wave_speed):
    options = {"wave_speed": wave_speed, "length": LOKI_LENGTH} if wave_speed else {}
    return (
        e.lake_power(t, LOKI_AREA, period, **options),
        e.lake_intensity(LAKE_LAM, t, LOKI_AREA, period, **options),
    )


def _times(period, sweep, cycles=3):
    """24 times per period over ``cycles`` periods, plus every whole period, every end of a
    crossing (phase = sweep) and the float next to each on both sides."""
    edges = [k * period + s for k in range(cycles + 1) for s in (0.0, sweep)]
    near = [np.nextafter(t, d) for t in edges for d in (-np.inf, np.inf)]
    times = np.concatenate([np.linspace(0.0, cycles * period, 24 * cycles + 1), edges, near])
    return np.unique(times[times >= 0])


@pytest.mark.parametrize(("period", "wave_speed"), WAVES)
def test_wave_lake_is_continuous_in_time(period, wave_speed):
    """A front renews at most as much surface as it crosses, so over any step delta the power
    changes by at most 2 eps A / sweep int_0^delta sigma (T_s^4 - T_bg^4) da (ages only grow,
    T_s only falls, and at most one front's worth of area is reset to age 0): that is
    2 A / sweep times the power of a unit-rate flow active for delta. The same holds per
    wavelength for the intensity. Checked at +-1e-6 period and +-1 ulp around 24 times per
    period, every whole period (t = 0 included) and every end of a crossing, over 3 periods.
    Before the fix t = 0 and every whole period gave 5,776 TW for ~5.18 TW either side."""
    sweep = LOKI_LENGTH / wave_speed
    scale = 2.0 * LOKI_AREA / sweep
    for t in _times(period, sweep):
        power, intensity = _lake(t, period, wave_speed)
        steps = [1e-6 * period, -1e-6 * period]
        steps += [np.nextafter(t, np.inf) - t, np.nextafter(t, -np.inf) - t]
        for step in steps:
            if t + step < 0:
                continue
            delta = abs(step)
            p_near, i_near = _lake(t + step, period, wave_speed)
            p_bound = scale * e.flow_power(1.0, delta) + 1e-12 * power
            i_bound = scale * e.flow_intensity(LAKE_LAM, 1.0, delta) + 1e-12 * intensity
            assert abs(p_near - power) <= p_bound, (t, step, power, p_near)
            assert np.all(np.abs(i_near - intensity) <= i_bound), (t, step)
    # periodic, and t = 0 is the limit from the end of the previous cycle
    p0, i0 = _lake(0.0, period, wave_speed)
    p1, i1 = _lake(period, period, wave_speed)
    assert p1 == pytest.approx(p0, rel=1e-12)
    np.testing.assert_allclose(i1, i0, rtol=1e-12)
    p_before, _ = _lake(np.nextafter(period, 0.0), period, wave_speed)
    assert p_before == pytest.approx(p0, rel=1e-12)


def test_overturned_lake_is_continuous_between_overturns_and_from_the_right_at_them():
    """Overturn renews the whole crust at once, so the power jumps up at every whole period
    (from old crust to fresh lava, eps A sigma (T_e^4 - T_s(period)^4)) and is continuous
    elsewhere: falling with the surface temperature within a cycle, with steps over
    +-1e-6 period as those of the quadrature, and continuous from the right at the overturn
    (the value at a whole period is that of fresh lava, as t -> period+)."""
    period = LOKI_PERIOD
    m = get_material("basalt")
    fresh = (
        m.emissivity
        * LOKI_AREA
        * STEFAN_BOLTZMANN
        * (m.eruption_temperature**4 - m.background_temperature**4)
    )
    delta = 1e-6 * period
    for t in _times(period, 0.0):
        power, intensity = _lake(t, period, None)
        later, i_later = _lake(t + delta, period, None)
        if (t + delta) // period == t // period:  # same cycle: cooling, as the quadrature
            assert later <= power
            assert np.all(i_later <= intensity)
            ref_now = _reference(None, t, period, None)[0]
            ref_later = _reference(None, t + delta, period, None)[0]
            assert abs((power - later) - (ref_now - ref_later)) <= POWER_RTOL * power
    for k in range(4):
        t = k * period
        assert _lake(t, period, None)[0] == pytest.approx(fresh, rel=1e-12)
        assert _lake(t + 1e-6, period, None)[0] == pytest.approx(fresh, rel=1e-6)
        if k:
            old = _lake(np.nextafter(t, 0.0), period, None)[0]
            ref_old = m.emissivity * LOKI_AREA * _AgeIntegral.integrand([period])[0, 0]
            assert old == pytest.approx(ref_old, rel=POWER_RTOL)
            assert old < 1e-3 * fresh


@pytest.mark.parametrize(("period", "wave_speed"), [*WAVES, (LOKI_PERIOD, None)])
def test_lake_matches_a_fine_grid_quadrature_of_the_model(age_integral, period, wave_speed):
    """lake_power and lake_intensity (2.27, 3.8, 4.8 um) against eps A / sweep times the
    Simpson quadrature of the exact Stefan surface temperature over the lake's ages (overturn:
    eps A f(T_s(t mod period))), at 12 times per period over 3 periods, every whole period and
    just around it, at the end of a crossing, and at 1 ms, 1 s, 1 min, 1 h: power to
    POWER_RTOL (2e-4), intensity to INTENSITY_RTOL (2e-3)."""
    sweep = LOKI_LENGTH / wave_speed if wave_speed else 0.0
    times = np.linspace(0.0, 3 * period, 37)
    extra = [1e-3, 1.0, MINUTE, HOUR, sweep, sweep + HOUR, period - 1.0, period + 1.0]
    for t in [*times, *extra]:
        power, intensity = _lake(t, period, wave_speed)
        ref_power, ref_intensity = _reference(age_integral, t, period, wave_speed)
        assert power == pytest.approx(ref_power, rel=POWER_RTOL), t
        np.testing.assert_allclose(intensity, ref_intensity, rtol=INTENSITY_RTOL, err_msg=t)


def test_a_ratio_whose_long_wavelength_intensity_underflows_raises():
    with pytest.raises(ValueError, match="long: the flow's intensity at 0.01 is 0.0"):
        e.flow_ratio(1e5, long=0.01)


def test_quantities_in_howell_and_time_series_mean_their_units():
    u = pytest.importorskip("astropy.units")
    plain = e.howell_intensity(4.0, 1e6, 10.0)
    assert e.howell_intensity(4000.0 * u.nm, 1e6, 10.0 * u.dimensionless_unscaled) == (
        pytest.approx(plain, rel=1e-12)
    )
    with pytest.raises(ValueError, match="scaled_duration"):
        e.howell_intensity(4.0, 1e6, 10.0 * u.s)
    series = e.flow_time_series(2000.0 * u.nm, 10.0, 1.0 * u.day, [1.0, 2.0] * u.h)
    reference = e.flow_time_series(2.0, 10.0, 86400.0, [3600.0, 7200.0])
    np.testing.assert_allclose(series.intensity, reference.intensity, rtol=1e-12)


def test_a_clast_cooling_in_degrees_celsius_is_a_difference():
    """200 degC of cooling is 200 K of cooling (not 473.15 K, an absolute temperature)."""
    u = pytest.importorskip("astropy.units")
    plain = e.fountain_intensity(4.0, 1e6, 1e3, 3600.0, clast_cooling=200.0)
    for given in (200 * u.deg_C, 200 * u.K, 200_000 * u.mK):
        got = e.fountain_intensity(4.0, 1e6, 1e3, 3600.0, clast_cooling=given)
        assert float(got) == pytest.approx(float(plain), rel=1e-12), given
    with pytest.raises(ValueError, match="clast_cooling: a Quantity in m cannot be converted"):
        e.fountain_intensity(4.0, 1e6, 1e3, 3600.0, clast_cooling=2 * u.m)


def test_fountain_intensity_has_the_shape_of_its_wavelengths():
    one = e.fountain_intensity(2.0, 1e4, 10.0, 3600.0)
    grid = e.fountain_intensity(np.array([[2.0, 3.0], [4.0, 2.0]]), 1e4, 10.0, 3600.0)
    assert isinstance(one, float) and grid.shape == (2, 2)
    assert grid[0, 0] == pytest.approx(one, rel=1e-12) and grid[1, 1] == grid[0, 0]
