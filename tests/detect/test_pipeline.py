"""From observations to hot spots (thermal.detect.pipeline): JIRAM frames and cubes."""

from __future__ import annotations

import os

import numpy as np
import pytest

from thermal import planck, simulate
from thermal.constants import STEFAN_BOLTZMANN
from thermal.detect.pipeline import detect_hotspots, detection_table, image_kind
from thermal.io import InputError, open_observation
from thermal.io.jiram import IFOV, frame_geometry
from thermal.status import Status

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "data", "examples")
SPOTS = ((60, 100, 900.0, 2.0e6), (190, 300, 600.0, 8.0e6))  # simulate.jiram_image's default


def _frame(folder, name="JIR_IMG_RDR_TEST_V01", **options):
    label, _ = simulate.jiram_image(folder, name, **options)
    return label, open_observation(label)


def _detect(label, observation, **options):
    return detect_hotspots(observation, label_geometry=frame_geometry(label), ifov=IFOV, **options)


def test_jiram_frame_spots_with_label_geometry(tmp_path):
    """Both injected spots (L top half, M bottom half) are found where they were put, with
    their radiance, and intensity and spectral flux follow the formulas of the label geometry
    (range 80,000 km, emission angle 30 degrees) to 1 %; the power range holds the truth."""
    label, obs = _frame(tmp_path)
    spots = _detect(label, obs)
    assert spots.sizes["hotspot"] == 2
    assert spots.attrs["geometry_source"] == "label"
    order = np.argsort(spots["line"].values)
    distance, emission = 80_000e3, 30.0
    pixel_area = (distance * IFOV) ** 2 / np.cos(np.radians(emission))
    for k, (line, sample, temperature, area) in zip(order, SPOTS, strict=True):
        spot = spots.isel(hotspot=k)
        band = "jiram_l" if line < 128 else "jiram_m"
        assert str(spot["band"].values) == band
        assert abs(float(spot["line"]) - line) < 0.3
        assert abs(float(spot["sample"]) - sample) < 0.3
        injected = area / pixel_area * float(planck.band_radiance(band, temperature))
        np.testing.assert_allclose(float(spot["radiance_sum"]), injected, rtol=0.05)
        radiance_sum = float(spot["radiance_sum"])
        np.testing.assert_allclose(
            float(spot["intensity"]), radiance_sum * (distance * IFOV) ** 2, rtol=0.01
        )
        np.testing.assert_allclose(
            float(spot["spectral_flux"]),
            np.pi * float(spot["intensity"]) / np.cos(np.radians(emission)),
            rtol=0.01,
        )
        truth = area * STEFAN_BOLTZMANN * temperature**4
        assert float(spot["power_lower"]) <= truth * 1.05
        assert float(spot["power_upper"]) >= truth * 0.95
        # the label knows the frame's centre only: no per-spot position to match by
        assert "latitude" not in spots and np.isfinite(float(spot["frame_latitude"]))


def test_spots_beyond_the_limb_limit_get_no_flux(tmp_path):
    label, obs = _frame(tmp_path, emission_angle=85.0)
    spots = _detect(label, obs)
    assert spots.sizes["hotspot"] == 2
    assert spots["limb"].values.all()
    for name in ("spectral_flux", "power_lower", "power_upper"):
        assert np.isnan(spots[name].values).all()
    assert np.isfinite(spots["radiance_sum"].values).all()  # still measured, in pixel units
    loose = _detect(label, obs, max_emission_angle=90.0)
    assert not loose["limb"].values.any()


def test_empty_label_geometry_still_detects_in_pixel_units(tmp_path):
    """Frames of orbits >= 39 have "N/A" geometry: spots are found, nothing physical is made up."""
    label, _ = simulate.jiram_image(tmp_path, "JIR_IMG_RDR_NOGEOM_V01")
    with open(label, encoding="ascii", newline="") as handle:
        text = handle.read()
    for key in ("SLANT_DISTANCE", "EMISSION_ANGLE", "CENTER_LATITUDE", "CENTER_LONGITUDE",
                "PIXEL_SCALE"):  # fmt: skip
        text = "\r\n".join(
            f'{line.split("=")[0]}= "N/A"' if line.strip().startswith(key) else line
            for line in text.split("\r\n")
        )
    with open(label, "w", encoding="ascii", newline="") as handle:
        handle.write(text)
    obs = open_observation(label)
    spots = _detect(label, obs)
    assert spots.sizes["hotspot"] == 2
    assert spots.attrs["geometry_source"] == "none"
    assert "spectral_flux" not in spots and "power_lower" not in spots


def test_an_all_nan_frame_has_no_spots(tmp_path):
    label, obs = _frame(tmp_path)
    obs["radiance"][:] = np.nan
    spots = _detect(label, obs)
    assert spots.sizes["hotspot"] == 0


def test_observations_without_an_image_are_refused():
    obs = open_observation(os.path.join(EXAMPLES, "keck_2013-08.csv"))
    assert image_kind(obs) == ""
    with pytest.raises(InputError, match="no image"):
        detect_hotspots(obs)


def test_the_detection_table_has_one_row_per_spot(tmp_path):
    label, obs = _frame(tmp_path)
    spots = _detect(label, obs)
    spots.attrs["time_coverage_start"] = "2017-02-02T11:40:06"
    table = detection_table([spots, spots.isel(hotspot=[0])])
    assert table.sizes["detection"] == 3
    np.testing.assert_allclose(table["pixel_scale"].values, 80_000e3 * IFOV)
    assert list(table["time"].values) == ["2017-02-02T11:40:06"] * 3


@pytest.mark.parametrize("bad", [0.0, -1.0, 95.0, np.nan])
def test_bad_emission_angle_limits_are_refused(tmp_path, bad):
    label, obs = _frame(tmp_path)
    with pytest.raises(ValueError, match="max_emission_angle"):
        _detect(label, obs, max_emission_angle=bad)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"max_emission_angle": "x"}, "max_emission_angle must be in"),
        ({"temperature_range": (1400.0, 300.0)}, r"temperature_range must be \(low, high\)"),
        ({"temperature_range": 500.0}, "temperature_range must be"),
        ({"ifov": -1.0}, r"ifov must be in \(0, 0.1\)"),
        ({"fit": True, "model": "4T"}, "model must be"),
    ],
)
def test_options_are_checked_before_the_search(tmp_path, options, match):
    """Without geometry too: a bad option is refused, never silently ignored."""
    _, obs = _frame(tmp_path)
    with pytest.raises(ValueError, match=match):
        detect_hotspots(obs, **options)


def test_what_is_not_an_observation_is_refused(tmp_path):
    _, obs = _frame(tmp_path)
    with pytest.raises(ValueError, match="observation must be an xarray.Dataset"):
        detect_hotspots(obs["radiance"])


def test_a_spot_seen_in_both_bands_gets_a_one_temperature_fit(tmp_path):
    """Backplanes put the L spot (line 60) and the M spot (line 190) at one place on Io: the
    pair is fitted with one blackbody, which gives back the injected 900 K and 2 km2."""
    from thermal.geometry import from_backplanes

    spot = (900.0, 2.0e6)
    # a third spot, in the L half only (lat 3, lon 40): no partner
    _, obs = _frame(tmp_path, spots=((60, 100, *spot), (190, 300, *spot), (30, 400, *spot)))
    line, sample = np.meshgrid(np.arange(256.0), np.arange(432.0), indexing="ij")
    top = line < 128
    planes = from_backplanes(
        {
            "latitude": np.where(top, line * 0.1, (line - 130) * 0.1),
            "longitude": np.where(top, sample * 0.1, (sample - 200) * 0.1) % 360,
            "emission_angle": np.full(line.shape, 30.0),
            "range": np.full(line.shape, 80_000e3),
        }
    )
    spots = detect_hotspots(obs, geometry=planes, ifov=IFOV)
    assert spots.attrs["geometry_source"] == "backplanes"
    paired = spots["partner"].values >= 0
    assert paired.sum() == 2 and sorted(spots["partner"].values[paired]) == list(
        np.flatnonzero(paired)
    )
    np.testing.assert_allclose(spots["temperature_1t"].values[paired], spot[0], rtol=0.02)
    np.testing.assert_allclose(spots["area_1t"].values[paired], spot[1], rtol=0.05)
    np.testing.assert_array_equal(spots["status_1t"].values[paired], Status.CONVERGED)
    np.testing.assert_allclose(spots["latitude"].values[paired], 6.0, atol=0.01)
    # the unpaired spot: no numbers, a status code among the declared CF flags
    assert np.isnan(spots["temperature_1t"].values[~paired]).all()
    np.testing.assert_array_equal(spots["status_1t"].values[~paired], Status.NO_DATA)
    assert set(spots["status_1t"].values) <= set(spots["status_1t"].attrs["flag_values"])
    # the catalogue's rows carry the pair's temperature and power: a light curve of them
    table = detection_table([spots])
    np.testing.assert_array_equal(table["power_1t"].values, spots["power_1t"].values)
    assert table["temperature_1t"].attrs["units"] == "K"
    # a fit that did not converge gives the table no numbers
    spots["status_1t"].values[np.flatnonzero(paired)[0]] = Status.POOR_FIT
    assert np.isnan(detection_table([spots])["power_1t"].values[np.flatnonzero(paired)[0]])


def test_the_bundled_cube_spot_is_found_and_fitted():
    """The JWST example: one spaxel (y 2, x 3) holds a 1000 K blackbody filling 2e-4 of it on
    a flat background (data/README.md). Its spot, radiance and temperature come back."""
    obs = open_observation(os.path.join(EXAMPLES, "jwst_nirspec_synthetic_s3d.fits"))
    spots = detect_hotspots(obs, fit=True)
    assert spots.sizes["hotspot"] == 1
    assert abs(float(spots["line"][0]) - 2) < 0.3 and abs(float(spots["sample"][0]) - 3) < 0.3
    wavelength = obs["wavelength"].values
    injected = 2e-4 * np.mean(np.asarray(planck.spectral_radiance(wavelength, 1000.0)))
    np.testing.assert_allclose(float(spots["radiance_sum"][0]), injected, rtol=0.05)
    assert int(spots["status"][0]) == 0
    np.testing.assert_allclose(np.nanmax(spots["temperature"].values), 1000.0, rtol=0.02)
    # the summed spectrum is the spot's: 2e-4 of the spaxel's blackbody at every wavelength
    expected = 2e-4 * np.asarray(planck.spectral_radiance(wavelength, 1000.0))
    np.testing.assert_allclose(spots["spectrum"].values[0], expected, rtol=0.1)  # noisy cube
    np.testing.assert_allclose(spots["spectrum"].values[0].sum(), expected.sum(), rtol=0.02)
    # its noise is the cube's own (ERR), averaged as the image is: 30 spaxels are too few for
    # a scatter estimate (which gave a negligible floor and an SNR of 7e6)
    assert spots.attrs["noise_method"] == "per-pixel uncertainty given"
    sigma = obs["radiance_uncertainty"].isel(y=2, x=3).values
    pixel = np.sqrt(np.sum(sigma**2)) / sigma.size
    assert pixel <= float(spots["radiance_sum_uncertainty"][0]) < 3 * pixel
    assert 50 < float(spots["snr"][0]) < 1000
