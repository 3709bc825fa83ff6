"""Hot spots on disk-resolved (adaptive-optics) images of Io: the lit disk's radial profile
removed before detection (thermal.detect.disk)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from tests.detect.test_find import _match, _row
from thermal.detect import disk_profile, find_disk_hotspots, find_hotspots, synthetic_frame

RADIUS = 0.5 * 1.2 / 0.009942  # Io 1.2 arcsec across on NIRC2's narrow camera [pixels]
DISK = {"radius": RADIUS, "radiance": 0.05, "limb_darkening": 0.7}


def _frames(count):
    """Sunlit disks 100 times the noise (limb darkening mu**0.7), PSF sigma 2 pixels, 8 spots
    of SNR 10-300 each on the disk."""
    for seed in range(count):
        image, truth = synthetic_frame(
            (256, 256), spots=8, pairs=0, disk=DISK, psf_sigma=2.0, noise=5e-4, seed=seed
        )
        image.attrs["psf_fwhm"] = 2.0 * 2.3548
        yield image, truth


@pytest.fixture(scope="module")
def measured():
    rows, false_positives, plain_found = [], 0, 0
    for image, truth in _frames(6):
        found = find_disk_hotspots(image)
        match, extra = _match(found, truth, tolerance=2.0)
        false_positives += extra
        rows += [_row(truth, found, k, j) for k, j in enumerate(match)]
        plain, _ = _match(find_hotspots(image.values), truth, tolerance=2.0)
        plain_found += int(np.sum(plain >= 0))
    return np.array(rows, dtype=float), false_positives, plain_found


def test_spots_near_the_limb_of_a_bright_disk_are_found(measured):
    """6 frames: 48 of 48 spots found, no false positive; find_hotspots with the JIRAM
    defaults and no disk model finds 35 (12 frames: 99 % against 68 %)."""
    rows, false_positives, plain_found = measured
    snr, found = rows[:, 0], rows[:, 2] > 0
    assert found[snr >= 10].mean() >= 0.95
    assert false_positives <= 1
    assert plain_found < 0.85 * found.sum()  # the disk model is what finds them


def test_positions_and_sums_against_the_disk_model(measured):
    rows, _, _ = measured
    found = rows[:, 2] > 0
    error, relative, z = rows[found, 3], rows[found, 4], rows[found, 5]
    # PSF sigma 2 px: the Cramer-Rao bound at SNR 10 is 0.28 px per axis
    assert np.median(error) < 0.1 and np.mean(error <= 0.5) >= 0.95
    assert np.mean((np.abs(relative) <= 0.05) | (np.abs(z) <= 3)) >= 0.95


def test_disk_centre_and_radius():
    image, _ = next(_frames(1))
    disk = disk_profile(image.values)
    assert np.allclose(disk["centre"], (127.5, 127.5), atol=0.2)
    assert abs(disk["radius"] - RADIUS) < 1.0
    residual = image.values - disk["model"]
    off_spots = np.abs(residual) < 5 * 5e-4
    assert off_spots.mean() > 0.99  # the model leaves noise and the spots


def test_night_side_and_bad_input():
    dark, _ = synthetic_frame((128, 128), spots=3, pairs=0, disk="dark", seed=2)
    assert disk_profile(dark.values) is None
    found = find_disk_hotspots(dark)
    assert np.isnan(found.attrs["disk_radius"]) and found.sizes["hotspot"] == 3
    assert disk_profile(np.full((64, 64), np.nan)) is None
    with pytest.raises(ValueError, match="2-D"):
        disk_profile(np.zeros(10))
    with pytest.raises(ValueError, match="psf_fwhm"):
        find_disk_hotspots(dark.values, psf_fwhm=-1.0)
    with pytest.raises(ValueError, match="psf_sigma"):
        find_hotspots(dark.values, psf_sigma=0.0)
    assert isinstance(found, xr.Dataset)


def _disk_image(shape, centre, radius, spots=(), sigma=2.0, seed=0):
    """A sunlit disk (0.05, mu**0.7, Gaussian-blurred by ``sigma``) with point spots of
    given (line, sample, sum), noise 5e-4."""
    from scipy import ndimage

    lines, samples = np.indices(shape, dtype=float)
    rho = np.hypot(lines - centre[0], samples - centre[1]) / radius
    disk = np.where(rho < 1, 0.05 * np.sqrt(np.clip(1 - rho**2, 0, 1)) ** 0.7, 0.0)
    image = ndimage.gaussian_filter(disk, sigma)
    for line, sample, total in spots:
        point = np.exp(-((lines - line) ** 2 + (samples - sample) ** 2) / (2 * sigma**2))
        image += total * point / point.sum()
    return image + np.random.default_rng(seed).normal(0.0, 5e-4, shape)


def test_a_small_disk_in_a_large_frame_is_modelled():
    """Io 50 pixels across in a 512 x 512 frame (0.75 % of the pixels)."""
    image = _disk_image((512, 512), (250.0, 260.0), 25.0)
    disk = disk_profile(image)
    assert disk is not None and np.allclose(disk["centre"], (250.0, 260.0), atol=0.3)


def test_a_spot_at_the_disk_centre_keeps_its_sum():
    """The ring medians near the centre are taken without the spot's pixels."""
    image = _disk_image((200, 200), (100.0, 100.0), 55.0, spots=[(100.0, 100.0, 0.2)])
    found = find_disk_hotspots(image, psf_fwhm=2.0 * 2.3548)
    assert found.sizes["hotspot"] == 1
    assert float(found["radiance_sum"][0]) == pytest.approx(0.2, rel=0.1)


def test_a_disk_cut_by_the_frame_edge_is_not_modelled():
    """Its centroid is not its centre: no model (a profile about a wrong centre leaves false
    spots); the image is searched as it is."""
    image = _disk_image((128, 128), (64.0, 10.0), 55.0, spots=[(64.0, 40.0, 0.5)])
    assert disk_profile(image) is None
    assert disk_profile(image, centre=(64.0, 10.0)) is not None  # a known centre is used
    for bad in [(64.0,), (64.0, np.nan), "centre", "64", b"12", {1: 2, 3: 4}, [[1.0, 2.0]], int]:
        with pytest.raises(ValueError, match="centre must be .line, sample.: two finite"):
            disk_profile(image, centre=bad)
    found = find_disk_hotspots(image, psf_fwhm=2.0 * 2.3548)
    assert np.isnan(found.attrs["disk_radius"]) and "edge" in found.attrs["disk_model"]


def test_a_data_array_keeps_its_axes_coordinates_and_band():
    image, truth = next(_frames(1))
    image = image.assign_coords(line=image["line"] + 128).transpose("sample", "line")
    found = find_disk_hotspots(image)
    k = int(np.argmax(truth["radiance_sum"].values))
    distance = np.hypot(
        found["line"].values - (truth["line"].values[k] + 128),
        found["sample"].values - truth["sample"].values[k],
    )
    assert distance.min() < 0.5
    assert found.attrs["band"] == image.attrs["band"]
