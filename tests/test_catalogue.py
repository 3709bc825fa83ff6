"""Tests of thermal.catalogue: the named hot-spot table, matching and ids over time."""

import math
import os

import numpy as np
import pytest
import xarray as xr

from thermal import catalogue
from thermal.constants import IO_RADIUS

R_KM = IO_RADIUS / 1e3
KM_PER_DEGREE = math.pi * R_KM / 180.0

# the shipped table, as printed in Davies et al. 2024 Table A1 (degrees N, degrees W)
LOKI = (12.8, 308.4)
PELE = (-18.8, 255.6)
RUWA = (0.3, 2.2)
# places more than 300 km from every catalogued spot (checked in test_empty_places)
EMPTY_A = (30.0, 60.0)  # degrees N, degrees E
EMPTY_B = (60.0, 0.0)


def east(west):
    return (360.0 - west) % 360.0


def offset(position, north_km=0.0, east_km=0.0):
    """A point ``north_km`` north and ``east_km`` east of ``position`` (lat, lon east)."""
    lat, lon = position
    return (
        lat + north_km / KM_PER_DEGREE,
        lon + east_km / (KM_PER_DEGREE * math.cos(math.radians(lat))),
    )


def detections(rows):
    """A detection table from (lat, lon_east, time, source, band, pixel_scale_m) rows."""
    lat, lon, time, source, band, scale = zip(*rows, strict=True)
    return xr.Dataset(
        {
            "latitude": ("detection", np.array(lat, dtype=float)),
            "longitude": ("detection", np.array(lon, dtype=float)),
            "time": ("detection", np.array(time, dtype="datetime64[ns]")),
            "source": ("detection", np.array(source, dtype=str)),
            "band": ("detection", np.array(band, dtype=str)),
            "pixel_scale": ("detection", np.array(scale, dtype=float)),
            "intensity": ("detection", np.arange(len(rows), dtype=float) * 1e9),
        }
    )


# ------------------------------------------------------------------------------ the table


def test_table_loads_with_references_and_valid_positions():
    ds = catalogue.named_hotspots()
    assert ds.sizes["name"] == 343
    names = ds["name"].values.tolist()
    assert len(set(names)) == len(names) and all(names)
    assert all(ref.strip() for ref in ds["reference"].values)
    assert set(ds["doi"].values) == {"10.3847/PSJ/ad4346"}
    lat = ds["latitude"].values
    lon = ds["longitude"].values
    assert np.all((lat >= -90) & (lat <= 90))
    assert np.all((lon >= 0) & (lon < 360))
    assert np.all((ds["longitude_west"].values >= 0) & (ds["longitude_west"].values < 360))
    np.testing.assert_allclose(lon, east(ds["longitude_west"].values))
    assert ds["latitude"].attrs["units"] == "degrees_north"
    assert ds["longitude"].attrs["units"] == "degrees_east"


def test_table_positions_as_published():
    ds = catalogue.named_hotspots()
    for name, (lat, west) in {"Loki Patera": LOKI, "Pele": PELE, "Ruwa Patera": RUWA}.items():
        row = ds.sel(name=name)
        assert (float(row.latitude), float(row.longitude_west)) == (lat, west)
    assert str(ds.sel(name="Loki Patera").name_published.values) == "Loki P."


def test_table_is_cached_and_copied():
    first = catalogue.named_hotspots()
    first["latitude"][:] = 0.0
    assert float(catalogue.named_hotspots().sel(name="Pele").latitude) == PELE[0]


def test_empty_places():
    _, distance = catalogue.match_named([EMPTY_A[0], EMPTY_B[0]], [EMPTY_A[1], EMPTY_B[1]])
    assert np.all(distance > 300.0)


# ----------------------------------------------------------------------------- distances


def test_great_circle_distance_analytic():
    quarter = math.pi / 2 * R_KM
    assert catalogue.great_circle_distance(0, 0, 0, 90) == pytest.approx(quarter, rel=1e-14)
    assert catalogue.great_circle_distance(0, 10, 90, 123) == pytest.approx(quarter, rel=1e-14)
    assert catalogue.great_circle_distance(30, 40, -30, 220) == pytest.approx(math.pi * R_KM)
    # central angle from the spherical law of cosines, an independent formula
    lat1, lon1, lat2, lon2 = 12.8, 51.6, -18.8, 104.4
    angle = math.acos(
        math.sin(math.radians(lat1)) * math.sin(math.radians(lat2))
        + math.cos(math.radians(lat1))
        * math.cos(math.radians(lat2))
        * math.cos(math.radians(lon2 - lon1))
    )
    assert catalogue.great_circle_distance(lat1, lon1, lat2, lon2) == pytest.approx(
        angle * R_KM, rel=1e-12
    )
    # one degree of a great circle across the 0/360 meridian; radius in km
    assert catalogue.great_circle_distance(0, 359.5, 0, 0.5) == pytest.approx(KM_PER_DEGREE)
    assert catalogue.great_circle_distance(0, 0, 0, 1, radius=1.0) == pytest.approx(math.pi / 180)
    out = catalogue.great_circle_distance([0, np.nan], 0, 0, [90, 0])
    assert out[0] == pytest.approx(quarter) and np.isnan(out[1])


def test_tolerance_follows_the_footprint():
    assert catalogue.tolerance_for(1e3) == 50.0  # 3 km: the floor
    assert catalogue.tolerance_for(40e3) == pytest.approx(120.0)  # 3 pixels
    np.testing.assert_allclose(catalogue.tolerance_for([np.nan, 20e3]), [50.0, 60.0])


# ------------------------------------------------------------------------------ matching


def test_match_named():
    loki = (LOKI[0], east(LOKI[1]))
    near = offset(loki, north_km=30.0)
    names, distance = catalogue.match_named(
        [loki[0], near[0], EMPTY_A[0], np.nan], [loki[1], near[1], EMPTY_A[1], 0.0], 50.0
    )
    assert names.tolist() == ["Loki Patera", "Loki Patera", "", ""]
    assert distance[0] == pytest.approx(0.0, abs=1e-6)
    assert distance[1] == pytest.approx(30.0, rel=1e-6)
    assert distance[2] > 300.0 and np.isnan(distance[3])
    # the same point 30 km off is unmatched at a 20 km tolerance (one per position)
    names, _ = catalogue.match_named([near[0]] * 2, [near[1]] * 2, [20.0, 50.0])
    assert names.tolist() == ["", "Loki Patera"]


def test_match_named_wraps_longitude():
    ruwa_east = east(RUWA[1])  # 357.8 degrees E
    names, distance = catalogue.match_named(RUWA[0], [ruwa_east, ruwa_east - 360.0, 717.8])
    assert names.tolist() == ["Ruwa Patera"] * 3
    np.testing.assert_allclose(distance, 0.0, atol=1e-6)


# ------------------------------------------------------------------------ ids over time


def test_named_spot_seen_in_two_orbits_keeps_its_name():
    pele = (PELE[0], east(PELE[1]))
    a = offset(pele, north_km=20.0)
    b = offset(pele, east_km=-25.0)
    ds = catalogue.assign_ids(
        detections(
            [
                (*a, "2023-05-16T10:00", "orbit51_a", "M", 10e3),
                (*b, "2024-02-03T20:00", "orbit58_b", "M", 5e3),
            ]
        )
    )
    assert ds["hotspot_id"].values.tolist() == ["Pele", "Pele"]
    assert ds["name"].values.tolist() == ["Pele", "Pele"]
    np.testing.assert_allclose(ds["longitude_west"].values, (360.0 - ds["longitude"].values))
    assert ds["intensity"].values.tolist() == [0.0, 1e9]  # other variables carried along


def test_detection_linked_to_a_named_spot_through_another_orbit():
    loki = (LOKI[0], east(LOKI[1]))
    inside = offset(loki, east_km=40.0)  # within 50 km of the catalogued point
    beyond = offset(loki, east_km=75.0)  # 75 km from it, 35 km from the other detection
    ds = catalogue.assign_ids(
        detections(
            [
                (*inside, "2023-01-01T00:00", "a", "M", np.nan),
                (*beyond, "2023-03-01T00:00", "b", "M", np.nan),
            ]
        )
    )
    assert ds["hotspot_id"].values.tolist() == ["Loki Patera", "Loki Patera"]


def test_unmatched_spot_gets_a_new_id_stable_over_runs(tmp_path):
    a1 = offset(EMPTY_A, north_km=5.0)
    a2 = offset(EMPTY_A, east_km=-10.0)
    b = EMPTY_B
    pele = (PELE[0], east(PELE[1]))
    first = catalogue.assign_ids(
        detections(
            [
                (*a2, "2023-06-01T00:00", "orbit53", "M", 8e3),
                (*b, "2023-07-01T00:00", "orbit54", "M", 8e3),
                (*a1, "2023-05-01T00:00", "orbit51", "M", 8e3),
                (*pele, "2023-05-01T00:00", "orbit51", "M", 8e3),
                (np.nan, np.nan, "2023-05-01T00:00", "orbit51", "L", 8e3),
            ]
        )
    )
    # numbered in order of first detection; no position, no id
    assert first["hotspot_id"].values.tolist() == ["TH-0001", "TH-0002", "TH-0001", "Pele", ""]
    assert first["name"].values.tolist() == ["", "", "", "Pele", ""]

    path = tmp_path / "catalogue.csv"
    catalogue.write_catalogue_csv(path, first)
    reread = catalogue.read_catalogue_csv(path)
    assert reread["hotspot_id"].values.tolist() == first["hotspot_id"].values.tolist()

    # the catalogue assigned again against itself keeps every id
    again = catalogue.assign_ids(reread, previous=reread)
    assert again["hotspot_id"].values.tolist() == first["hotspot_id"].values.tolist()

    # a later orbit: the known spots keep their ids, a new one continues the numbering
    later = catalogue.assign_ids(
        detections(
            [
                (*offset(EMPTY_A, north_km=-15.0), "2024-01-01T00:00", "orbit57", "M", 8e3),
                (*offset(EMPTY_B, east_km=12.0), "2024-01-01T00:00", "orbit57", "M", 8e3),
                (-70.0, 150.0, "2024-01-01T00:00", "orbit57", "M", 8e3),
            ]
        ),
        previous=reread,
    )
    assert later["hotspot_id"].values.tolist() == ["TH-0001", "TH-0002", "TH-0003"]


def test_ids_across_the_0_360_meridian():
    west_side = (EMPTY_B[0], 359.9)
    east_side = (EMPTY_B[0], 0.1)
    ds = catalogue.assign_ids(
        detections(
            [
                (*west_side, "2023-01-01", "a", "M", np.nan),
                (*east_side, "2023-02-01", "b", "M", np.nan),
                (RUWA[0], -RUWA[1], "2023-03-01", "c", "M", np.nan),  # 2.2 W as -2.2 E
            ]
        )
    )
    assert ds["hotspot_id"].values.tolist() == ["TH-0001", "TH-0001", "Ruwa Patera"]
    np.testing.assert_allclose(ds["longitude_west"].values, [0.1, 359.9, 2.2])


def test_two_spots_of_one_frame_stay_two():
    a = EMPTY_A
    b = offset(EMPTY_A, east_km=10.0)
    c = offset(EMPTY_A, east_km=5.0)
    ds = catalogue.assign_ids(
        detections(
            [
                (*a, "2023-01-01T00:00", "frame1", "M", 2e3),
                (*b, "2023-01-01T00:00", "frame1", "M", 2e3),
                (*c, "2023-02-01T00:00", "frame2", "M", 2e3),  # links to one of them only
            ]
        )
    )
    ids = ds["hotspot_id"].values.tolist()
    assert ids[0] != ids[1] and ids[2] in ids[:2]


def test_empty_table():
    empty = detections([(*EMPTY_A, "2023-01-01", "a", "M", np.nan)]).isel(detection=[])
    out = catalogue.assign_ids(empty)
    assert out.sizes["detection"] == 0 and out["hotspot_id"].values.tolist() == []


def test_an_empty_previous_catalogue_file_starts_the_numbering(tmp_path):
    """The first run of a campaign: the catalogue file exists but holds no detection yet."""
    empty = detections([(*EMPTY_A, "2023-01-01", "a", "M", 8e3)]).isel(detection=[])
    path = tmp_path / "catalogue.csv"
    catalogue.write_catalogue_csv(path, catalogue.assign_ids(empty))
    previous = catalogue.read_catalogue_csv(path)
    assert previous.sizes["detection"] == 0
    out = catalogue.assign_ids(
        detections([(*EMPTY_A, "2023-05-01T00:00", "orbit51", "M", 8e3)]), previous=previous
    )
    assert out["hotspot_id"].values.tolist() == ["TH-0001"]


def test_explicit_tolerance():
    a = EMPTY_A
    b = offset(EMPTY_A, east_km=80.0)
    rows = [(*a, "2023-01-01", "x", "M", np.nan), (*b, "2023-02-01", "y", "M", np.nan)]
    assert len(set(catalogue.assign_ids(detections(rows))["hotspot_id"].values)) == 2
    merged = catalogue.assign_ids(detections(rows), tolerance=100.0)
    assert len(set(merged["hotspot_id"].values)) == 1


# --------------------------------------------------------------------- files, light curves


def test_csv_round_trip_and_light_curve(tmp_path):
    pele = (PELE[0], east(PELE[1]))
    ds = catalogue.assign_ids(
        detections(
            [
                (*pele, "2024-02-03T20:00:00.123456789", "orbit58", "M", 5e3),
                (*EMPTY_A, "2023-05-16T10:00", "orbit51", "M", 1e4),
                (*offset(pele, north_km=3.0), "2023-05-16T10:00", "orbit51", "M", 1e4),
                (np.nan, np.nan, "NaT", "orbit51", "L", np.nan),
            ]
        )
    )
    path = tmp_path / "cat.csv"
    assert catalogue.write_catalogue_csv(path, ds) == str(path)
    assert os.listdir(tmp_path) == ["cat.csv"]  # no temporary left behind
    header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[:8] == [
        "hotspot_id",
        "name",
        "time",
        "source",
        "band",
        "latitude",
        "longitude",
        "longitude_west",
    ]
    back = catalogue.read_catalogue_csv(path)
    for key in ("hotspot_id", "name", "source", "band"):
        assert back[key].values.tolist() == ds[key].values.tolist()
    for key in ("latitude", "longitude", "longitude_west", "pixel_scale", "intensity"):
        np.testing.assert_array_equal(back[key].values, ds[key].values)  # exact, NaN too
    np.testing.assert_array_equal(back["time"].values, ds["time"].values)
    assert back["latitude"].attrs["units"] == "degrees_north"
    assert back["intensity"].attrs["units"] == "W sr-1 um-1"  # the detections' columns too
    # times keep their text from one run to the next: milliseconds, or finer where given
    again = tmp_path / "again.csv"
    catalogue.write_catalogue_csv(again, back)
    assert again.read_text() == path.read_text()
    times = [line.split(",")[2] for line in path.read_text().splitlines()[1:]]
    assert sorted(times) == ["", "2023-05-16T10:00:00.000", "2023-05-16T10:00:00.000",
                             "2024-02-03T20:00:00.123456789"]  # fmt: skip

    curve = catalogue.light_curve(back, "Pele")
    assert curve.sizes["detection"] == 2
    assert np.all(np.diff(curve["time"].values) > np.timedelta64(0, "ns"))
    assert curve["source"].values.tolist() == ["orbit51", "orbit58"]


def test_an_empty_column_reads_as_numbers_not_known(tmp_path):
    """An adaptive-optics night has no geometry: its spectral_flux column is empty, and reads
    back as NaN (it was text, and a light curve of it failed)."""
    path = tmp_path / "cat.csv"
    path.write_text("hotspot_id,time,band,latitude,longitude,spectral_flux,intensity\n"
                    ",2013-08-15T13:45:00.000,nirc2_lp,,,,1.5e9\n")  # fmt: skip
    back = catalogue.read_catalogue_csv(path)
    assert back["spectral_flux"].dtype == float and np.isnan(back["spectral_flux"].values[0])
    assert back["hotspot_id"].values.tolist() == [""]


def test_write_is_atomic_on_failure(tmp_path):
    ds = catalogue.assign_ids(detections([(*EMPTY_A, "2023-01-01", "a", "M", np.nan)]))
    with pytest.raises(FileNotFoundError):
        catalogue.write_catalogue_csv(tmp_path / "missing" / "cat.csv", ds)
    bad = ds.assign(spectrum=(("detection", "wavelength"), np.zeros((1, 3))))
    with pytest.raises(ValueError, match="spectrum"):
        catalogue.write_catalogue_csv(tmp_path / "cat.csv", bad)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------------ bad input


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"latitude.*\[-90, 90\]"):
        catalogue.match_named(91.0, 0.0)
    with pytest.raises(ValueError, match="longitude_east"):
        catalogue.match_named(0.0, np.inf)
    with pytest.raises(ValueError, match="tolerance"):
        catalogue.match_named(0.0, 0.0, -1.0)
    with pytest.raises(ValueError, match="pixel_scale_m"):
        catalogue.tolerance_for(-1.0)
    with pytest.raises(ValueError, match="radius"):
        catalogue.great_circle_distance(0, 0, 0, 1, radius=0.0)
    with pytest.raises(ValueError, match="latitude2"):
        catalogue.great_circle_distance(0, 0, -90.5, 1)
    good = detections([(*EMPTY_A, "2023-01-01", "a", "M", np.nan)])
    with pytest.raises(ValueError, match="latitude"):
        catalogue.assign_ids(good.drop_vars("latitude"))
    with pytest.raises(ValueError, match="detection"):
        catalogue.assign_ids(good.rename_dims(detection="row"))
    with pytest.raises(ValueError, match=r"detections\.latitude"):
        catalogue.assign_ids(good.assign(latitude=("detection", [120.0])))
    with pytest.raises(ValueError, match="pixel_scale"):
        catalogue.assign_ids(good.assign(pixel_scale=("detection", [-5.0])))
    with pytest.raises(ValueError, match="tolerance"):
        catalogue.assign_ids(good, tolerance=np.nan)
    with pytest.raises(ValueError, match="hotspot_id"):
        catalogue.assign_ids(good, previous=good)
    with pytest.raises(ValueError, match="hotspot_id"):
        catalogue.write_catalogue_csv("unused.csv", good)
    with pytest.raises(ValueError, match="tolerance must be one value"):
        catalogue.assign_ids(good, tolerance=[50.0, 60.0])
    ids = catalogue.assign_ids(good)
    with pytest.raises(ValueError, match="hotspot_id 'Loki Patera'"):
        catalogue.light_curve(ids, "Loki Patera")
