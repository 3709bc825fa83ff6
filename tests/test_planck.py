"""Tests of thermal.planck: mpmath references, analytic identities, published values, edges."""

import csv
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize

from thermal import planck
from thermal.constants import C1, C2, STEFAN_BOLTZMANN, WIEN

DATA = Path(__file__).parent / "data"
TINY = np.finfo(float).tiny  # smallest normal float64


def _read(name):
    with open(DATA / name, newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    columns = {h: [r[i] for r in rows] for i, h in enumerate(header)}
    return columns


REF = _read("planck_reference.csv")
LAM = np.array(REF["wavelength_um"], dtype=float)
T = np.array(REF["temperature_K"], dtype=float)


def _exponent(text):
    return int(text.lower().split("e")[1]) if "e" in text.lower() else 0


@pytest.mark.parametrize(
    ("function", "column"),
    [
        (planck.spectral_radiance, "radiance"),
        (planck.radiance_derivative, "radiance_derivative"),
        (planck.photon_radiance, "photon_radiance"),
    ],
)
def test_matches_mpmath_reference(function, column):
    ref = np.array(REF[column], dtype=float)
    got = function(LAM, T)
    normal = ref >= TINY
    assert normal.sum() > 900
    rel = np.abs(got[normal] / ref[normal] - 1.0)
    assert rel.max() <= 1e-12, (LAM[normal][rel.argmax()], T[normal][rel.argmax()], rel.max())
    # below the normal range: never NaN or negative, and an exact 0 far below it
    assert np.all(np.isfinite(got)) and np.all(got >= 0)
    far_below = np.array([_exponent(s) < -330 for s in REF[column]])
    assert far_below.sum() >= 10
    assert np.all(got[far_below] == 0.0)
    assert np.all(got[~normal] <= TINY)


def test_wavenumber_matches_mpmath_reference():
    ref = _read("planck_wavenumber_reference.csv")
    nu = np.array(ref["wavenumber_cm-1"], dtype=float)
    t = np.array(ref["temperature_K"], dtype=float)
    expected = np.array(ref["radiance_wavenumber"], dtype=float)
    got = planck.spectral_radiance_wavenumber(nu, t)
    normal = expected >= TINY
    assert np.max(np.abs(got[normal] / expected[normal] - 1)) <= 1e-12
    assert np.all(got[expected == 0] == 0)


def test_wavenumber_and_wavelength_forms_agree():
    lam = np.array([1.0, 2.5, 4.78, 12.0])
    t = 650.0
    nu = 1e4 / lam
    # B_nu~ d(nu~) = B_lambda d(lambda): B_nu~ = B_lambda lambda^2 / 1e4
    expected = planck.spectral_radiance(lam, t) * lam**2 / 1e4
    np.testing.assert_allclose(planck.spectral_radiance_wavenumber(nu, t), expected, rtol=1e-12)


def test_brightness_temperature_inverts_radiance():
    b = planck.spectral_radiance(LAM, T)
    normal = b >= TINY
    back = planck.brightness_temperature(LAM[normal], b[normal])
    assert np.max(np.abs(back / T[normal] - 1)) <= 1e-10


@pytest.mark.parametrize("temperature", [30.0, 100.0, 300.0, 1000.0, 1475.0, 5000.0])
def test_stefan_boltzmann_identity(temperature):
    peak = WIEN / temperature

    def integrand(log_lam):
        lam = math.exp(log_lam)
        return float(planck.spectral_radiance(lam, temperature)) * lam

    total, _ = integrate.quad(
        integrand, math.log(peak / 50), math.log(peak * 1e5), limit=400, epsabs=0, epsrel=1e-13
    )
    # the Rayleigh-Jeans tail beyond the upper limit, analytically
    upper = peak * 1e5
    total += C1 * temperature / (3 * C2 * upper**3)
    assert math.pi * total == pytest.approx(STEFAN_BOLTZMANN * temperature**4, rel=1e-9)
    assert planck.exitance(temperature) == pytest.approx(
        STEFAN_BOLTZMANN * temperature**4, rel=1e-15
    )


@pytest.mark.parametrize("temperature", [90.0, 500.0, 1800.0])
def test_wien_displacement(temperature):
    result = optimize.minimize_scalar(
        lambda lam: -float(planck.spectral_radiance(lam, temperature)),
        bracket=(0.5 * WIEN / temperature, WIEN / temperature, 2 * WIEN / temperature),
        tol=1e-12,
    )
    assert result.x * temperature == pytest.approx(2897.771955, rel=1e-7)


def test_rayleigh_jeans_and_wien_limits():
    # x = c2 / (lambda T) = 1e-6: B -> c1 T / (c2 lambda^4) (1 - x/2)
    lam = 1000.0
    t = C2 / (lam * 1e-6)
    rj = C1 * t / (C2 * lam**4)
    assert planck.spectral_radiance(lam, t) == pytest.approx(rj * (1 - 0.5e-6), rel=1e-12)
    # x = 50: B -> c1 / lambda^5 exp(-x) (1 + exp(-x))
    lam, x = 1.0, 50.0
    t = C2 / (lam * x)
    wien = C1 / lam**5 * math.exp(-x)
    assert planck.spectral_radiance(lam, t) == pytest.approx(wien * (1 + math.exp(-x)), rel=1e-13)


def test_derivative_matches_finite_difference():
    lam = np.array([1.0, 2.27, 4.78, 20.0])
    t = np.array([150.0, 400.0, 1200.0, 3000.0])[:, None]
    h = 1e-6 * t
    numeric = (planck.spectral_radiance(lam, t + h) - planck.spectral_radiance(lam, t - h)) / (
        2 * h
    )
    np.testing.assert_allclose(planck.radiance_derivative(lam, t), numeric, rtol=1e-7)


# B_lambda [W m-2 sr-1 um-1] at 1.6, 2.2706, 3.776, 4.67, 4.78 and 5.0 um, derived independently
# with CODATA constants, 5 significant digits.
TABLE_B_LAMBDA = {
    200.0: [3.3781e-13, 3.4323e-08, 8.2559e-04, 1.0946e-02, 1.3889e-02, 2.1505e-02],
    300.0: [1.0903e-06, 1.3247e-03, 4.7290e-01, 1.8591e00, 2.0960e00, 2.6027e00],
    500.0: [1.7566e-01, 6.1854e00, 7.6099e01, 1.1330e02, 1.1625e02, 1.2107e02],
    1000.0: [1.4127e03, 3.5000e03, 3.5131e03, 2.5807e03, 2.4747e03, 2.2726e03],
    1500.0: [2.8370e04, 2.9309e04, 1.3281e04, 7.8874e03, 7.4132e03, 6.5601e03],
}


@pytest.mark.parametrize("temperature", sorted(TABLE_B_LAMBDA))
def test_reference_table_8_1(temperature):
    lam = [1.6, 2.2706, 3.776, 4.67, 4.78, 5.0]
    np.testing.assert_allclose(
        planck.spectral_radiance(lam, temperature), TABLE_B_LAMBDA[temperature], rtol=6e-5
    )


def test_rarog_and_heno_patera():
    """de Pater et al. (2014), Icarus 242:365, doi:10.1016/j.icarus.2014.06.016: single-T fits
    of 15 Aug 2013. Rarog: T ~ 1040 K, A ~ 120 km2, ~500 GW/um/sr at 2-4 um, P ~ 8 TW;
    Heno: T ~ 720 K, A > 300 km2, ~250 at 4 um, ~90 at 2.2 um, P ~ 5-6 TW."""
    area = 120e6
    lam = np.array([1.6, 2.2, 3.0, 3.8, 4.0, 4.7])
    intensity = area * planck.spectral_radiance(lam, 1040.0) / 1e9  # GW um-1 sr-1
    np.testing.assert_allclose(intensity, [240, 516, 590, 486, 454, 347], rtol=3e-3)
    assert 400 < intensity[1:5].min() and intensity[1:5].max() < 600  # "~500 at 2-4 um"
    assert 200 < intensity[0] < 300  # "~250 at 1.6 um"
    assert area * planck.exitance(1040.0) / 1e12 == pytest.approx(7.96, abs=0.01)

    area = 300e6
    heno = area * planck.spectral_radiance([4.0, 2.2], 720.0) / 1e9
    np.testing.assert_allclose(heno, [238, 79], rtol=5e-3)
    assert area * planck.exitance(720.0) / 1e12 == pytest.approx(4.57, abs=0.01)


def test_io_cooling_factor_table():
    """sigma T^4 / B(4.78 um, T) [sr um], the radiance-to-power factor (a derived table)."""
    t = np.array([200.0, 300.0, 500.0, 1000.0])
    ratio = planck.exitance(t) / planck.spectral_radiance(4.78, t)
    np.testing.assert_allclose(ratio, [6532, 219, 30.5, 22.9], rtol=3e-3)


@settings(max_examples=200, deadline=None)
@given(
    lam=st.floats(0.3, 1000.0),
    t1=st.floats(30.0, 5000.0),
    t2=st.floats(30.0, 5000.0),
)
def test_monotone_in_temperature(lam, t1, t2):
    lo, hi = sorted((t1, t2))
    assert planck.spectral_radiance(lam, lo) <= planck.spectral_radiance(lam, hi)


@settings(max_examples=200, deadline=None)
@given(lam=st.floats(0.3, 1000.0), t=st.floats(30.0, 5000.0))
def test_inverse_of_forward(lam, t):
    b = planck.spectral_radiance(lam, t)
    if b >= TINY:
        assert planck.brightness_temperature(lam, b) == pytest.approx(t, rel=1e-10)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: planck.spectral_radiance(0.0, 300.0), "wavelength"),
        (lambda: planck.spectral_radiance([-1.0, 2.0], 300.0), "wavelength"),
        (lambda: planck.spectral_radiance(np.inf, 300.0), "wavelength"),
        (lambda: planck.spectral_radiance(2.0, 0.0), "temperature"),
        (lambda: planck.spectral_radiance(2.0, -5.0), "temperature"),
        # both negative: the product is positive, the fast path must still refuse it
        (lambda: planck.spectral_radiance(-2.0, -500.0), "wavelength"),
        (lambda: planck.spectral_radiance_wavenumber(-2000.0, -500.0), "wavenumber"),
        (lambda: planck.radiance_derivative(np.full(300_000, 2.0), -500.0), "temperature"),
        (lambda: planck.radiance_derivative(2.0, np.inf), "temperature"),
        (lambda: planck.photon_radiance(-2.0, 300.0), "wavelength"),
        (lambda: planck.spectral_radiance_wavenumber(0.0, 300.0), "wavenumber"),
        (lambda: planck.brightness_temperature(2.0, -1.0), "radiance"),
        (lambda: planck.brightness_temperature(0.0, 1.0), "wavelength"),
        (lambda: planck.band_radiance("nirc2_lp", 0.0), "temperature"),
        (lambda: planck.band_brightness_temperature("nirc2_lp", -1.0), "radiance"),
        (lambda: planck.exitance(-1.0), "temperature"),
    ],
)
def test_invalid_input_names_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_invalid_in_large_array_is_reported():
    lam = np.full(300_000, 2.0)
    lam[123_456] = -1.0
    with pytest.raises(ValueError, match=r"wavelength .* 1 invalid value\(s\), e.g. -1.0"):
        planck.spectral_radiance(lam, 300.0)


def test_nan_propagates():
    out = planck.spectral_radiance([np.nan, 2.0, 2.0], [300.0, np.nan, 300.0])
    assert np.isnan(out[0]) and np.isnan(out[1]) and out[2] > 0
    assert np.isnan(planck.brightness_temperature(2.0, np.nan))
    assert np.isnan(planck.band_radiance("nirc2_ms", np.nan))
    assert np.isnan(planck.exitance(np.nan))


def test_underflow_is_exact_zero_without_warning():
    # warnings are errors in this suite (pyproject filterwarnings)
    assert planck.spectral_radiance(0.3, 20.0) == 0.0
    assert planck.radiance_derivative(0.3, 20.0) == 0.0
    assert planck.photon_radiance(0.7, 5.0) == 0.0
    assert planck.band_radiance("nirc2_kc", 5.0) == 0.0
    assert planck.brightness_temperature(2.0, 0.0) == 0.0
    assert planck.band_brightness_temperature("nirc2_lp", 0.0) == 0.0
    # float32 would underflow here (docs/physics.md, Numerical behaviour): float64 keeps it
    assert planck.spectral_radiance(0.7, 90.0) == pytest.approx(4.7e-91, rel=0.05)


def test_shapes_and_scalars():
    out = planck.spectral_radiance(np.array([1.0, 2.0, 3.0]), np.array([[300.0], [600.0]]))
    assert out.shape == (2, 3)
    scalar = planck.spectral_radiance(2.0, 300.0)
    assert np.ndim(scalar) == 0 and isinstance(float(scalar), float)
    assert planck.spectral_radiance([], 300.0).shape == (0,)
    # non-contiguous input
    lam = np.linspace(1, 5, 20)[::2]
    np.testing.assert_array_equal(
        planck.spectral_radiance(lam, 500.0), planck.spectral_radiance(lam.copy(), 500.0)
    )


def test_parallel_and_serial_paths_agree(monkeypatch):
    rng = np.random.default_rng(1)
    lam = rng.uniform(0.5, 20, 250_000)
    t = rng.uniform(50, 3000, 250_000)
    parallel = planck.spectral_radiance(lam, t)
    monkeypatch.setenv("THERMAL_PARALLEL", "0")
    serial = planck.spectral_radiance(lam, t)
    np.testing.assert_array_equal(parallel, serial)


def test_worker_threads_use_the_serial_kernel():
    lam = np.linspace(1, 5, 250_000)
    expected = planck.spectral_radiance(lam, 700.0)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: planck.spectral_radiance(lam, 700.0), range(4)))
    for r in results:
        np.testing.assert_array_equal(r, expected)
    assert threading.active_count() >= 1


def test_dataarrays_keep_dims_and_units():
    wavelength = xr.DataArray([1000.0, 2000.0, 4780.0], dims="wavelength", attrs={"units": "nm"})
    temperature = xr.DataArray([300.0, 900.0], dims="pixel")
    out = planck.spectral_radiance(wavelength, temperature)
    assert out.dims == ("wavelength", "pixel")
    assert out.attrs["units"] == "W m-2 sr-1 um-1"
    np.testing.assert_allclose(
        out.sel(pixel=1).values if "pixel" in out.coords else out[:, 1],
        planck.spectral_radiance([1.0, 2.0, 4.78], 900.0),
        rtol=1e-15,
    )
    tb = planck.brightness_temperature(wavelength, out)
    np.testing.assert_allclose(
        tb.transpose("wavelength", "pixel"), np.broadcast_to([300.0, 900.0], (3, 2)), rtol=1e-10
    )
    assert tb.attrs["units"] == "K"
    band = planck.band_radiance("nirc2_lp", temperature)
    assert band.dims == ("pixel",) and band.attrs["units"] == "W m-2 sr-1 um-1"


def test_dask_backed_dataarray_stays_lazy():
    da = pytest.importorskip("dask.array")
    t = xr.DataArray(da.from_array(np.linspace(200, 1500, 1000), chunks=100), dims="pixel")
    out = planck.spectral_radiance(4.78, t)
    assert out.chunks is not None
    np.testing.assert_allclose(
        out.compute(), planck.spectral_radiance(4.78, np.linspace(200, 1500, 1000))
    )


def test_band_radiance_filter_integration():
    """A derived table: top-hat band mean / B at centre. Lp 1.2405 at 200 K, Ms 1.008."""
    lp = planck.band_radiance("nirc2_lp", [200.0, 300.0, 400.0, 600.0, 1000.0])
    ratio = lp / planck.spectral_radiance(3.776, [200.0, 300.0, 400.0, 600.0, 1000.0])
    np.testing.assert_allclose(ratio, [1.2405, 1.055, 1.009, 0.992, 0.998], atol=1.5e-3)
    ms = planck.band_radiance("nirc2_ms", 200.0) / planck.spectral_radiance(4.670, 200.0)
    assert ms == pytest.approx(1.008, abs=1.5e-3)
    kc = planck.band_radiance("nirc2_kc", 1000.0) / planck.spectral_radiance(2.2706, 1000.0)
    assert abs(kc - 1) < 0.005


@pytest.mark.parametrize("temperature", [120.0, 200.0, 700.0, 2000.0])
def test_band_radiance_matches_adaptive_quadrature(temperature):
    lo, hi = 3.426, 4.126
    exact, _ = integrate.quad(
        lambda lam: float(planck.spectral_radiance(lam, temperature)),
        lo,
        hi,
        epsabs=0,
        epsrel=1e-13,
    )
    assert planck.band_radiance("nirc2_lp", temperature) == pytest.approx(
        exact / (hi - lo), rel=1e-12
    )


def test_band_brightness_temperature_inverts_band_radiance():
    t = np.geomspace(40.0, 5000.0, 200)
    for band in ("nirc2_kc", "nirc2_lp", "nirc2_ms", "jiram_m"):
        back = planck.band_brightness_temperature(band, planck.band_radiance(band, t))
        ok = planck.band_radiance(band, t) >= TINY
        np.testing.assert_allclose(back[ok], t[ok], rtol=1e-10)
