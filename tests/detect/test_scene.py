"""Synthetic scenes: the truth they carry is the image they draw."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from thermal.detect import synthetic_frame, write_ao_image, write_jiram_frame
from thermal.io.jiram import read_jiram


def test_injected_sums_are_exact():
    spots = [(40.3, 100.7, 0.05), (80.0, 300.2, 0.02)]
    image, truth = synthetic_frame(spots=spots, disk=None, noise=0.0, psf_sigma=1.3)
    np.testing.assert_allclose(truth.radiance_sum, [0.05, 0.02], rtol=1e-12)
    np.testing.assert_allclose(float(image.sum()), 0.07, rtol=1e-12)
    assert image.dims == ("line", "sample") and image.attrs["band"] == "jiram_m"
    np.testing.assert_array_equal(truth.line, [40.3, 80.0])


def test_disk_limb_and_darkening():
    image, truth = synthetic_frame(
        spots=0,
        pairs=0,
        noise=0.0,
        disk={"centre": (64.0, 200.0), "radius": 40.0, "radiance": 0.01, "limb_darkening": 0.5},
    )
    values = image.values
    assert values[64, 200] == pytest.approx(0.01, rel=0.01)
    assert values[64, 260] == 0.0 and values[64, 150] < values[64, 180] < values[64, 200]
    assert "radius=40.00" in truth.attrs["disk"]
    dark, _ = synthetic_frame(spots=0, pairs=0, disk="dark", noise=0.0)
    assert dark.values.max() <= 5e-6 * 1.0001


def test_saturation_pairs_and_offset():
    image, truth = synthetic_frame(
        spots=4, pairs=2, saturation=0.01, snr=(100, 300), seed=5, line_offset=128
    )
    assert image.values.max() == 0.01
    assert truth.saturated.any() and truth.sizes["hotspot"] == 8
    assert sorted(set(truth.pair.values)) == [-1, 0, 1]
    a, b = np.flatnonzero(truth.pair.values == 0)
    separation = np.hypot(truth.line[a] - truth.line[b], truth.sample[a] - truth.sample[b])
    assert float(separation) == pytest.approx(3.0)
    assert int(image.line[0]) == 128 and truth.line.min() >= 128


def test_bad_arguments():
    for kwargs in (
        {"psf_sigma": 0},
        {"noise": -1},
        {"saturation": 0},
        {"disk": "grey"},
        {"disk": {"radius": -2}},
        {"band": "nope"},
        {"shape": (0, 4)},
    ):
        with pytest.raises(ValueError):
            synthetic_frame(**kwargs)


def test_jiram_frame_reads_back(tmp_path):
    label, data, truth = write_jiram_frame(tmp_path, m_scene={"spots": 3, "pairs": 0})
    ds = read_jiram(label)
    assert ds.radiance.shape == (256, 432, 2)
    assert set(truth.band.values) == {"jiram_l", "jiram_m"}
    m = truth.band.values == "jiram_m"
    assert m.sum() == 3 and np.all(truth.line.values[m] >= 128)
    assert np.all(truth.line.values[~m] < 128)
    raw = np.fromfile(data, "<f4").reshape(256, 432)
    np.testing.assert_allclose(ds.radiance.sel(band="jiram_m").values[128:], raw[128:])


def test_ao_image_header(tmp_path):
    path, truth = write_ao_image(tmp_path / "io.fits", filter_name="Ms", spots=3)
    header = fits.getheader(path)
    assert header["FILTER"].startswith("Ms") and header["INSTRUME"] == "NIRC2"
    assert header["PIXSCALE"] == pytest.approx(0.009942)
    assert header["BUNIT"] == "W m-2 sr-1 um-1" and header["DATE-OBS"].startswith("2013")
    assert fits.getdata(path).shape == (256, 256) and truth.attrs["band"] == "nirc2_ms"
    with pytest.raises(ValueError, match="filter_name"):
        write_ao_image(tmp_path / "x.fits", filter_name="Q")
