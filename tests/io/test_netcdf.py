"""netCDF observations: units, the layout checks and unreadable files."""

from __future__ import annotations

import numpy as np
import pytest

from thermal.io import InputError, open_observation


def test_round_trip_converts_nm_and_gw(spectra, tmp_path, write):
    ds = spectra.copy()
    ds = ds.assign_coords(
        wavelength=("wavelength", ds.wavelength.values * 1000.0, {"units": "nm"})
    )
    ds["intensity"] = ds.intensity / 1e9
    ds["intensity"].attrs["units"] = "GW um-1 sr-1"
    ds["intensity_uncertainty"] = ds.intensity_uncertainty / 1e9
    ds["intensity_uncertainty"].attrs["units"] = "GW/um/sr"
    obs = open_observation(write(ds, tmp_path / "nm.nc"))
    np.testing.assert_allclose(obs.wavelength, spectra.wavelength, rtol=1e-15)
    assert obs.wavelength.attrs["units"] == "um"
    assert obs.wavelength.attrs["original_units"] == "nm"
    np.testing.assert_allclose(obs.intensity, spectra.intensity, rtol=1e-15)
    assert obs.intensity.attrs["units"] == "W sr-1 um-1"
    assert obs.intensity.attrs["original_units"] == "GW um-1 sr-1"
    np.testing.assert_allclose(
        obs.intensity_uncertainty, spectra.intensity_uncertainty, rtol=1e-15
    )
    assert obs.attrs["thermal_input_format"] == "netcdf"
    assert obs.intensity.dims[-1] == "wavelength"


def test_variables_without_units_are_errors_naming_them(spectra, tmp_path, write):
    """Nothing is guessed: a wavelength or data variable without units names itself and how
    to give the unit."""
    ds = spectra.copy()
    del ds.wavelength.attrs["units"]
    with pytest.raises(InputError, match=r"um\.nc: wavelength .*no units.*units = 'um'"):
        open_observation(write(ds, tmp_path / "um.nc"))
    ds = spectra.copy()
    ds["intensity"].attrs.pop("units", None)
    ds["intensity_uncertainty"].attrs.pop("units", None)
    with pytest.raises(InputError, match=r"'intensity' has no units attribute.*W sr-1 um-1"):
        open_observation(write(ds, tmp_path / "data.nc"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda w: np.r_[w[:5], w[4], w[6:]], "duplicate wavelength"),
        (lambda w: np.r_[w[:5], w[6], w[5], w[7:]], "not increasing"),
    ],
)
def test_duplicate_or_unsorted_wavelengths(spectra, tmp_path, edit, message, write):
    w = spectra.wavelength
    ds = spectra.assign_coords(wavelength=("wavelength", edit(w.values), w.attrs))
    with pytest.raises(InputError, match=message):
        open_observation(write(ds, tmp_path / "bad.nc"))


@pytest.mark.parametrize("value", [0.0, -1.0])
def test_nonpositive_uncertainties_are_read_for_the_fit_to_flag(spectra, tmp_path, value, write):
    """A bad uncertainty is not the file's fault: the fit flags its spectrum alone."""
    ds = spectra.copy(deep=True)
    ds["intensity_uncertainty"][1, 3] = value
    read = open_observation(write(ds, tmp_path / "sigma.nc"))
    assert float(read["intensity_uncertainty"][1, 3]) == value


def test_all_nan(spectra, tmp_path, write):
    ds = spectra.copy(deep=True)
    ds["intensity"][:] = np.nan
    with pytest.raises(InputError, match="every value is NaN or infinite"):
        open_observation(write(ds, tmp_path / "nan.nc"))
    ds = spectra.copy(deep=True)
    ds["intensity"][0] = np.nan  # one NaN spectrum is the fitter's business, not an error
    assert np.isnan(open_observation(write(ds, tmp_path / "one.nc")).intensity[0]).all()


def test_unknown_band_and_bad_units(tmp_path, write):
    from thermal import simulate

    ds = simulate.observation([900.0], [1e6], bands=["nirc2_kc", "nirc2_lp"])
    ds = ds.assign_coords(band=["nirc2_kc", "nirc2_xx"])
    with pytest.raises(InputError, match="unknown band name 'nirc2_xx'"):
        open_observation(write(ds, tmp_path / "band.nc"))
    ds = simulate.observation([900.0], [1e6], bands=["nirc2_kc", "nirc2_lp"])
    ds.intensity.attrs["units"] = "K"
    with pytest.raises(InputError, match="not convertible"):
        open_observation(write(ds, tmp_path / "units.nc"))


def test_layout_errors(spectra, tmp_path, write):
    ds = spectra.rename(intensity="flux")
    with pytest.raises(InputError, match="'intensity' or 'radiance'"):
        open_observation(write(ds, tmp_path / "novar.nc"))


def test_unreadable_files(spectra, tmp_path, write):
    good = write(spectra, tmp_path / "good.nc")
    data = open(good, "rb").read()
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"truncated\.nc: not a readable netCDF"):
        open_observation(truncated)
    empty = tmp_path / "empty.nc"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.nc: empty file"):
        open_observation(empty)
    with pytest.raises(InputError, match="is a directory"):
        open_observation(tmp_path)
    with pytest.raises(InputError, match="no such file"):
        open_observation(tmp_path / "missing.nc")


def test_input_errors_survive_pickling():
    """An InputError crosses dask processes (pickled) with its file and problem."""
    import pickle

    error = pickle.loads(pickle.dumps(InputError("a.nc", "broken")))
    assert (str(error), error.path, error.problem) == ("a.nc: broken", "a.nc", "broken")
