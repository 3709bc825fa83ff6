"""The CF/ACDD netCDF writer: attributes, fill values, compression, atomic replacement."""

from __future__ import annotations

import json
import os

import netCDF4
import numpy as np
import pytest
import xarray as xr

from thermal import simulate
from thermal.io import write_results
from thermal.io.results import TEMPORARY_PREFIX


def cf_errors(path, tmp_path) -> list[str]:
    """CF-1.11 problems of high priority ("errors") reported by compliance-checker."""
    from compliance_checker.runner import CheckSuite, ComplianceChecker

    CheckSuite.load_all_available_checkers()
    report = tmp_path / "report.json"
    ComplianceChecker.run_checker(
        str(path), ["cf:1.11"], 0, "normal", output_filename=str(report), output_format="json"
    )
    result = json.loads(report.read_text())["cf:1.11"]
    return [str(m) for m in result.get("high_priorities", []) for m in m.get("msgs", [])]


@pytest.fixture
def result():
    """A Dataset in the result layout (docs/layout.md), built by hand."""
    obs = simulate.observation(
        [1200.0, 450.0], [0.5e6, 60e6], bands=["nirc2_kc", "nirc2_lp", "nirc2_ms"], n=4
    )
    n = obs.sizes["spectrum"]
    rng = np.random.default_rng(0)
    ds = xr.Dataset(
        {
            "temperature": (
                ("spectrum", "component"),
                rng.uniform(400, 1300, (n, 2)),
                {"units": "K", "long_name": "component temperature"},
            ),
            "area": (("spectrum", "component"), rng.uniform(1e5, 1e8, (n, 2)), {"units": "m2"}),
            "power": ("spectrum", rng.uniform(1e10, 1e12, n), {"units": "W"}),
            "covariance": (("spectrum", "param", "param_j"), np.ones((n, 4, 4))),
            "chi2": ("spectrum", rng.uniform(0, 3, n)),
            "dof": ("spectrum", np.full(n, -1, dtype=np.int32)),
            "status": (
                "spectrum",
                np.array([0, 0, 1, 2], dtype=np.int8),
                {
                    "flag_values": np.array([0, 1, 2], dtype=np.int8),
                    "flag_meanings": "converged max_iterations too_few_points",
                    "standard_name": "status_flag",
                },
            ),
            "model_intensity": (
                ("spectrum", "band"),
                obs.intensity.values,
                {"units": "W sr-1 um-1"},
            ),
            "intensity": obs.intensity,
        },
        coords={
            "spectrum": np.arange(n),
            "band": obs.band.values,
            "component": ["hot", "warm"],
            "param": ["T0", "A0", "T1", "A1"],
            "param_j": ["T0", "A0", "T1", "A1"],
            "latitude": ("spectrum", [1.0, np.nan, 3.0, 4.0], {"units": "degrees_north"}),
            "time": (
                "spectrum",
                np.array(
                    ["2013-08-15", "NaT", "2013-08-16", "2013-08-17"], dtype="datetime64[ns]"
                ),
            ),
            "wavelength_centre": ("band", [2.27, 3.78, 4.67], {"units": "um"}),
        },
        attrs={"history": "2026-01-01T00:00:00Z: earlier step"},
    )
    return ds


def test_cf_compliant(result, tmp_path):
    path = write_results(result, tmp_path / "r.nc", history="thermal fit x", source="x.csv")
    assert cf_errors(path, tmp_path) == []
    with netCDF4.Dataset(path) as nc:
        assert nc.Conventions == "CF-1.11, ACDD-1.3"
        assert nc.source == "x.csv"
        assert nc.history.splitlines()[0] == "2026-01-01T00:00:00Z: earlier step"
        assert nc.history.splitlines()[1].endswith(": thermal fit x")
        assert nc.thermal_version
        for name in ("title", "summary", "keywords", "date_created"):
            assert getattr(nc, name)
        # no _FillValue on coordinates without missing values (CF 2.5.1)
        for name in ("spectrum", "wavelength_centre", "component"):
            assert "_FillValue" not in nc[name].ncattrs(), name
        assert "_FillValue" in nc["temperature"].ncattrs()
        assert nc["time"].units.startswith("seconds since 1970-01-01T00:00:00")
        for name, variable in nc.variables.items():
            assert "long_name" in variable.ncattrs(), name
        assert nc["temperature"].coverage_content_type == "modelResult"
        assert nc["status"].coverage_content_type == "qualityInformation"
        assert nc["intensity"].coverage_content_type == "physicalMeasurement"
        assert nc["chi2"].units == "1"
        assert not nc["temperature"].filters()["zlib"]
        # ACDD times are UTC with their zone, from the time coordinate (NaT left out)
        assert nc.time_coverage_start == "2013-08-15T00:00:00.000Z"
        assert nc.time_coverage_end == "2013-08-17T00:00:00.000Z"
        assert "example.invalid" not in nc.references
    back = xr.open_dataset(path)
    xr.testing.assert_allclose(back.temperature, result.temperature)
    assert np.isnat(back.time.values[1])
    back.close()


def test_cf_attributes_of_uncertainties_flags_text_and_janskys(tmp_path):
    n = 3
    ds = xr.Dataset(
        {
            "flux_density": ("hotspot", np.ones(n), {"units": "Jy"}),
            "flux_density_uncertainty": ("hotspot", np.ones(n), {"units": "Jy"}),
            "intensity": ("hotspot", np.ones(n), {"units": "W sr-1 um-1"}),
            "intensity_uncertainty": ("hotspot", np.ones(n), {"units": "W sr-1 um-1"}),
            "edge": ("hotspot", np.array([True, False, False]), {"units": "1"}),
            "band": ("hotspot", np.array(["a", "b", "c"], dtype=object), {"units": "1"}),
        },
        attrs={"time_coverage_start": "2017-02-02T11:40:06.123", "time_coverage_end": ""},
    )
    path = write_results(ds, tmp_path / "spots.nc")
    assert cf_errors(path, tmp_path) == []
    with netCDF4.Dataset(path) as nc:
        assert nc["flux_density"].units == "1e-26 W m-2 Hz-1"
        for name in ("flux_density", "intensity"):
            assert nc[name].ancillary_variables == f"{name}_uncertainty"
            assert nc[f"{name}_uncertainty"].coverage_content_type == "qualityInformation"
        assert "units" not in nc["edge"].ncattrs() and "units" not in nc["band"].ncattrs()
        assert list(nc["edge"].flag_values) == [0, 1]
        assert nc["edge"].flag_meanings == "not_edge edge"
        assert nc.time_coverage_start == "2017-02-02T11:40:06.123Z"
        assert "time_coverage_end" not in nc.ncattrs()
    for given in ("2013-08-15", "2013-08-15T13:45:00+0000", "2013-08-15T13:45:00-07:00"):
        ds.attrs["time_coverage_start"] = given  # a date, or a zone: as given
        with netCDF4.Dataset(write_results(ds, tmp_path / "zoned.nc")) as nc:
            assert nc.time_coverage_start == given
    with xr.open_dataset(path) as back:
        assert back["edge"].dtype == bool


def test_compression_option(result, tmp_path):
    path = write_results(result, tmp_path / "c.nc", compress=True)
    with netCDF4.Dataset(path) as nc:
        assert nc["temperature"].filters()["zlib"]
        assert nc["temperature"].filters()["shuffle"]
        assert nc["temperature"].chunking() == [4, 2]
    assert cf_errors(path, tmp_path) == []


def test_atomic_replace_and_no_partial_file(result, tmp_path, monkeypatch):
    path = tmp_path / "r.nc"
    write_results(result, path)
    before = path.read_bytes()

    def fail(self, target, *args, **kwargs):
        with open(target, "wb") as handle:
            handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", fail)
    with pytest.raises(OSError, match="disk full"):
        write_results(result, path)
    assert path.read_bytes() == before
    assert not [f for f in os.listdir(tmp_path) if f.startswith(TEMPORARY_PREFIX)]


def test_bad_destination(result, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_results(result, tmp_path / "nowhere" / "r.nc")
    with pytest.raises(IsADirectoryError):
        write_results(result, tmp_path)


def test_status_words_are_in_the_status_comment(tmp_path):
    """A result holds codes only; every code's words are in the status variable's comment,
    as the status enum gives them, and survive the write."""
    from thermal.fit import fit_spectra
    from thermal.status import Status

    obs = simulate.observation([1200.0, 450.0], [0.5e6, 60e6], wavelength=[2.0, 3.0, 4.0], n=3)
    obs["intensity"][1, :] = np.nan  # no data
    result = fit_spectra(obs, model="2T")
    assert "message" not in result
    assert result.status.dtype == np.int8
    assert Status(int(result.status[1])) is Status.NO_DATA
    path = write_results(result, tmp_path / "r.nc")
    with xr.open_dataset(path) as ds:
        assert "message" not in ds
        for status in Status:
            assert (
                f"{int(status)} {status.meaning}: {status.message}" in ds.status.attrs["comment"]
            )
        assert list(ds.status.attrs["flag_values"]) == [int(s) for s in Status]
        assert "units" not in ds.status.attrs
