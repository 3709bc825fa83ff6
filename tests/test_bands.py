"""Tests of thermal.bands: the bundled set, quadrature, user bands, the `thermal bands` CLI."""

import numpy as np
import pytest

from thermal import bands, planck
from thermal.cli import main

REQUIRED = [
    "nirc2_kc",
    "nirc2_h2o",
    "nirc2_pah",
    "nirc2_lp",
    "nirc2_bra",
    "nirc2_bracont",
    "nirc2_ms",
    "mko_lp",
    "mko_mp",
    "jiram_l",
    "jiram_m",
]


def test_required_bands_are_bundled():
    assert set(REQUIRED) <= set(bands.names())
    for name in bands.names():
        band = bands.get(name)
        assert band.reference and band.kind == "top-hat"
        assert band.provenance in {"published", "recalled"}
        assert band.weights.sum() == pytest.approx(1.0, rel=1e-14)
        lo, hi = band.range
        assert lo < band.centre < hi
        assert hi - lo == pytest.approx(band.width, rel=1e-12)


def test_published_ranges():
    # NIRC2 50 % ranges of the Keck NIRC2 filter page (docs/physics.md, The bundled bands)
    assert bands.get("nirc2_kc").range == pytest.approx((2.2558, 2.2854), abs=1e-9)
    assert bands.get("nirc2_lp").range == pytest.approx((3.426, 4.126), abs=1e-9)
    assert bands.get("nirc2_ms").range == pytest.approx((4.5495, 4.7905), abs=1e-9)
    assert bands.get("jiram_m").range == pytest.approx((4.537, 5.035), abs=1e-9)


def test_get_is_case_insensitive_and_rejects_unknown():
    assert bands.get("NIRC2_LP") is bands.get("nirc2_lp")
    with pytest.raises(ValueError, match="unknown band 'nirc2_q'.*nirc2_lp"):
        bands.get("nirc2_q")


def test_from_table_triangle_is_integrated_exactly():
    band = bands.from_table("triangle", [3.0, 3.5, 4.0], [0.0, 1.0, 0.0], reference="test")
    assert band.centre == pytest.approx(3.5)
    assert band.width == pytest.approx(0.5)
    # mean of a linear function over a symmetric triangle is its value at the centre
    assert np.sum(band.weights * (2.0 * band.nodes + 1.0)) == pytest.approx(8.0, rel=1e-14)
    # a photometric model through this band is the triangle-weighted Planck mean
    t = 600.0
    x = np.linspace(3.0, 4.0, 200_001)
    r = np.interp(x, [3.0, 3.5, 4.0], [0.0, 1.0, 0.0])
    expected = np.trapezoid(r * planck.spectral_radiance(x, t), x) / np.trapezoid(r, x)
    assert planck.band_radiance(band, t) == pytest.approx(expected, rel=1e-9)


def test_from_table_clips_noise_and_validates():
    band = bands.from_table("noisy", [1.0, 2.0, 3.0, 4.0], [-0.01, 50.0, 50.0, -0.02])
    assert band.response.min() == 0.0
    with pytest.raises(ValueError, match="strictly increasing"):
        bands.from_table("bad", [2.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="wavelength must be finite and > 0"):
        bands.from_table("bad", [-1.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="response must be > 0"):
        bands.from_table("bad", [1.0, 2.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="width"):
        bands.top_hat("bad", 3.0, 7.0)


def test_read_response_in_nm_and_register(tmp_path):
    path = tmp_path / "filter.csv"
    path.write_text("# wavelength [nm], transmission [%]\n3400, 0\n3500, 80\n3600, 80\n3700, 0\n")
    band = bands.read_response(path, "my_filter", wavelength_unit="nm", reference="lab scan")
    assert band.wavelength[0] == pytest.approx(3.4)
    assert band.centre == pytest.approx(3.55)
    bands.register(band)
    try:
        assert bands.get("my_filter") is band
        with pytest.raises(ValueError, match="exists"):
            bands.register(band)
        assert planck.band_radiance("my_filter", 500.0) > 0
    finally:
        bands._REGISTRY.pop("my_filter")


@pytest.mark.parametrize(
    "header", ["wavelength,response", "wavelength_nm,transmission", "\ufeffWavelength (nm), T (%)"]
)
def test_read_response_skips_a_header_row(tmp_path, monkeypatch, header):
    """The README's call, as written, on a CSV with a header row (also with the byte-order
    mark spreadsheets write, and after comment lines)."""
    monkeypatch.chdir(tmp_path)
    rows = "3400,0\n3500,80\n3600,80\n3700,0\n"
    (tmp_path / "filter.csv").write_text(f"{header}\n{rows}", encoding="utf-8")
    my_band = bands.read_response("filter.csv", "my_filter", wavelength_unit="nm")
    np.testing.assert_allclose(my_band.wavelength, [3.4, 3.5, 3.6, 3.7], rtol=1e-15)
    np.testing.assert_allclose(my_band.response, [0.0, 80.0, 80.0, 0.0])
    assert my_band.centre == pytest.approx(3.55)
    (tmp_path / "commented.csv").write_text(f"# lab scan\n\n{header}\n{rows}", encoding="utf-8")
    again = bands.read_response("commented.csv", "my_filter", wavelength_unit="nm")
    np.testing.assert_array_equal(again.wavelength, my_band.wavelength)


def test_read_response_without_header(tmp_path):
    """Headerless tables keep working: whitespace or commas, comments, extra columns."""
    path = tmp_path / "plain.txt"
    path.write_text("3.4 0.0 1\n3.5\t0.8 1  # peak\n\n3.6, 0.8, 1\n3.7 0.0 1\n")
    band = bands.read_response(path, "plain")
    np.testing.assert_array_equal(band.wavelength, [3.4, 3.5, 3.6, 3.7])
    np.testing.assert_array_equal(band.response, [0.0, 0.8, 0.8, 0.0])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("wavelength,response\n3400,0\n3500,eighty\n3600,0\n", "line 3: expected numbers"),
        ("wavelength,response\nnm,%\n3400,0\n3500,80\n", "line 2: expected numbers"),
        ("3400,0\n3500\n3600,0\n", "line 2: expected 2 columns"),
        ("3400\n3500\n", "line 1: expected two or more columns"),
        ("3400,0\n3500,80\n3500,80\n", "line 3: wavelength must be strictly increasing"),
        ("3400,0\n-3500,80\n", "line 2: wavelength must be finite and > 0"),
        ("3400,0\n3500,nan\n", "line 2: response must be finite"),
        ("wavelength,response\n3400,80\n", "at least two rows"),
        ("3400,0\n3500,0\n", "response must be > 0"),
    ],
)
def test_read_response_names_the_file_and_line_of_a_bad_row(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as info:
        bands.read_response(path, "bad", wavelength_unit="nm")
    assert str(path) in str(info.value)


def test_thermal_bands_command(capsys):
    assert main(["bands", "--verbose"]) == 0
    out = capsys.readouterr().out
    for name in REQUIRED:
        assert name in out
    assert "doi:10.1007/s11214-014-0094-y" in out


def test_band_wavelengths_given_as_quantities_are_converted():
    u = pytest.importorskip("astropy.units")
    assert bands.from_table("q_table", [3000.0, 4000.0] * u.nm, [1.0, 1.0]).centre == (
        pytest.approx(3.5)
    )
    hat = bands.top_hat("q_hat", 3500.0 * u.nm, 200.0 * u.nm)
    assert hat.centre == pytest.approx(3.5) and hat.width == pytest.approx(0.2)
    with pytest.raises(ValueError, match="wavelength"):
        bands.from_table("q_bad", [3.0, 4.0] * u.K, [1.0, 1.0])


def test_a_response_file_that_cannot_be_read_names_it(tmp_path):
    for path in (tmp_path / "missing.csv", tmp_path):
        with pytest.raises(ValueError, match=f"{path}: cannot be read"):
            bands.read_response(path, "x")
