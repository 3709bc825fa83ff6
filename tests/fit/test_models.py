"""thermal.models.MultiBlackbody: fixed and bounded components, emissivity, background."""

from __future__ import annotations

import numpy as np
import pytest

from thermal import planck, simulate
from thermal.fit import fit_spectra
from thermal.models import MultiBlackbody, get_model

LAM = np.linspace(1.0, 5.2, 30)


def test_fixed_background_temperature_is_kept_and_has_no_variance():
    obs = simulate.observation([1100.0, 120.0], [1e6, 1e11], wavelength=LAM, n=2, seed=1)
    res = fit_spectra(obs, model=MultiBlackbody(2, fixed={1: 120.0}))
    assert (res.temperature.sel(component=1) == 120.0).all()
    assert (res.temperature_uncertainty.sel(component=1) == 0.0).all()
    np.testing.assert_allclose(res.temperature.sel(component=0), 1100.0, rtol=5e-3)


def test_bounds_are_respected():
    obs = simulate.observation([1500.0], [1e6], wavelength=LAM, n=1, seed=2)
    res = fit_spectra(obs, model=MultiBlackbody(1, bounds={0: (200.0, 1000.0)}))
    assert float(res.temperature.max()) <= 1000.0 + 1e-9
    assert res.status.item() != 0  # at a bound: said, not hidden


def test_emissivity_scales_the_area():
    obs = simulate.observation([1000.0], [1e6], wavelength=LAM, noise=0.0)
    res = fit_spectra(obs, model=MultiBlackbody(1, emissivity=0.5))
    assert float(res.area.squeeze()) == pytest.approx(2e6, rel=1e-6)
    expected = 0.5 * 5.670374419e-8 * 1000.0**4 * 2e6
    assert float(res.power.squeeze()) == pytest.approx(expected, rel=1e-6)


def test_reflected_sunlight_background_is_fitted():
    obs = simulate.observation([800.0], [1e6], wavelength=LAM, noise=0.0)
    sun = planck.spectral_radiance(LAM, 5772.0) / planck.spectral_radiance(1.0, 5772.0)
    obs["intensity"] = obs.intensity + 3e8 * sun
    obs["intensity_uncertainty"] = obs.intensity * 1e-3
    res = fit_spectra(obs, model=MultiBlackbody(1, background=True))
    assert float(res.background.squeeze()) == pytest.approx(3e8, rel=1e-5)
    assert float(res.temperature.squeeze()) == pytest.approx(800.0, rel=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 4}, "n"),
        ({"n": 2, "emissivity": 1.5}, "emissivity"),
        ({"n": 2, "bounds": {0: (500.0, 100.0)}}, "bounds"),
        ({"n": 2, "fixed": {3: 100.0}}, "fixed"),
        ({"n": 1, "bounds": {0: 100.0}}, r"bounds\[0\] must be \(low, high\)"),
        ({"n": 1, "fixed": {0: "a"}}, r"fixed\[0\] temperature must be > 0"),
        ({"n": 2, "emissivity": [0.5] * 3}, r"one value in \(0, 1\] or one per component \(2\)"),
    ],
)
def test_invalid_models_raise_naming_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiBlackbody(**kwargs)


def test_get_model_names():
    assert get_model("3T").n_components == 3
    with pytest.raises(ValueError, match="model"):
        get_model("hot")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"max_iterations": None}, r"max_iterations must be an integer in \[1, 1000000\]"),
        ({"max_iterations": 0}, "max_iterations must be an integer"),
        ({"max_iterations": 10**20}, "max_iterations must be an integer"),
        ({"max_iterations": 10.5}, "max_iterations must be an integer"),
        ({"temperature_range": 500}, r"temperature_range must be \(low, high\) \[K\]"),
        ({"temperature_range": (1, 2, 3)}, "temperature_range must be"),
        ({"temperature_range": (1400, 300)}, "temperature_range must be"),
        ({"model": "flow", "temperature_range": (300, 1500)}, "goes with the blackbody models"),
    ],
)
def test_fit_options_out_of_range_raise_naming_them(options, match):
    obs = simulate.observation([900.0], [2e6], wavelength=np.linspace(1.0, 5.0, 12), n=1)
    options = {"model": "1T", **options}
    with pytest.raises(ValueError, match=match):
        fit_spectra(obs, **options)


def test_auto_model_counts_are_integers():
    from thermal.models import AutoModel

    assert AutoModel(max_components=np.int64(2)).max_components == 2
    with pytest.raises(ValueError, match=r"max_components must be an integer in \[1, 3\]"):
        AutoModel(max_components=2.0)
