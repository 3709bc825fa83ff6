"""select_model: which of 1T/2T/3T the data support, per spectrum."""

from __future__ import annotations

import numpy as np
import pytest

from thermal import simulate
from thermal.fit import fit_spectra, select_model
from thermal.status import Status

LAM = np.linspace(1.0, 5.2, 40)


def test_two_components_are_selected_when_both_are_detected():
    obs = simulate.observation([1200.0, 450.0], [0.5e6, 60e6], wavelength=LAM, n=4, seed=1)
    sel = select_model(obs)
    assert (sel.best_model == "2T").all()
    assert (sel.n_temperatures == 2).all()
    assert (sel.delta.sel(model="1T") > 100).all()  # 1T is strongly rejected
    assert (sel.delta.sel(model="2T") == 0).all()


def test_one_component_is_selected_for_a_single_blackbody():
    obs = simulate.observation([900.0], [2e6], wavelength=LAM, n=4, seed=2)
    sel = select_model(obs)
    assert (sel.best_model == "1T").all()
    assert (sel.delta.sel(model="1T") == 0).all()
    one, two = sel.sel(model="1T"), sel.sel(model="2T")
    # 2T nests 1T (a second area of zero), so its optimum is no worse; for a single blackbody
    # it is better by noise only, less than the BIC penalty of two more parameters, 2 ln(40)
    gain = (one.chi2 - two.chi2).values
    penalty = 2 * np.log(LAM.size)
    assert (gain >= -1e-9 * one.chi2.values).all()
    assert (gain < penalty).all()
    # a supported 2T fit (an undetected second component with a finite area: some spectra
    # here) gets delta = BIC(2T) - BIC(1T); an unsupported one gets none
    supported = (two.status == Status.CONVERGED).values
    np.testing.assert_allclose(two.delta.values[supported], penalty - gain[supported], rtol=1e-9)
    assert np.isnan(two.delta.values[~supported]).all()


def test_a_spectrum_with_data_is_never_no_data():
    obs = simulate.observation([900.0], [2e6], wavelength=LAM, n=4, seed=2)
    sel = select_model(obs)
    assert Status.NO_DATA not in sel.status.values
    assert Status.IMPLAUSIBLE in sel.status.values  # 3T's spurious giant component
    # the one set of status codes, with its CF flags
    assert set(sel.status.values.ravel()) <= set(sel.status.attrs["flag_values"])
    assert sel.status.attrs["flag_meanings"].split()[Status.IMPLAUSIBLE] == "implausible"


def test_three_bands_cannot_constrain_two_temperatures():
    bands = ["nirc2_kc", "nirc2_lp", "nirc2_ms"]
    obs = simulate.observation([1200.0, 450.0], [0.5e6, 60e6], bands=bands, n=2, seed=3)
    sel = select_model(obs)
    names = [Status(int(v)).meaning for v in sel.status.sel(model="2T").values]
    assert names == ["not_enough_channels"] * 2
    assert (sel.best_model == "1T").all()


def test_a_single_band_supports_nothing():
    obs = simulate.observation([900.0], [2e6], bands=["nirc2_ms"], n=1, seed=4)
    sel = select_model(obs, models=("1T", "2T"))
    assert int(sel.best[0]) == -1
    assert sel.best_model[0].item() == ""
    assert int(sel.n_temperatures[0]) == 0


def test_aic_criterion_and_validation():
    obs = simulate.observation([1200.0, 450.0], [0.5e6, 60e6], wavelength=LAM, n=1, seed=5)
    sel = select_model(obs, models=("1T", "2T"), criterion="aic")
    assert sel.attrs["criterion"] == "aic"
    assert sel.best_model[0].item() == "2T"
    # ranked by AIC (which differs from BIC here): delta is AIC minus the best supported AIC
    best = sel.aic.where(sel.status == Status.CONVERGED).min("model")
    np.testing.assert_allclose(sel.delta.values, (sel.aic - best).values, rtol=1e-12)
    assert not np.allclose(sel.aic.values, sel.bic.values)
    # the statistics as the fits give them (the result layout's attributes)
    one = fit_spectra(obs, model="1T")
    for name in ("chi2", "dof", "aic", "bic"):
        assert sel[name].attrs == one[name].attrs
        np.testing.assert_array_equal(sel[name].sel(model="1T").values, one[name].values)
    with pytest.raises(ValueError, match="criterion"):
        select_model(obs, criterion="chi2")
    with pytest.raises(ValueError, match="models"):
        select_model(obs, models=())


def test_one_spectrum_without_a_batch_dim_and_models_it_cannot_compare():
    obs = simulate.observation([900.0], [2e6], wavelength=LAM, n=1, seed=2).isel(spectrum=0)
    sel = select_model(obs)
    assert sel.best_model.item() == "1T" and int(sel.n_temperatures) == 1
    with pytest.raises(ValueError, match="models: select_model compares multi-blackbody"):
        select_model(obs, models=("1T", "flow"))
