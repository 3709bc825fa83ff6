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
