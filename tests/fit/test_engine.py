"""The batch fit engine: published and derived numbers, the global optimum against an
independent scipy reference, uncertainties, dask, and bad input that never stops a batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from tests.fit.reference import reaches_optimum, reference_cost, two_temperature_population
from thermal import planck, simulate
from thermal.constants import STEFAN_BOLTZMANN
from thermal.fit import Status, fit_arrays, fit_spectra
from thermal.fit.engine import Channels
from thermal.models import MultiBlackbody
from thermal.status import messages

KECK = ["nirc2_kc", "nirc2_lp", "nirc2_ms"]
GW = 1e9


def photometry(values, uncertainty, bands=KECK, unit="GW um-1 sr-1"):
    values = np.atleast_2d(np.asarray(values, float))
    unc = np.broadcast_to(np.asarray(uncertainty, float), values.shape)
    return xr.Dataset(
        {
            "intensity": (("spectrum", "band"), values, {"units": unit}),
            "intensity_uncertainty": (("spectrum", "band"), unc, {"units": unit}),
        },
        coords={"band": bands},
    )


def two_temperature(n, seed, channels=17):
    return two_temperature_population(n, channels, seed)


# --- published and derived numbers ---------------------------------------------------------


def test_test_vector_single_temperature_bias():
    """1T fits to two Keck bands of a 2T source are biased low in power.

    The two-temperature test vector is derived independently, monochromatic at the band
    centres (Kc 2.2706, Lp 3.776, Ms 4.67 um).
    """

    def centres(values, wavelength):
        return xr.Dataset(
            {
                "intensity": (("spectrum", "wavelength"), [values], {"units": "GW um-1 sr-1"}),
                "intensity_uncertainty": (("spectrum", "wavelength"), [[0.01, 0.01]]),
            },
            coords={"wavelength": wavelength},
        )

    lp_ms = centres([5.3401, 5.6527], [3.776, 4.67])
    kc_lp = centres([5.1390, 5.3401], [2.2706, 3.776])
    a = fit_spectra(lp_ms, model="1T").isel(spectrum=0, component=0)
    b = fit_spectra(kc_lp, model="1T").isel(spectrum=0, component=0)
    assert a.temperature == pytest.approx(655.2, rel=2e-3)
    assert a.area == pytest.approx(11.51e6, rel=5e-3)
    assert a.power == pytest.approx(120.3e9, rel=5e-3)
    assert b.temperature == pytest.approx(986.1, rel=2e-3)
    assert b.power == pytest.approx(86.1e9, rel=5e-3)


def test_test_vector_two_temperatures_underdetermined_in_three_bands():
    """Three bands cannot constrain four parameters: a status, not an invented result."""
    res = fit_spectra(photometry([[5.1390, 5.3401, 5.6527]], 0.05), model="2T")
    assert Status(int(res.status[0])) == Status.NOT_ENOUGH_CHANNELS
    assert np.isnan(res.temperature).all()


@pytest.mark.parametrize("temperature", [350.0, 700.0, 1040.0, 1600.0])
@pytest.mark.parametrize("area", [1e5, 1.2e8])
def test_noiseless_keck_photometry_recovers_one_temperature(temperature, area):
    values = [area * float(planck.band_radiance(b, temperature)) for b in KECK]
    obs = photometry([values], np.array(values) * 0.01, unit="W sr-1 um-1")
    res = fit_spectra(obs, model="1T").isel(spectrum=0, component=0)
    assert int(res.status) == 0
    assert float(res.temperature) == pytest.approx(temperature, rel=1e-6)
    assert float(res.area) == pytest.approx(area, rel=1e-6)
    assert float(res.power) == pytest.approx(STEFAN_BOLTZMANN * temperature**4 * area, rel=4e-6)


def test_rarog_and_heno_reproduce_de_pater_2014():
    """de Pater et al. 2014 (doi:10.1016/j.icarus.2014.06.019): Rarog ~1040 K, ~120 km2,
    ~8 TW; Heno ~720 K, > 300 km2, 5-6 TW, from the published intensities."""
    rarog = photometry(
        [[240, 516, 590, 486, 454, 347]],
        [[24, 52, 59, 49, 45, 35]],
        ["nirc2_h", "nirc2_kc", "nirc2_h2o", "nirc2_lp", "nirc2_bracont", "nirc2_ms"],
    )
    res = fit_spectra(rarog, model="1T").isel(spectrum=0, component=0)
    assert float(res.temperature) == pytest.approx(1040, rel=0.03)
    assert float(res.area) == pytest.approx(120e6, rel=0.1)
    assert float(res.power) == pytest.approx(7.96e12, rel=0.05)


def test_two_temperature_spectrum_noiseless_recovery():
    lam = np.linspace(1.0, 5.2, 17)
    obs = simulate.observation([1200.0, 450.0], [0.5e6, 60e6], wavelength=lam, noise=0.0)
    res = fit_spectra(obs, model="2T").isel(spectrum=0)
    assert int(res.status) == 0
    np.testing.assert_allclose(res.temperature, [1200.0, 450.0], rtol=1e-6)
    np.testing.assert_allclose(res.area, [0.5e6, 60e6], rtol=1e-5)
    assert float(res.power) == pytest.approx(198.3e9, rel=1e-3)


# --- the global optimum ----------------------------------------------------------------------


OPTIMUM_CASES = Path(__file__).parents[1] / "data" / "optimum_cases.npz"


@pytest.fixture(scope="module")
def optimum_cases():
    """300 spectra of the benchmark population with the reference optimum, 100 of them the
    hardest (tests/data/make_optimum_cases.py)."""
    with np.load(OPTIMUM_CASES) as cases:
        return dict(cases)


def test_reaches_the_optimum_on_the_hardest_spectra(optimum_cases):
    """Every stored spectrum's fit reaches a cost no higher than the dense-grid +
    least_squares reference: 100 that earlier kernels missed (every kernel from 3888b55 to
    87ba995 misses 1-18 of them) and 200 drawn at random. The rate over 15,000 spectra
    (goal >= 99.9 %) is measured by ``python -m benchmarks --only optimum``."""
    c = optimum_cases
    chi2 = fit_arrays(c["y"], c["sigma"], Channels.from_wavelength(c["wavelength"]))[4]
    missed = np.flatnonzero(~reaches_optimum(chi2, c["reference"]))
    assert missed.size == 0, [
        (int(c["seed"][k]), int(c["index"][k]), float(chi2[k]), float(c["reference"][k]))
        for k in missed
    ]


def test_stored_optimum_cases_are_the_population_and_its_reference(optimum_cases):
    """The stored spectra are those of the population they name, and a sample of their stored
    optima is what the reference finds today (it shares no code with the engine)."""
    c = optimum_cases
    for seed in np.unique(c["seed"]):
        lam, y, sigma, _ = two_temperature(5000, seed=int(seed))
        rows = c["index"][c["seed"] == seed]
        np.testing.assert_array_equal(c["wavelength"], lam)
        np.testing.assert_allclose(c["y"][c["seed"] == seed], y[rows], rtol=1e-12)
        np.testing.assert_allclose(c["sigma"][c["seed"] == seed], sigma[rows], rtol=1e-12)
    sample = np.r_[0:100:20, 100:300:40]  # 5 hard, 5 drawn at random
    assert c["hard"][sample[:5]].all() and not c["hard"][sample[5:]].any()
    ref = reference_cost(c["wavelength"], c["y"][sample], c["sigma"][sample])
    np.testing.assert_allclose(ref, c["reference"][sample], rtol=1e-6)  # the reach tolerance


def test_batch_results_do_not_depend_on_the_batch():
    """Scratch arrays are reused from spectrum to spectrum (chunks of 64): every output of every
    spectrum, bad ones among them, is bit-identical whatever its neighbours and position."""
    lam, y, sigma, _ = two_temperature(200, seed=3)
    y[5] = np.nan  # no data
    sigma[70, 3] = -1.0  # invalid uncertainty
    y[130, :15] = np.nan  # not enough channels
    ch = Channels.from_wavelength(lam)
    for model in ("2T", MultiBlackbody(2, background=True)):
        whole = fit_arrays(y, sigma, ch, model)
        backwards = fit_arrays(y[::-1], sigma[::-1], ch, model)
        for a, b in zip(whole, backwards, strict=True):
            np.testing.assert_array_equal(a, b[::-1])
        for i in (0, 5, 6, 63, 64, 70, 71, 130, 131, 199):
            alone = fit_arrays(y[i : i + 1], sigma[i : i + 1], ch, model)
            for a, b in zip(whole, alone, strict=True):
                np.testing.assert_array_equal(a[i], b[0])


# --- uncertainties ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def population():
    """10,000 fits of the issue's 2T population with the truth."""
    lam, y, sigma, (th, tc, ah, ac) = two_temperature(10_000, seed=11)
    obs = xr.Dataset(
        {
            "intensity": (("spectrum", "wavelength"), y, {"units": "W sr-1 um-1"}),
            "intensity_uncertainty": (("spectrum", "wavelength"), sigma),
        },
        coords={"wavelength": lam},
    )
    return (
        fit_spectra(obs, model="2T", intervals="profile"),
        th,
        STEFAN_BOLTZMANN * (th**4 * ah + tc**4 * ac),
    )


def test_temperature_intervals_cover_the_truth_where_the_fit_is_well_constrained(population):
    """Converged fits with T_hot known to better than 0.3 %: the 1-sigma interval of T_hot
    contains the truth 68 +- 3 % of the time (the linearised covariance is exact enough)."""
    res, th, _ = population
    t = res.temperature.values[:, 0]
    dt = res.temperature_uncertainty.values[:, 0]
    good = (res.status.values == 0) & (dt / t < 3e-3)
    assert good.sum() > 2000
    assert 0.65 <= np.mean(np.abs(t - th)[good] <= dt[good]) <= 0.71


def test_profile_intervals_cover_the_truth_over_the_whole_population(population):
    """The issue's acceptance: T_hot and power 1-sigma intervals cover 68 +- 3 % over 10,000
    spectra, every fit that has an optimum counted (converged and at a bound alike)."""
    res, th, p_true = population
    lo, hi = res.temperature_lower.values[:, 0], res.temperature_upper.values[:, 0]
    ok = np.isfinite(lo)
    assert ok.sum() > 9900
    cover_t = np.mean((lo[ok] <= th[ok]) & (th[ok] <= hi[ok]))
    p_lo, p_hi = res.power_lower.values[ok], res.power_upper.values[ok]
    cover_p = np.mean((p_lo <= p_true[ok]) & (p_true[ok] <= p_hi))
    assert 0.65 <= cover_t <= 0.71
    assert 0.65 <= cover_p <= 0.71


def test_linear_intervals_over_cover_where_a_component_is_unseen(population):
    """Why the profile intervals exist: the linearised T_hot interval over converged fits covers
    more than 71 % (the cold component's poorly determined direction inflates it)."""
    res, th, _ = population
    ok = res.status.values == 0
    t = res.temperature.values[ok, 0]
    assert np.mean(np.abs(t - th[ok]) <= res.temperature_uncertainty.values[ok, 0]) > 0.71


def test_profile_interval_ends_are_where_chi2_rises_by_one():
    """Independent check: a global fit with T_hot fixed at an end of its profile interval (the
    cold component free below it) has chi2 = chi2_min + 1; near the optimum the profile
    interval matches the linearised one."""
    lam = np.linspace(1.0, 5.2, 17)
    obs = simulate.observation([1150.0, 420.0], [2e6, 8e7], wavelength=lam, n=3, seed=21)
    res = fit_spectra(obs, model="2T", intervals="profile")
    for i in range(3):
        r = res.isel(spectrum=i)
        assert int(r.status) == 0
        for end in (float(r.temperature_lower[0]), float(r.temperature_upper[0])):
            pinned = MultiBlackbody(2, fixed={0: end}, bounds={1: (100.0, end)})
            chi2 = float(fit_spectra(obs.isel(spectrum=[i]), pinned).chi2[0])
            assert chi2 == pytest.approx(float(r.chi2) + 1.0, abs=2e-3)
        half = 0.5 * float(r.temperature_upper[0] - r.temperature_lower[0])
        assert half == pytest.approx(float(r.temperature_uncertainty[0]), rel=0.05)
        assert r.temperature_lower[0] < r.temperature[0] < r.temperature_upper[0]
        assert r.power_lower < r.power < r.power_upper


def test_power_profile_interval_of_one_temperature_matches_a_direct_scan():
    """1T: with the power held at P the area is P / (sigma T^4), so the profile is a 1-D
    minimisation over T that scipy does independently; it equals chi2_min + 1 at both ends."""
    from scipy.optimize import minimize_scalar

    lam = np.linspace(1.0, 5.2, 12)
    obs = simulate.observation([900.0], [3e6], wavelength=lam, n=1, seed=5, noise=0.05)
    res = fit_spectra(obs, model="1T", intervals="profile").isel(spectrum=0)
    y = obs.intensity.values[0]
    s = obs.intensity_uncertainty.values[0]

    def profile(p):
        def chi2(t):
            a = p / (STEFAN_BOLTZMANN * t**4)
            return np.sum(((y - a * planck.spectral_radiance(lam, t)) / s) ** 2)

        t0 = float(res.temperature[0])
        return minimize_scalar(chi2, bounds=(0.8 * t0, 1.25 * t0), method="bounded",
                               options={"xatol": 1e-9}).fun  # fmt: skip

    for end in (float(res.power_lower), float(res.power_upper)):
        assert profile(end) == pytest.approx(float(res.chi2) + 1.0, abs=2e-3)
    assert res.power_lower < res.power < res.power_upper


def test_unknown_intervals_option_raises():
    obs = photometry([[1.0, 2.0, 3.0]], 0.1)
    with pytest.raises(ValueError, match="intervals"):
        fit_spectra(obs, model="1T", intervals="bayes")


def test_covariance_is_symmetric_and_matches_uncertainties():
    lam = np.linspace(1.0, 5.2, 30)
    obs = simulate.observation([1100.0, 400.0], [1e6, 1e8], wavelength=lam, n=5, seed=2)
    res = fit_spectra(obs, model="2T", store="covariance")
    cov = res.covariance.values
    np.testing.assert_allclose(cov, np.swapaxes(cov, -1, -2))
    diag = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
    np.testing.assert_allclose(diag[:, :2], res.temperature_uncertainty.values, rtol=1e-12)
    np.testing.assert_allclose(diag[:, 2:], res.area_uncertainty.values, rtol=1e-12)
    assert (res.dof == 30 - 4).all()
    assert np.allclose(res.aic, res.chi2 + 8)


# --- bad input -------------------------------------------------------------------------------


def test_bad_spectra_are_flagged_and_the_others_unaffected():
    lam = np.linspace(1.0, 5.2, 17)
    obs = simulate.observation([1100.0, 450.0], [1e6, 5e7], wavelength=lam, n=6, seed=4)
    clean = fit_spectra(obs, model="2T")
    bad = obs.copy(deep=True)
    bad["intensity"][1, :] = np.nan  # all NaN
    bad["intensity"][2, 1:] = np.nan  # one channel left
    bad["intensity_uncertainty"][3, 5] = 0.0  # zero uncertainty
    bad["intensity_uncertainty"][4, 2] = -1.0  # negative uncertainty
    res = fit_spectra(bad, model="2T")
    names = [Status(int(s)).meaning for s in res.status]
    assert names[1] == "no_data"
    assert names[2] == "not_enough_channels"
    assert names[3] == names[4] == "invalid_uncertainty"
    for i in (0, 5):
        xr.testing.assert_identical(
            _no_history(res.isel(spectrum=i)), _no_history(clean.isel(spectrum=i))
        )
    assert "missing" in messages(res.status)[1] and "channel" in messages(res.status)[2]
    assert "message" not in res  # words come from the status enum, not per spectrum


@pytest.mark.parametrize("unit", [1.0, 1e-9])
def test_a_component_the_data_do_not_need_is_at_bound_in_any_unit(unit):
    """2T on a noise-free 1T spectrum: the second area comes out tiny but, by rounding, not
    exactly 0. Its share of the model is far below the noise, so the fit is at_bound, whatever
    the data's unit, and the unconstrained temperature gets no uncertainty."""
    lam = np.linspace(1.0, 5.0, 12)
    y = 1e6 * planck.spectral_radiance(lam, 900.0) * unit
    result = fit_spectra(
        xr.Dataset(
            {"intensity": ("wavelength", y), "intensity_uncertainty": ("wavelength", 0.01 * y)},
            coords={"wavelength": ("wavelength", lam, {"units": "um"})},
        ),
        model="2T",
    )
    assert int(result.status) == Status.AT_BOUND
    assert float(result.temperature[0]) == pytest.approx(900.0, rel=1e-9)
    # the second component adds less than 1e-6 sigma anywhere (not exactly 0)
    second = float(result.area[1]) * planck.spectral_radiance(lam, float(result.temperature[1]))
    assert 0.0 < np.abs(second / (0.01 * y)).max() < 1e-6
    assert np.isnan(float(result.temperature_uncertainty[1]))


def test_inconsistent_units_raise_naming_the_variable():
    obs = photometry([[1.0, 2.0, 3.0]], 0.1)
    obs["intensity_uncertainty"].attrs["units"] = "K"
    with pytest.raises(ValueError, match="intensity_uncertainty"):
        fit_spectra(obs, model="1T")


def test_unknown_band_raises_naming_it():
    with pytest.raises(ValueError, match="nirc2_zz"):
        fit_spectra(photometry([[1.0, 2.0]], 0.1, ["nirc2_kc", "nirc2_zz"]), model="1T")


@pytest.mark.parametrize(
    ("wavelength", "message"),
    [
        ([1.5, 2.0, 2.0, 3.0], "'wavelength' coordinate: duplicate wavelength 2 um"),
        ([1.5, 3.0, 2.0, 4.0], "'wavelength' coordinate: wavelengths are not increasing"),
        ([1.5, np.nan, 2.0, 4.0], "'wavelength' coordinate: .*non-finite"),
        ([-1.5, 1.0, 2.0, 4.0], r"'wavelength' coordinate: wavelength must be > 0"),
    ],
)
def test_observations_in_memory_get_the_checks_files_get(wavelength, message, tmp_path):
    """The fit checks a Dataset's coordinate as a reader checks a file's: the same layout."""
    from thermal.io import InputError, open_observation

    y = 1e6 * planck.spectral_radiance(np.abs(np.nan_to_num(wavelength, nan=2.5)), 900.0)
    obs = xr.Dataset(
        {"intensity": (("wavelength",), y), "intensity_uncertainty": (("wavelength",), 0.1 * y)},
        coords={"wavelength": ("wavelength", wavelength, {"units": "um"})},
    )
    with pytest.raises(ValueError, match=message):
        fit_spectra(obs, model="1T")
    obs.to_netcdf(tmp_path / "obs.nc")
    with pytest.raises(InputError, match=message.split(": ", 1)[1]):
        open_observation(tmp_path / "obs.nc")


def test_a_spectral_dimension_without_coordinate_values_is_named():
    obs = xr.Dataset(
        {
            "intensity": ("wavelength", np.ones(4)),
            "intensity_uncertainty": ("wavelength", np.ones(4)),
        }
    )
    with pytest.raises(ValueError, match="'wavelength' dimension has no coordinate values"):
        fit_spectra(obs, model="1T")


def test_repeated_band_names_raise():
    with pytest.raises(ValueError, match="'band' coordinate: duplicate band names"):
        fit_spectra(photometry([[1.0, 2.0, 3.0]], 0.1, ["nirc2_kc", "nirc2_lp", "NIRC2_LP"]), "1T")


def test_fit_arrays_refuses_what_it_cannot_fit_with_a_value_error():
    channels = Channels.from_wavelength([1.0, 2.0, 3.0, 4.0])
    for model in ("auto", "flow"):
        with pytest.raises(ValueError, match="model: fit_arrays fits multi-blackbody models"):
            fit_arrays(np.ones(4), np.ones(4), channels, model)
    with pytest.raises(ValueError, match="channels last"):
        fit_arrays(1.0, 1.0, channels, "1T")
    with pytest.raises(ValueError, match="do not broadcast"):
        fit_arrays(np.ones((2, 4)), np.ones((3, 4)), channels, "1T")


def test_unknown_model_raises():
    with pytest.raises(ValueError, match="model"):
        fit_spectra(photometry([[1.0, 2.0, 3.0]], 0.1), model="4T")


# --- dask ------------------------------------------------------------------------------------


def _batch_observation():
    lam = np.linspace(1.0, 5.2, 17)
    rng = np.random.default_rng(5)
    n = 400
    t = np.column_stack([rng.uniform(800, 1400, n), rng.uniform(300, 550, n)])
    a = np.column_stack([10 ** rng.uniform(5, 6.5, n), 10 ** rng.uniform(7, 8.5, n)])
    return simulate.observation(t, a, wavelength=lam, seed=5)


def _no_history(ds):
    return ds.assign_attrs(history="")  # a time stamp


@pytest.mark.parametrize("intervals", ["linear", "profile"])
def test_dask_backed_fit_is_lazy_and_identical(intervals):
    obs = _batch_observation()
    if intervals == "profile":
        obs = obs.isel(spectrum=slice(0, 200))
    eager = fit_spectra(obs, model="2T", intervals=intervals)
    lazy = fit_spectra(obs.chunk({"spectrum": 100}), model="2T", intervals=intervals)
    assert lazy.temperature.chunks is not None
    xr.testing.assert_identical(_no_history(lazy.compute()), _no_history(eager))


def test_local_cluster_with_two_processes_gives_identical_results():
    distributed = pytest.importorskip("distributed")
    obs = _batch_observation()
    eager = fit_spectra(obs, model="2T")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert client.scheduler_info()["workers"]
        remote = fit_spectra(obs.chunk({"spectrum": 100}), model="2T").compute()
    xr.testing.assert_identical(_no_history(remote), _no_history(eager))


def test_dask_backed_fit_stores_covariance_and_model_like_the_eager_one():
    obs = _batch_observation().isel(spectrum=slice(0, 150))
    store = ("covariance", "model")
    eager = fit_spectra(obs, model="2T", store=store)
    lazy = fit_spectra(obs.chunk({"spectrum": 50}), model="2T", store=store)
    assert lazy.covariance.chunks is not None
    assert set(eager.data_vars) >= {"covariance", "model_intensity", "temperature"}
    xr.testing.assert_identical(_no_history(lazy.compute()), _no_history(eager))
    lean = fit_spectra(obs, model="2T")
    assert "covariance" not in lean and "model_intensity" not in lean and "param" not in lean.dims


# --- guards: limb and plausibility -----------------------------------------------------------


def test_spectra_beyond_the_limb_limit_get_no_area_or_power():
    lam = np.linspace(1.5, 5.0, 12)
    obs = simulate.observation([900.0], [1e6], wavelength=lam, n=4, seed=1)
    obs["emission_angle"] = ("spectrum", [0.0, 79.9, 89.9, np.nan], {"units": "degree"})
    res = fit_spectra(obs, model="1T")
    assert [Status(int(s)) for s in res.status] == [
        Status.CONVERGED, Status.CONVERGED, Status.LIMB, Status.CONVERGED,
    ]  # fmt: skip
    assert np.isnan(res.power[2]) and np.isnan(res.area[2]).all()
    assert np.isfinite(res.power[[0, 1, 3]]).all()
    relaxed = fit_spectra(obs, model="1T", max_emission_angle=90.0)
    assert int(relaxed.status[2]) == Status.CONVERGED
    with pytest.raises(ValueError, match="max_emission_angle"):
        fit_spectra(obs, model="1T", max_emission_angle=120.0)


def test_impossible_geometry_flags_its_spectrum_and_no_other():
    """A pixel area that is not > 0 (or NaN) and an emission angle outside [0, 90] degrees are
    invalid_data with no area or power; an unknown (NaN) angle is no reason to flag."""
    from thermal.fit import fit

    lam = np.linspace(1.0, 5.0, 12)
    y = planck.spectral_radiance(lam, 900.0) * np.ones((6, 1))
    result = fit(
        lam, y, 0.01 * y, "1T", kind="radiance",
        pixel_area=[1e6, 0.0, np.nan, -1e6, 1e6, 1e6],
        emission_angle=[0.0, 0.0, 0.0, 0.0, -5.0, np.nan],
    )  # fmt: skip
    bad = Status.INVALID_DATA
    np.testing.assert_array_equal(result.status, [0, bad, bad, bad, bad, 0])
    assert np.isnan(result.area.values[1:5]).all() and np.isnan(result.power.values[1:5]).all()
    np.testing.assert_allclose(result.area.values[[0, 5], 0], 1e6, rtol=1e-9)
    assert "pixel area not > 0" in bad.message


def test_a_fit_the_data_reject_is_poor_fit_not_converged():
    """1200 K + 450 K in three bands (the docs' simulate example): two temperatures need four
    parameters, and one leaves a chi-square of ~120 on 1 degree of freedom (the truth's power
    70 of its sigmas away). That is poor_fit, with its numbers kept, never converged."""
    names = ["nirc2_kc", "nirc2_lp", "nirc2_ms"]
    two = simulate.observation([1200.0, 450.0], [0.5e6, 60e6], bands=names, seed=0)
    for model in ("auto", "1T"):
        res = fit_spectra(two, model=model)
        assert int(res.status[0]) == Status.POOR_FIT, model
        assert float(res.chi2[0]) > 50 and int(res.dof[0]) == 1
        assert np.isfinite(res.power.values[0])
    # one temperature seen in the same bands with the same noise fits: converged
    one = simulate.observation([1200.0], [0.5e6], bands=names, n=200, seed=1)
    assert np.all(fit_spectra(one, model="1T").status.values == Status.CONVERGED)
    # the threshold is the 5-sigma tail of chi2 for the fit's dof (4 here: chi2 ~ 37)
    lam = np.linspace(1.5, 5.0, 6)
    y = 1e6 * planck.spectral_radiance(lam, 1000.0)
    shift = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    scale = np.linspace(1.5, 4.0, 40)[:, None]
    obs = xr.Dataset(
        {"intensity": (("spectrum", "wavelength"), y * (1 + 0.01 * shift * scale),
                       {"units": "W sr-1 um-1"}),
         "intensity_uncertainty": (("spectrum", "wavelength"), 0.01 * y * np.ones_like(scale))},
        coords={"wavelength": lam},
    )  # fmt: skip
    res = fit_spectra(obs, model="1T")
    tail = stats.chi2.sf(res.chi2.values, res.dof.values)
    assert np.all(res.dof.values == 4)
    assert np.array_equal(res.status.values == Status.POOR_FIT, tail < 2.866515718791933e-07)
    assert np.all(np.isin(res.status.values, [Status.CONVERGED, Status.POOR_FIT]))
    assert 5 < np.count_nonzero(res.status.values == Status.POOR_FIT) < 35


def test_the_result_says_what_its_areas_are():
    lam = np.linspace(1.5, 5.0, 12)
    intensity = simulate.observation([900.0], [1e6], wavelength=lam, n=1, seed=2)
    basis = fit_spectra(intensity, model="1T").attrs["thermal_area_basis"]
    assert basis.startswith("area = intensity / (emissivity B_lambda(T)): the area as projected")
    radiance = simulate.observation([900.0], [1e6], wavelength=lam, seed=3, pixel_area=4e8)
    radiance["pixel_area"].attrs["long_name"] = "surface area of the pixel footprint"
    basis = fit_spectra(radiance, model="1T").attrs["thermal_area_basis"]
    assert basis == ("area = area fraction of the pixel x pixel_area (surface area of the pixel "
                     "footprint, 4e+08 m2, from the input)")  # fmt: skip
    fraction = fit_spectra(radiance.drop_vars("pixel_area"), model="1T")
    assert fraction.attrs["thermal_area_basis"].startswith("area_fraction = radiance")


def test_solutions_larger_than_io_or_the_pixel_are_implausible():
    lam = np.linspace(1.5, 5.0, 12)
    big = simulate.observation([300.0], [2e13], wavelength=lam, n=1, seed=2)  # > Io's disk
    assert int(fit_spectra(big, model="1T").status[0]) == Status.IMPLAUSIBLE
    # radiance of a 900 K surface over 1 km2, and over twice the 400 km2 pixel it is seen in
    pixels = simulate.observation(
        [[900.0], [900.0]], [[1e6], [8e8]], wavelength=lam, seed=3, pixel_area=4e8
    )
    res = fit_spectra(pixels, model="1T")
    assert [Status(int(s)) for s in res.status] == [Status.CONVERGED, Status.IMPLAUSIBLE]
    assert res.area.attrs["units"] == "m2"


def test_large_batches_are_fitted_in_blocks_with_the_same_results(monkeypatch):
    from thermal.fit import engine

    obs = _batch_observation()
    whole = fit_spectra(obs, model="2T", store="covariance")
    monkeypatch.setattr(engine, "BLOCK", 70)  # 400 spectra in 6 blocks
    blocks = fit_spectra(obs, model="2T", store="covariance")
    xr.testing.assert_identical(_no_history(blocks), _no_history(whole))
