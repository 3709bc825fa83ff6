"""Adaptive-optics FITS images (thermal.io.ao): header keywords, units, the registry's refusal
and hostile files. Every file is written here with astropy.io.fits."""

from __future__ import annotations

import gzip
import math
import os

import numpy as np
import pytest

from thermal import bands, units
from thermal.io import InputError, OptionError, detect_format, limits, open_observation
from thermal.io.ao import NIRC2_PIXEL_SCALES, read_ao_image, sniff_ao_image
from thermal.units import ASTRONOMICAL_UNIT

fits = pytest.importorskip("astropy.io.fits")

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "data", "examples")
NIRC2 = {
    "INSTRUME": "NIRC2",
    "CAMNAME": "narrow",
    "FILTER": "Lp + clear",
    "FWINAME": "Lp",
    "FWONAME": "clear",
    "BUNIT": "Jy/pixel",
    "DATE-OBS": "2013-08-15",
    "UTC": "15:30:01.5",
}


def _write(path, data=None, **cards):
    """A single-HDU FITS image with ``cards`` (None: leave the keyword out)."""
    data = np.arange(20 * 30, dtype=np.float32).reshape(20, 30) if data is None else data
    header = fits.Header()
    for key, value in cards.items():
        if value is not None:
            header[key] = value
    fits.PrimaryHDU(data, header).writeto(path)
    return str(path)


def nirc2(path, data=None, **changes):
    return _write(path, data, **{**NIRC2, **changes})


def test_nirc2_image_axes_band_time_scale(tmp_path):
    data = np.zeros((20, 30), dtype=np.float32)
    data[3, 7] = 2.5  # numpy row 3 = FITS NAXIS2 index 3 (line), column 7 = NAXIS1 (sample)
    image = read_ao_image(nirc2(tmp_path / "lp.fits", data), distance=6.3e11)
    assert image.dims == ("line", "sample")
    assert image.sizes == {"line": 20, "sample": 30}
    assert float(image.sel(line=3, sample=7)) == 2.5
    assert image.name == "flux_density" and image.attrs["units"] == "Jy"
    assert str(image.band.values) == "nirc2_lp"
    assert image.time.values == np.datetime64("2013-08-15T15:30:01.500", "ns")
    assert float(image.pixel_scale) == NIRC2_PIXEL_SCALES["narrow"] == 0.009942
    assert float(image.distance) == 6.3e11
    assert image.attrs["filter"] == "Lp"
    # diffraction limit 1.03 lambda / D at 3.776 um for Keck: 0.0802 arcsec, 8.07 pixels
    assert image.attrs["psf_fwhm"] == pytest.approx(8.07, abs=0.01)
    assert image.line.values[0] == 0 and image.sample.values[-1] == 29


@pytest.mark.parametrize(
    ("cards", "band"),
    [
        ({"FILTER": "Ms + clear"}, "nirc2_ms"),
        ({"FILTER": "Kcont"}, "nirc2_kc"),
        ({"FILTER": "PAH"}, "nirc2_pah"),
        ({"FILTER": "Br_alpha_cont"}, "nirc2_bracont"),
        ({"FILTER": "H"}, "nirc2_h"),
        ({"FILTER": None, "FWINAME": "PK50_1.5", "FWONAME": "Ms"}, "nirc2_ms"),
        (
            {
                "INSTRUME": "NIRI",
                "FILTER": None,
                "FILTER1": "open",
                "FILTER2": "pupil38",
                "FILTER3": "Mprime_G0208",
            },
            "mko_mp",
        ),
        ({"INSTRUME": "NIRI", "FILTER": "Lprime_G0207"}, "mko_lp"),
    ],
)
def test_filter_names_map_to_bands(tmp_path, cards, band):
    changes = {"FWINAME": None, "FWONAME": None, **cards}
    image = read_ao_image(nirc2(tmp_path / "image.fits", **changes))
    assert str(image.band.values) == band


def test_units_are_converted_to_jy_per_pixel(tmp_path):
    data = np.full((20, 30), 2.0, dtype=np.float32)
    cases = {
        "mJy pix-1": 2e-3,
        "Jy": 2.0,
        "mJy/arcsec2": 2e-3 * 0.02**2,  # PIXSCALE 0.02 arcsec
        "MJy/sr": 2e6 * (0.02 * math.pi / 180 / 3600) ** 2,
    }
    for k, (unit, expected) in enumerate(cases.items()):
        path = nirc2(tmp_path / f"u{k}.fits", data, BUNIT=unit, PIXSCALE=0.02)
        image = read_ao_image(path)
        assert float(image[0, 0]) == pytest.approx(expected, rel=1e-12), unit
        assert image.attrs["original_units"] == unit
    # detector counts need calibration= [Jy per data unit]
    counts = nirc2(tmp_path / "counts.fits", data, BUNIT="DN/s")
    with pytest.raises(
        InputError, match=r"counts\.fits: BUNIT 'DN/s': uncalibrated.*calibration="
    ):
        read_ao_image(counts)
    assert float(read_ao_image(counts, calibration=3e-5)[0, 0]) == pytest.approx(6e-5)
    raw = nirc2(tmp_path / "raw.fits", data, BUNIT=None)  # raw NIRC2 frames have no BUNIT
    with pytest.raises(InputError, match="no BUNIT: uncalibrated"):
        read_ao_image(raw)
    with pytest.raises(OptionError, match="already in 'Jy/pixel'"):
        read_ao_image(nirc2(tmp_path / "jy.fits"), calibration=2.0)
    with pytest.raises(InputError, match="BUNIT 'W' is not a flux density"):
        read_ao_image(nirc2(tmp_path / "w.fits", BUNIT="W"))
    nowhere = nirc2(tmp_path / "sb.fits", BUNIT="mJy/arcsec2", CAMNAME=None)
    with pytest.raises(InputError, match="pixel scale is unknown.*pixel_scale="):
        read_ao_image(nowhere)
    assert float(read_ao_image(nowhere, pixel_scale=0.01)[0, 1]) == pytest.approx(1e-7)


def test_distance_time_and_wcs_scale_from_the_header(tmp_path):
    path = nirc2(
        tmp_path / "h.fits",
        DELTA=4.5,
        CAMNAME=None,
        CD1_1=-2.7e-6,
        CD1_2=0.0,
        UTC=None,
        EXPSTART="10:00:00",
    )
    image = read_ao_image(path)
    assert float(image.distance) == pytest.approx(4.5 * ASTRONOMICAL_UNIT)
    assert float(read_ao_image(path, distance=1e12).distance) == 1e12
    assert float(image.pixel_scale) == pytest.approx(0.00972)
    assert image.time.values == np.datetime64("2013-08-15T10:00:00", "ns")
    bare = nirc2(tmp_path / "bare.fits", **{"DATE-OBS": None, "UTC": None, "CAMNAME": None})
    image = read_ao_image(bare)
    assert np.isnat(image.time.values)
    assert math.isnan(float(image.distance)) and math.isnan(float(image.pixel_scale))
    assert math.isnan(image.attrs["psf_fwhm"])
    mjd = nirc2(tmp_path / "mjd.fits", **{"DATE-OBS": None, "MJD-OBS": 56519.5})
    assert read_ao_image(mjd).time.values == np.datetime64("2013-08-15T12:00", "ns")


def test_gemini_multi_extension_file(tmp_path):
    primary = fits.PrimaryHDU()
    primary.header.update(
        {"INSTRUME": "NIRI", "FILTER1": "open", "FILTER3": "Lprime_G0207", "PIXSCALE": 0.0219}
    )
    sci = fits.ImageHDU(np.ones((16, 24), dtype=np.float32), name="SCI")
    sci.header["BUNIT"] = "mJy/pixel"
    path = tmp_path / "N20130815S0100.fits"
    fits.HDUList([primary, sci]).writeto(path)
    with open(path, "rb") as handle:
        assert sniff_ao_image(handle.read(4096))
    assert detect_format(path) == "ao"
    image = read_ao_image(path, distance=6e11)
    assert image.sizes == {"line": 16, "sample": 24}
    assert str(image.band.values) == "mko_lp"
    assert float(image[0, 0]) == pytest.approx(1e-3)
    # Gemini N: 1.03 * 3.77e-6 / 8.1 rad = 0.0989 arcsec = 4.5 pixels of 0.0219 arcsec
    assert image.attrs["psf_fwhm"] == pytest.approx(4.52, abs=0.01)
    for which in (1, "sci"):
        np.testing.assert_array_equal(read_ao_image(path, hdu=which).values, image.values)
    with pytest.raises(InputError, match="the image HDU has no 2-D data"):
        read_ao_image(path, hdu=0)
    with pytest.raises(InputError, match="no HDU 5 .the file has 2."):
        read_ao_image(path, hdu=5)
    with pytest.raises(InputError, match="no extension named 'ERR'"):
        read_ao_image(path, hdu="ERR")


def test_gzip_file_and_fits_warnings_are_kept_not_raised(tmp_path):
    path = nirc2(tmp_path / "lp.fits")
    with open(path, "rb") as source, gzip.open(tmp_path / "lp.fits.gz", "wb") as target:
        target.write(source.read())
    assert read_ao_image(tmp_path / "lp.fits.gz").sizes == {"line": 20, "sample": 30}
    # an unquoted string value: astropy warns (and refuses the card); the test run turns
    # warnings into errors, so anything that leaked would fail here
    raw = bytearray(open(path, "rb").read())
    start = raw.find(b"FILTER  = ")
    raw[start : start + 80] = b"FILTER  = Lp / unquoted".ljust(80)
    bad = tmp_path / "bad_card.fits"
    bad.write_bytes(bytes(raw))
    image = read_ao_image(bad)  # FWINAME still names Lp
    assert str(image.band.values) == "nirc2_lp"
    assert "FILTER" in image.attrs["fits_warnings"]


def test_registry_refuses_ao_images_in_fit_and_keeps_jwst_cubes(tmp_path):
    path = nirc2(tmp_path / "lp.fits")
    assert detect_format(path) == "ao"
    with pytest.raises(InputError, match=r"lp\.fits: an adaptive-optics image.*thermal detect"):
        open_observation(path)
    assert detect_format(os.path.join(EXAMPLES, "jwst_nirspec_synthetic_s3d.fits")) == "fits"
    # a bare 2-D array with a short header and no filter is not claimed
    fits.PrimaryHDU(np.zeros((3, 3))).writeto(tmp_path / "flat.fits")
    assert detect_format(tmp_path / "flat.fits") == "fits"
    assert not sniff_ao_image(b"CDF\x01" + bytes(100))
    head = fits.PrimaryHDU().header.tostring().encode()
    assert not sniff_ao_image(head)  # NAXIS = 0 without NIRC2/NIRI: a cube's primary HDU


@pytest.mark.parametrize(
    ("cards", "message"),
    [
        ({"FILTER": None, "FWINAME": None, "FWONAME": None}, "no filter in the header"),
        ({"FILTER": "Jcont", "FWINAME": None}, "unknown filter 'Jcont'"),
        ({"FILTER": "Lp", "FWINAME": "Ms"}, "several filters"),
        ({"INSTRUME": "LMIRCAM", "FILTER": "Lp"}, "only NIRC2 and NIRI"),
        ({"DATE-OBS": "15/08/2013", "UTC": None}, "is not an ISO 8601"),
        ({"DATE-OBS": "9999-12-31"}, "is out of range"),
        ({"DATE-OBS": None, "MJD-OBS": 1e9}, "MJD-OBS = 1000000000.0 is out of range"),
        ({"PIXSCALE": -1.0, "BUNIT": "mJy/arcsec2"}, "PIXSCALE = -1.0 must be > 0"),
        ({"DELTA": "far"}, "DELTA = 'far' is not a number"),
    ],
)
def test_bad_headers_are_one_line_input_errors(tmp_path, cards, message):
    path = nirc2(tmp_path / "bad.fits", **cards)
    with pytest.raises(InputError, match=message) as caught:
        read_ao_image(path)
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)


def test_band_option_overrides_and_rescues(tmp_path):
    path = nirc2(tmp_path / "j.fits", FILTER="Jcont", FWINAME=None, FWONAME=None)
    assert str(read_ao_image(path, band="nirc2_j").band.values) == "nirc2_j"
    assert str(read_ao_image(nirc2(tmp_path / "b.fits"), band="NIRC2_MS").band.values) == (
        "nirc2_ms"
    )


def test_hostile_files(tmp_path):
    cube = np.zeros((4, 8, 8), dtype=np.float32)
    with pytest.raises(InputError, match="3-D data .4 x 8 x 8.: one 2-D image per file"):
        read_ao_image(nirc2(tmp_path / "cube.fits", cube))
    single = nirc2(tmp_path / "single.fits", np.ones((1, 8, 8), dtype=np.float32))
    assert read_ao_image(single).sizes == {"line": 8, "sample": 8}  # a degenerate axis
    whole = open(nirc2(tmp_path / "whole.fits"), "rb").read()
    (tmp_path / "truncated.fits").write_bytes(whole[:-2000])
    with pytest.raises(InputError, match="truncated or corrupt"):
        read_ao_image(tmp_path / "truncated.fits")
    (tmp_path / "text.fits").write_text("hotspot,time\n")
    with pytest.raises(InputError, match="not a FITS file"):
        read_ao_image(tmp_path / "text.fits")
    (tmp_path / "empty.fits").write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        read_ao_image(tmp_path / "empty.fits")
    with pytest.raises(InputError, match="no such file"):
        read_ao_image(tmp_path / "missing.fits")
    big = nirc2(tmp_path / "big.fits", np.zeros((256, 256), dtype=np.float32))
    with limits.memory_budget(256 * 256 * 10), pytest.raises(InputError, match="max_memory"):
        read_ao_image(big)
    with pytest.raises(InputError, match=r"big\.fits: the image .256 x 256 pixels. would need"):
        read_ao_image(big, max_memory=2**20)
    # a repeated NAXIS1 card: astropy reads the last, the structure check saw the first
    raw = bytearray(whole)
    end = raw.find(b"END" + b" " * 77)
    raw[end : end + 160] = b"NAXIS1  = 99999999".ljust(80) + b"END".ljust(80)
    (tmp_path / "twice.fits").write_bytes(bytes(raw))
    with pytest.raises(InputError, match="NAXIS1 is given twice with different values"):
        read_ao_image(tmp_path / "twice.fits")
    no_data = tmp_path / "nodata.fits"
    fits.PrimaryHDU(header=fits.Header({"FILTER": "Lp", "INSTRUME": "NIRC2"})).writeto(no_data)
    with pytest.raises(InputError, match="no image data"):
        read_ao_image(no_data)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"band": "lp"}, "band must be one of"),
        ({"distance": -1.0}, "distance must be finite and > 0"),
        ({"calibration": 0.0}, "calibration must be finite and > 0"),
        ({"pixel_scale": float("nan")}, "pixel_scale must be finite and > 0"),
        ({"hdu": 1.5}, "hdu must be an HDU index or an EXTNAME"),
        ({"timeout": 0.0}, "timeout must be > 0"),
        ({"max_memory": -1}, "max_memory must be a number of bytes > 0"),
    ],
)
def test_bad_options_are_value_errors(tmp_path, options, message):
    with pytest.raises(ValueError, match=message) as caught:
        read_ao_image(nirc2(tmp_path / "lp.fits"), **options)
    assert not isinstance(caught.value, InputError)


def test_the_synthetic_scene_writer_reads(tmp_path):
    # thermal.detect.scene.write_ao_image writes radiance [W m-2 sr-1 um-1] with PIXSCALE
    from thermal.detect.scene import write_ao_image

    path, _ = write_ao_image(tmp_path / "scene.fits")
    assert detect_format(path) == "ao"
    image = read_ao_image(path)
    raw = fits.getdata(path).astype(float)
    pixel = (float(image.pixel_scale) * math.pi / 180 / 3600) ** 2  # [sr]
    jy = units.intensity_to_flux_density(1.0, bands.get(str(image.band.values)).centre, 1.0)
    np.testing.assert_allclose(image.values, raw * pixel * jy, rtol=1e-12)
    assert "converted at the band centre" in image.attrs["calibration"]
