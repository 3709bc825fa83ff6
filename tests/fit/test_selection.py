"""select_model: which of 1T/2T/3T the data support, per spectrum."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from thermal import simulate
from thermal.fit import select_model
from thermal.fit.selection import SUPPORT

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
    # the 2T fit of a single blackbody puts a component at a bound or is degenerate
    assert (sel.support.sel(model="2T") != 0).any() or (sel.delta.sel(model="2T") > 0).all()


def test_three_bands_cannot_constrain_two_temperatures():
    bands = ["nirc2_kc", "nirc2_lp", "nirc2_ms"]
    obs = simulate.observation([1200.0, 450.0], [0.5e6, 60e6], bands=bands, n=2, seed=3)
    sel = select_model(obs)
    names = [SUPPORT[int(v)] for v in sel.support.sel(model="2T").values]
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
    assert isinstance(sel, xr.Dataset)
    with pytest.raises(ValueError, match="criterion"):
        select_model(obs, criterion="chi2")
    with pytest.raises(ValueError, match="models"):
        select_model(obs, models=())
