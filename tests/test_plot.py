"""Figures of fit results."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("thermal.fit")

from thermal import simulate
from thermal.fit import fit_spectra
from thermal.io import InputError, write_results
from thermal.plot import plot_result, select_spectra


@pytest.fixture(scope="module")
def result():
    obs = simulate.observation(
        [[1200.0, 450.0], [900.0, 400.0], [1000.0, 500.0]],
        [[0.5e6, 60e6], [1e6, 30e6], [2e6, 90e6]],
        wavelength=np.linspace(1.5, 5.0, 25),
        seed=4,
    )
    fitted = fit_spectra(obs, model="2T")
    for name in ("intensity", "intensity_uncertainty"):
        fitted[name] = obs[name]
    return fitted


def test_png_of_spectra_fits_and_residuals(result, tmp_path):
    path = tmp_path / "fit.png"
    figure = plot_result(result, path, max_spectra=2)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    top, bottom = figure.axes
    assert len(top.lines) >= 2 and len(bottom.lines) >= 2
    assert top.get_yscale() == "log"
    assert "residual" in bottom.get_ylabel()


def test_from_file_and_selection(result, tmp_path):
    path = write_results(result, tmp_path / "r.nc")
    plot_result(path, tmp_path / "r.png")
    chosen = select_spectra(result, 2)
    power = result.power.values.ravel()
    converged = np.flatnonzero(result.status.values.ravel() == 0)
    assert chosen == sorted(converged, key=lambda i: -power[i])[:2]
    with pytest.raises(ValueError, match="max_spectra"):
        select_spectra(result, 0)


def test_not_a_result(tmp_path):
    obs = simulate.observation([900.0], [1e6], bands=["nirc2_kc", "nirc2_lp"])
    path = write_results(obs, tmp_path / "obs.nc")
    with pytest.raises(InputError, match="thermal fit result"):
        plot_result(path, tmp_path / "x.png")
