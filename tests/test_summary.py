"""thermal.summary: counts by status, and totals only where they mean something."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from thermal.status import Status
from thermal.summary import summarise


def result(status, temperature, power, **coords):
    n = len(status)
    return xr.Dataset(
        {
            "status": ("obs", np.asarray(status, np.int8)),
            "temperature": (("obs", "component"), np.asarray(temperature, float).reshape(n, -1)),
            "power": ("obs", np.asarray(power, float)),
        },
        coords={k: ("obs", v) for k, v in coords.items()},
    )


def test_counts_every_status_kind_and_totals_converged_spots_only():
    s = [Status.CONVERGED, Status.AT_BOUND, Status.NOT_DETECTED, Status.IMPLAUSIBLE,
         Status.LIMB, Status.NO_DATA, Status.CONVERGED, Status.POOR_FIT]  # fmt: skip
    info = summarise(
        result(s, [900, 3000, np.nan, 1e4, 800, np.nan, 1100, 1500], [1, 50, 0, 1e20, 7, 0, 2, 9])
    )
    assert (info["spectra"], info["fitted"], info["not_detected"]) == (8, 3, 1)
    assert (info["implausible"], info["limb"], info["failed"]) == (1, 1, 1)
    assert info["poor_fit"] == 1
    # not the at-bound 3000 K, the implausible nor the poor fit's 1500 K
    assert info["hottest_temperature"] == 1100.0
    assert info["total_power"] == 3.0 and info["note"] == ""


def test_no_total_over_several_epochs_or_a_repeated_spot():
    times = np.array(["2013-08-15", "2013-08-29"], dtype="datetime64[ns]")
    info = summarise(result([0, 0], [900, 950], [1.0, 2.0], time=times))
    assert np.isnan(info["total_power"]) and "epochs" in info["note"]
    assert info["hottest_temperature"] == 950.0
    same = summarise(result([0, 0], [900, 950], [1.0, 2.0], hotspot=["Loki", "Loki"]))
    assert np.isnan(same["total_power"]) and "twice" in same["note"]
    one_night = summarise(
        result([0, 0], [900, 950], [1.0, 2.0], hotspot=["Loki", "Pele"], time=times[[0, 0]])
    )
    assert one_night["total_power"] == 3.0


def test_no_total_over_two_rows_at_one_place():
    info = summarise(
        result([0, 0, 0], [900, 950, 700], [1.0, 2.0, 4.0],
               hotspot=["Rarog", "Rarog (model)", "Heno"],
               latitude=[-42.0, -42.0, -57.0], longitude=[55.0, 55.0, 50.0])
    )  # fmt: skip
    assert np.isnan(info["total_power"]) and "one place" in info["note"]


def test_what_is_not_a_result_is_refused_naming_it():
    for value in ({}, xr.Dataset({"temperature": ("spectrum", [900.0])})):
        with pytest.raises(ValueError, match="result must be a fit result"):
            summarise(value)


def test_a_total_of_area_fractions_says_it_is_per_m2_of_pixel():
    ds = result([0, 0], [900, 950], [1.0, 2.0])
    ds = (
        ds.rename({"area": "area_fraction"})
        if "area" in ds
        else ds.assign(area_fraction=("obs", [1e-4, 2e-4]))
    )
    info = summarise(ds)
    assert info["power_is_fraction"] and info["total_power"] == 3.0
    assert info["note"] == "per m2 of pixel: the input gives no pixel area"
