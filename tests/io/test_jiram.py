"""JIRAM PDS3 RDR products: byte order, units, L/M halves, footprint, spectrometer grid."""

from __future__ import annotations

import math
import os
import shutil
import warnings

import numpy as np
import pytest

from thermal import planck, simulate
from thermal.io import InputError, open_observation
from thermal.io.jiram import IFOV, spectrometer_wavelengths

SPOTS = ((60, 100, 900.0, 2.0e6), (190, 300, 600.0, 8.0e6))
RANGE = 80_000e3
EMISSION = 30.0
PIXEL_AREA = (RANGE * IFOV) ** 2 / math.cos(math.radians(EMISSION))


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jiram")
    return simulate.jiram_image(
        folder, spots=SPOTS, slant_distance=RANGE, emission_angle=EMISSION, noise=0.0
    )


@pytest.fixture(scope="module")
def spectrometer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jiram_spe")
    return simulate.jiram_spectrometer(folder, noise=0.0)


def test_image_golden_values(image):
    label, _ = image
    obs = open_observation(label)
    assert obs.attrs["byte_order"] == "little-endian"
    assert obs.radiance.dims == ("line", "sample", "band")
    assert list(obs.band.values) == ["jiram_l", "jiram_m"]
    r = obs.radiance.values
    # L in lines 0-127, M in 128-255, the other band NaN
    assert np.isfinite(r[:128, :, 0]).all() and np.isnan(r[:128, :, 1]).all()
    assert np.isfinite(r[128:, :, 1]).all() and np.isnan(r[128:, :, 0]).all()
    # golden: background radiances positive and O(1e-3)-O(1) W m-2 sr-1 um-1
    background = np.nanmedian(r)
    assert 1e-3 < background < 1.0 and np.nanmin(r) > 0
    for line, sample, temperature, area in SPOTS:
        band = "jiram_l" if line < 128 else "jiram_m"
        expected = 0.004 + area / PIXEL_AREA * float(planck.band_radiance(band, temperature))
        value = float(obs.radiance.sel(line=line, sample=sample, band=band))
        assert value == pytest.approx(expected, rel=1e-6)  # float32 storage
    np.testing.assert_allclose(obs.pixel_area, PIXEL_AREA, rtol=1e-6)
    np.testing.assert_allclose(obs.emission_angle, EMISSION)
    assert obs.radiance.attrs["original_units"] == "W/(m^2*sr*micron)"
    assert obs.attrs["product_id"] == "JIR_IMG_RDR_2017033T114006_V99"
    assert "juno_jiram_v02.ti" in obs.attrs["jiram_spice_file_name"]


def test_image_matches_pdr(image):
    pdr = pytest.importorskip("pdr")
    label, _ = image
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = np.asarray(pdr.read(label)["IMAGE"], dtype=float)
    obs = open_observation(label)
    ours = np.where(np.isnan(obs.radiance[..., 0]), obs.radiance[..., 1], obs.radiance[..., 0])
    np.testing.assert_array_equal(ours, reference)


def test_big_endian_file_is_detected(image, tmp_path):
    label, data = image
    values = np.fromfile(data, dtype="<f4")
    for name, content in (("x.LBL", open(label, "rb").read()),):
        (tmp_path / name).write_bytes(content.replace(os.path.basename(data).encode(), b"x.IMG"))
    values.astype(">f4").tofile(tmp_path / "x.IMG")
    obs = open_observation(tmp_path / "x.LBL")
    assert obs.attrs["byte_order"] == "big-endian"
    reference = open_observation(label)
    np.testing.assert_array_equal(obs.radiance, reference.radiance)


def test_band_integrated_unit(tmp_path):
    label, _ = simulate.jiram_image(tmp_path, unit="W/(m^2*sr)", noise=0.0)
    with pytest.warns(UserWarning, match="band_integrated") as caught:
        relabelled = open_observation(label)
    # once per frame, and naming the command line's option too
    assert len(caught) == 1 and "--radiance-unit band-integrated" in str(caught[0].message)
    divided = open_observation(label, band_integrated="divide")
    np.testing.assert_allclose(
        divided.radiance.sel(band="jiram_m"), relabelled.radiance.sel(band="jiram_m") / 0.4975
    )
    assert relabelled.radiance.attrs["original_units"] == "W/(m^2*sr)"


def test_a_spectrometer_product_says_how_its_unit_was_read(tmp_path):
    examples = os.path.join(os.path.dirname(__file__), "..", "..", "data", "examples")
    stem = "JIR_SPE_RDR_2017033T114007_V99"
    shutil.copy(os.path.join(examples, stem + ".DAT"), tmp_path / (stem + ".DAT"))
    text = open(os.path.join(examples, stem + ".LBL")).read()
    label = tmp_path / (stem + ".LBL")
    label.write_text(text.replace('"W/(m^2*sr*micron)"', '"W/(m^2*sr)"       '))
    with pytest.warns(UserWarning, match="read as per-um radiance") as caught:
        open_observation(label)
    assert len(caught) == 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        open_observation(label, band_integrated="divide")
    assert any("applies to imager frames only" in str(w.message) for w in caught)


def test_dividing_a_per_um_product_is_refused_with_a_warning(tmp_path):
    label, _ = simulate.jiram_image(tmp_path, noise=0.0)  # W/(m^2*sr*micron)
    with pytest.warns(UserWarning, match="is per um already: band_integrated='divide'"):
        asked = open_observation(label, band_integrated="divide")
    np.testing.assert_array_equal(asked.radiance, open_observation(label).radiance)


def test_missing_or_wrong_size_data(tmp_path):
    label, data = simulate.jiram_image(tmp_path, noise=0.0)
    content = open(data, "rb").read()
    with open(data, "wb") as handle:
        handle.write(content[:-1728])
    with pytest.raises(InputError, match=r"has 440640 bytes; the label implies 442368"):
        open_observation(label)
    os.remove(data)
    with pytest.raises(InputError, match=r"\.LBL: data file .* is missing"):
        open_observation(label)


@pytest.mark.parametrize(
    ("kind", "old", "new", "message"),
    [
        ("image", "SAMPLE_TYPE                     = IEEE_REAL  ",
         "SAMPLE_TYPE                     = MSB_INTEGER", "SAMPLE_TYPE = MSB_INTEGER: only"),
        ("spectrometer", "DATA_TYPE                       = IEEE_REAL  ",
         "DATA_TYPE                       = VAX_REAL   ", "DATA_TYPE = VAX_REAL: only"),
        ("spectrometer", "ITEM_BYTES                      = 4",
         "ITEM_BYTES                      = 8", "ITEM_BYTES = 8: only 4-byte"),
    ],
)  # fmt: skip
def test_a_label_declaring_data_this_reader_cannot_read_is_refused(
    tmp_path, kind, old, new, message
):
    """Integers, VAX floats or 8-byte items are not read as 32-bit floats (garbage fitted)."""
    if kind == "image":
        label, _ = simulate.jiram_image(tmp_path, noise=0.0)
    else:
        label, _ = simulate.jiram_spectrometer(tmp_path, noise=0.0)
    text = open(label).read()
    assert old in text
    with open(label, "w") as handle:
        handle.write(text.replace(old, new))
    with pytest.raises(InputError, match=message):
        open_observation(label)


def test_spectrometer(spectrometer):
    _, data = spectrometer
    obs = open_observation(data)  # the data file is opened through its label
    assert obs.radiance.dims == ("pixel", "wavelength")
    assert obs.radiance.shape == (256, 336)
    grid = spectrometer_wavelengths()
    assert grid.size == 336 and grid[0] == pytest.approx(2.00676) and grid[-1] == 5.01869
    np.testing.assert_array_equal(obs.wavelength, grid)
    truth = 0.002 + 0.3e6 / PIXEL_AREA * planck.spectral_radiance(grid, 1100.0)
    truth += 6.0e6 / PIXEL_AREA * planck.spectral_radiance(grid, 500.0)
    np.testing.assert_allclose(obs.radiance.sel(pixel=40), truth, rtol=1e-6)
    background = obs.radiance.sel(pixel=0).values
    assert np.all((background > 1e-3) & (background < 1.0))
    assert float(obs.pixel_area) == pytest.approx(PIXEL_AREA)


def test_spectrometer_matches_pdr(spectrometer):
    pdr = pytest.importorskip("pdr")
    label, _ = spectrometer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = np.asarray(pdr.read(label)["TABLE"], dtype=float)
    np.testing.assert_array_equal(open_observation(label).radiance, table)


def test_spectrometer_wavelength_override(spectrometer):
    label, _ = spectrometer
    grid = np.linspace(2.0, 5.0, 336)
    np.testing.assert_array_equal(open_observation(label, wavelengths=grid).wavelength, grid)
    with pytest.raises(InputError, match="336 spectral channels but 10 wavelengths"):
        open_observation(label, wavelengths=grid[:10])


def test_distance_override(image):
    label, _ = image
    obs = open_observation(label, distance=1e7)
    np.testing.assert_allclose(
        obs.pixel_area, (1e7 * IFOV) ** 2 / math.cos(math.radians(EMISSION))
    )
    with pytest.raises(ValueError, match="distance must be > 0"):
        open_observation(label, distance=-1.0)


def test_footprint_is_the_units_function(image, tmp_path):
    from thermal.units import surface_footprint_area

    label, data = image
    obs = open_observation(label)
    area = surface_footprint_area(RANGE, IFOV, EMISSION, 90.0)
    assert np.all(obs.pixel_area.values == area)  # the same arithmetic, bit for bit
    assert area == pytest.approx(PIXEL_AREA, rel=1e-15)
    # a label whose emission angle has no footprint: no pixel_area, a warning naming the file
    text = open(label, "rb").read()
    assert text.count(b"30.0000 <degree>") == 2
    (tmp_path / "limb.LBL").write_bytes(
        text.replace(b"30.0000 <degree>", b"95.0000 <degree>").replace(
            os.path.basename(data).encode(), b"limb.IMG"
        )
    )
    shutil.copy(data, tmp_path / "limb.IMG")
    with pytest.warns(UserWarning, match=r"limb\.LBL: no pixel_area: emission_angle must be"):
        limb = open_observation(tmp_path / "limb.IMG")
    assert "pixel_area" not in limb and float(limb.emission_angle.max()) == 95.0
    np.testing.assert_array_equal(limb.radiance, obs.radiance)


def test_a_label_cut_inside_an_object_says_so(tmp_path):
    label = tmp_path / "CUT.LBL"
    label.write_text("PDS_VERSION_ID = PDS3\nOBJECT = FILE\n  A = 1\n")
    with pytest.raises(InputError, match="ends before an OBJECT or GROUP is closed"):
        open_observation(label)
