"""Crust growth and surface cooling: Stefan's lambda against mpmath, the conduction solver
against the analytic Stefan solution, grid refinement, tables derived with two independent
solvers, and Davies et al. (2005)'s 10 m ultramafic flow."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from thermal._kernels.crust import stefan_lambda
from thermal.cooling import crust, get_material
from thermal.cooling.crust import cooling_curve, crust_thickness, surface_temperature

MINUTE, HOUR, DAY, YEAR = 60.0, 3600.0, 86400.0, 365.25 * 86400.0

# lambda e^{lambda^2} erf(lambda) = St / sqrt(pi), solved with mpmath at 40 digits
# (mp.findroot)
LAMBDA_MPMATH = {
    1e-6: 0.000707106663335462486888522,
    0.1: 0.2200162727429378616238002,
    0.5: 0.4647859206462444465664969,
    1.0: 0.6200626333135954954777513,
    2.0: 0.8006013628056082614179907,
    3.0: 0.9137512699721844885014868,
    3.75: 0.9772668492694283168010596,
    4.0: 0.9957266333675308760909319,
    5.0: 1.059687014281902400625998,
    50.0: 1.6840052415555004626643,
}


@pytest.mark.parametrize(("st", "expected"), sorted(LAMBDA_MPMATH.items()))
def test_stefan_lambda_solves_its_equation_to_1e_12(st, expected):
    lam = stefan_lambda(st)
    assert lam == pytest.approx(expected, rel=1e-12)
    residual = lam * math.exp(lam * lam) * math.erf(lam) - st / math.sqrt(math.pi)
    assert abs(residual) <= 1e-12 * st / math.sqrt(math.pi)


@pytest.mark.parametrize("st", [1e-3, 0.37, 2.5, 7.0, 20.0])
def test_stefan_lambda_matches_a_live_mpmath_solve(st):
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(40):
        root = mpmath.findroot(
            lambda x: x * mpmath.exp(x * x) * mpmath.erf(x) - st / mpmath.sqrt(mpmath.pi),
            math.sqrt(st / 2) if st < 1 else math.sqrt(math.log(st)),
        )
    assert stefan_lambda(st) == pytest.approx(float(root), rel=1e-12)


AGES = np.array([1, 10, MINUTE, 10 * MINUTE, HOUR, DAY, 10 * DAY, 100 * DAY, YEAR])
# derived for the basalt preset with two independent solvers: (a) Stefan + radiative
# balance, (b) an implicit enthalpy method
TABLE_A = [1399, 1246, 1091, 888, 742, 527, 405, 310, 267]
TABLE_B = [1427, 1291, 1132, 916, 762, 536, 411, 313, 269]
H_A = [0.4e-3, 1.9e-3, 5.6e-3, 2.05e-2, 5.4e-2, 0.286, 0.938, 3.04, 5.87]
H_B = [0.2e-3, 1.3e-3, 4.5e-3, 1.81e-2, 4.9e-2, 0.271, 0.890, 2.94, 5.69]


def test_stefan_model_reproduces_the_derived_table():
    np.testing.assert_allclose(surface_temperature(AGES), TABLE_A, atol=1.0)
    np.testing.assert_allclose(crust_thickness(AGES)[2:], H_A[2:], rtol=0.01)


def test_conduction_model_reproduces_the_derived_table():
    ts = surface_temperature(AGES, model="conduction")
    np.testing.assert_allclose(ts, TABLE_B, atol=2.5)
    h = crust_thickness(AGES[3:], model="conduction")
    # the table does not say where in the 10 K mushy zone its crust ends: 3 %
    np.testing.assert_allclose(h, H_B[3:], rtol=0.03)


def test_stefan_and_conduction_agree_within_5_percent_from_a_minute_to_a_year():
    ages = np.geomspace(MINUTE, YEAR, 60)
    for material in ("basalt", "ultramafic"):
        a = surface_temperature(ages, material)
        b = surface_temperature(ages, material, model="conduction")
        assert np.max(np.abs(a - b) / b) < 0.05


def test_ultramafic_derived_table():
    ages = np.array([1, MINUTE, HOUR, DAY, 100 * DAY, YEAR])
    np.testing.assert_allclose(
        surface_temperature(ages, "ultramafic"), [1616, 1200, 799, 563, 329, 283], atol=1.0
    )
    np.testing.assert_allclose(
        surface_temperature(ages[1:], "ultramafic", model="conduction"),
        [1242, 818, 572, 332, 285],
        atol=3.0,
    )


def test_conduction_with_fixed_surface_matches_the_analytic_stefan_front():
    """Surface held at 300 K, 0.5 K melting interval: h = 2 lambda sqrt(kappa t) within 0.5 %."""
    m = get_material("basalt", solidus=1474.5)
    ages, _, h, _ = crust._conduction(m, None, t_fixed=300.0)
    lam = stefan_lambda(m.heat_capacity * (m.eruption_temperature - 300.0) / m.latent_heat)
    keep = (ages >= 1.0) & (ages <= 10 * YEAR)  # front well inside the 60 m domain
    analytic = 2 * lam * np.sqrt(m.diffusivity * ages[keep])
    assert np.max(np.abs(h[keep] / analytic - 1)) < 0.005


def test_grid_refinement_changes_surface_temperature_by_less_than_0p1_percent():
    m = get_material("basalt")
    ages, ts1, _, _ = crust._conduction(m, None)
    _, ts2, _, _ = crust._conduction(m, None, refine=2)  # half dz, half dt
    keep = (ages >= MINUTE) & (ages <= YEAR)
    assert np.max(np.abs(ts2[keep] / ts1[keep] - 1)) < 1e-3


def test_ten_metre_ultramafic_flow_solidifies_as_davies_2005():
    """Davies et al. 2005 (Icarus 176:123, doi:10.1016/j.icarus.2005.01.015): a 10 m
    ultramafic flow solidifies in ~450 days with the surface near 280 K, and takes another
    390 days to cool to 249 K.

    Parameters: the ``ultramafic`` preset (eruption and liquidus 1800 K, k 1 W m-1 K-1,
    rho 2800 kg m-3, c_p 1500 J kg-1 K-1, L 4e5 J kg-1, eps 1, T_bg 100 K) with a solidus of
    1600 K (a 200 K melting interval, [recalled] for ultramafic lava), on ground of the same
    rock at 100 K; solid means every point of the flow below the solidus.
    """
    curve = cooling_curve("ultramafic", "conduction", thickness=10.0, solidus=1600.0)
    days = curve.solidification_age / DAY
    assert 360 <= days <= 540
    assert float(curve.temperature_at(curve.solidification_age)) == pytest.approx(280, abs=10)
    assert float(curve.temperature_at(840 * DAY)) == pytest.approx(249, abs=10)
    assert float(curve.thickness_at(840 * DAY)) == 10.0  # solid: crust capped at the flow
    # thin flows solidify sooner, thick ones later; the semi-infinite body never
    thin = cooling_curve("ultramafic", "conduction", thickness=3.0, solidus=1600.0)
    assert thin.solidification_age < curve.solidification_age
    assert math.isnan(cooling_curve("ultramafic", "conduction").solidification_age)


def test_finite_flow_cools_faster_than_semi_infinite_after_solidifying():
    finite = surface_temperature(3 * YEAR, "ultramafic", "conduction", thickness=10.0)
    semi = surface_temperature(3 * YEAR, "ultramafic", "conduction")
    assert finite < semi


def test_hon_1994_law():
    """Hon et al. 1994: T = 303 - 140 log10(t [h]) degC (decimal log as PyFLOWGO),
    h = 0.0779 sqrt(t [h]) m (8.3 Hon row)."""
    assert surface_temperature(HOUR, "basalt_hawaii", "hon") == pytest.approx(303 + 273.15)
    np.testing.assert_allclose(
        surface_temperature([0.1 * HOUR, 10 * HOUR], "basalt_hawaii", "hon"),
        [443 + 273.15, 163 + 273.15],
    )
    np.testing.assert_allclose(
        crust_thickness(AGES, "basalt_hawaii", "hon"),
        [1.3e-3, 4.1e-3, 1.0e-2, 3.2e-2, 7.8e-2, 0.382, 1.21, 3.82, 7.29],
        rtol=0.03,
    )
    t1 = 303 + 140 * math.log10(3600) + 273.15  # 1074 K at 1 s
    assert surface_temperature(1.0, "basalt_hawaii", "hon") == pytest.approx(t1)
    assert surface_temperature(1e-3, "basalt_hawaii", "hon") == 1387.15  # capped
    assert surface_temperature(YEAR, "basalt_hawaii", "hon") == 300.0  # at the background


def test_atmosphere_cools_the_surface_faster():
    dry = surface_temperature(HOUR, "basalt_hawaii", convective_coefficient=0.0)
    wet = surface_temperature(HOUR, "basalt_hawaii")
    assert wet < dry


@pytest.mark.parametrize("model", ["stefan", "conduction", "hon", "howell"])
def test_age_zero_and_nan_in_every_model(model):
    assert surface_temperature(0.0, model=model) == 1475.0
    assert np.isnan(surface_temperature(np.nan, model=model))
    values = surface_temperature([np.nan, 0.0, 3600.0], model=model)
    assert np.isnan(values[0]) and values[1] == 1475.0 and 100.0 < values[2] < 1475.0


def test_age_zero_nan_and_xarray():
    assert surface_temperature(0.0) == 1475.0
    assert crust_thickness(0.0) == 0.0
    assert np.isnan(surface_temperature(np.nan))
    da = xr.DataArray([60.0, 3600.0], dims="age", attrs={"units": "s"})
    out = surface_temperature(da, model="conduction")
    assert out.attrs["units"] == "K"
    assert out.dims == ("age",)


def test_curves_are_cached_and_interpolate_smoothly():
    a = cooling_curve("basalt", "conduction")
    assert cooling_curve("basalt", "conduction") is a
    assert cooling_curve("basalt", "conduction", conductivity=0.9) is not a
    # log-age interpolation midway between every tabulated age up to 1e9 s errs < 1e-4
    # (measured ~1e-5) against the directly solved stefan model
    for material in ("basalt", "ultramafic", "basalt_hawaii"):
        grid = cooling_curve(material).age[1:]
        mid = np.sqrt(grid[:-1] * grid[1:])
        mid = mid[mid <= 1e9]
        exact = surface_temperature(mid, material)
        curve = cooling_curve(material).temperature_at(mid)
        assert np.max(np.abs(curve / exact - 1)) < 1e-4


def test_semi_infinite_conduction_domain_is_deep_enough_to_the_last_age():
    last = crust.LAST_AGE
    a = crust_thickness(last)
    b = crust_thickness(last, model="conduction")
    assert b == pytest.approx(a, rel=0.02)  # ~107 m: the front never reaches the bottom


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: surface_temperature(-1.0), "age"),
        (lambda: surface_temperature(1.0, model="magic"), "model"),
        (lambda: surface_temperature(1.0, model="conduction", thickness=0.0), "thickness"),
        (lambda: surface_temperature(1.0, model="conduction", thickness=-2.0), "thickness"),
        (lambda: surface_temperature(1.0, thickness=5.0), "thickness"),
        (lambda: surface_temperature(1.0, solidus=1500.0), "solidus"),
        (lambda: surface_temperature(1.0, latent_heat=0.0), "latent_heat"),
        (lambda: surface_temperature(1.0, viscosity=1e3), "unknown"),
        (lambda: surface_temperature(1.0, "granite"), "material"),
    ],
)
def test_invalid_parameters_raise_naming_them(call, match):
    with pytest.raises(ValueError, match=match):
        call()
