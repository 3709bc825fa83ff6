"""JWST s3d cubes: MJy sr-1 to W m-2 sr-1 um-1, DQ masking, extensions by name."""

from __future__ import annotations

import numpy as np
import pytest

from thermal import simulate
from thermal.io import InputError, open_observation


def test_s3d_conversion_against_astropy(tmp_path):
    u = pytest.importorskip("astropy.units")
    from astropy.io import fits

    path = simulate.s3d_cube(tmp_path / "cube_s3d.fits", noise=0.0)
    obs = open_observation(path)
    assert obs.radiance.dims == ("y", "x", "wavelength")
    assert obs.radiance.attrs["original_units"] == "MJy/sr"
    sci = fits.getdata(path, extname="SCI").astype(float)
    lam = obs.wavelength.values
    expected = (sci[:, 1, 2] * u.MJy / u.sr).to(
        u.W / u.m**2 / u.sr / u.um, equivalencies=u.spectral_density(lam * u.um)
    )
    np.testing.assert_allclose(obs.radiance.sel(y=1, x=2), expected.value, rtol=1e-12)
    # 1 MJy sr-1 at 4 um is 1.874e-7 W m-2 sr-1 um-1 (1e-20 c / lambda^2, lambda in um)
    one = (1.0 * u.MJy / u.sr).to(
        u.W / u.m**2 / u.sr / u.um, equivalencies=u.spectral_density(4.0 * u.um)
    )
    assert one.value == pytest.approx(1.874e-7, rel=1e-3)
    np.testing.assert_allclose(lam[:3], [2.9, 2.95, 3.0])
    assert np.isnan(obs.radiance[0, 0, 0])  # DQ flagged
    assert obs.attrs["masked_values"] == 1
    assert np.all(obs.radiance_uncertainty.values[np.isfinite(obs.radiance.values)] > 0)


def test_s3d_extension_order_and_distance(tmp_path):
    from astropy.io import fits

    path = simulate.s3d_cube(tmp_path / "cube.fits")
    with fits.open(path) as hdul:
        reordered = fits.HDUList([hdul[0], hdul[3], hdul[2], hdul[1]])  # DQ, ERR, SCI
        reordered.writeto(tmp_path / "reordered.fits")
    a = open_observation(path)
    b = open_observation(tmp_path / "reordered.fits", distance=6.3e11)
    np.testing.assert_array_equal(a.radiance, b.radiance)
    assert float(b.pixel_area) == pytest.approx(2.35e-13 * 6.3e11**2)


def test_not_a_cube(tmp_path):
    from astropy.io import fits

    fits.PrimaryHDU(np.zeros((3, 3))).writeto(tmp_path / "flat.fits")
    with pytest.raises(InputError, match="no 3-D SCI extension"):
        open_observation(tmp_path / "flat.fits")


# Spectral axis: astropy.wcs evaluates CTYPE3 'WAVE' (linear) and 'WAVE-TAB' (WCS-TABLE)


def _cube(path, sci_header, *, table=None, n=None, wcs_table_name="WCS-TABLE"):
    """Write a small s3d-like cube (SCI and ERR, ``n`` planes of 4 x 3 spaxels; ``n``
    defaults to the length of ``table``) with ``sci_header`` cards and a WCS table."""
    from astropy.io import fits

    n = len(table) if n is None else n
    sci = fits.ImageHDU(np.full((n, 3, 4), 5.0, dtype=np.float32), name="SCI")
    err = fits.ImageHDU(np.full((n, 3, 4), 0.5, dtype=np.float32), name="ERR")
    sci.header["BUNIT"] = "MJy/sr"
    err.header["BUNIT"] = "MJy/sr"
    for key, value in sci_header.items():
        sci.header[key] = value
    hdus = [fits.PrimaryHDU(), sci, err]
    if table is not None:
        # as cube_build writes it: one row, a (1, n, 1) float32 array in column 'wavelength'
        values = np.asarray(table, dtype=np.float32)[None, :, None]
        rows = np.array([(values,)], dtype=[("wavelength", "<f4", (1, len(table), 1))])
        hdus.append(fits.BinTableHDU(rows, name=wcs_table_name))
    fits.HDUList(hdus).writeto(path)
    return path


_CELESTIAL = {
    "WCSAXES": 3,
    "CTYPE1": "RA---TAN",
    "CTYPE2": "DEC--TAN",
    "CUNIT1": "deg",
    "CUNIT2": "deg",
    "CRVAL1": 120.0,
    "CRVAL2": 20.0,
    "CRPIX1": 2.0,
    "CRPIX2": 2.0,
    "CDELT1": -2.8e-5,
    "CDELT2": 2.8e-5,
}


def test_linear_wave_axis(tmp_path):
    header = {
        **_CELESTIAL,
        "CTYPE3": "WAVE",
        "CUNIT3": "nm",
        "CRVAL3": 3000.0,
        "CDELT3": 25.0,
        "CRPIX3": 3.0,  # plane 3 (1-based) is at CRVAL3
        "PC3_3": 1.0,
    }
    obs = open_observation(_cube(tmp_path / "linear_s3d.fits", header, n=9))
    expected = (3000.0 + 25.0 * (np.arange(1, 10) - 3.0)) / 1000.0
    np.testing.assert_allclose(obs.wavelength, expected, rtol=1e-15)
    assert obs.wavelength.attrs["units"] == "um"
    # CD3_3 instead of CDELT3, the unit default um
    cd = {"CTYPE3": "WAVE", "CRVAL3": 2.9, "CD3_3": 0.05, "CRPIX3": 1.0}
    obs = open_observation(_cube(tmp_path / "cd_s3d.fits", cd, n=4))
    np.testing.assert_allclose(obs.wavelength, [2.9, 2.95, 3.0, 3.05], rtol=1e-15)


def test_linear_axis_is_the_formula_bit_for_bit(tmp_path):
    """The bundled example's grid (CRPIX3 = 1) is exactly CRVAL3 + (p - 1) CDELT3, as before
    astropy.wcs was used (wcslib is not allowed to convert to metres and back)."""
    path = simulate.s3d_cube(tmp_path / "cube_s3d.fits", noise=0.0)
    from astropy.io import fits

    header = fits.getheader(path, extname="SCI")
    plane = np.arange(1, header["NAXIS3"] + 1, dtype=float)
    expected = header["CRVAL3"] + (plane - header["CRPIX3"]) * header["CDELT3"]
    np.testing.assert_array_equal(open_observation(path).wavelength, expected)


def test_tabulated_wave_axis(tmp_path):
    grid = [2.87, 2.9, 2.95, 3.1, 3.4, 3.9, 4.6, 5.27]  # not linear: a WAVE-TAB cube
    header = {
        **_CELESTIAL,
        "CTYPE3": "WAVE-TAB",
        "CUNIT3": "um",
        "CRPIX3": 1.0,
        "CRVAL3": 1.0,
        "PS3_0": "WCS-TABLE",
        "PS3_1": "wavelength",
    }
    path = _cube(tmp_path / "tab_s3d.fits", header, table=grid)
    obs = open_observation(path)
    np.testing.assert_array_equal(obs.wavelength, np.asarray(grid, dtype=np.float32))
    assert obs.radiance.dims == ("y", "x", "wavelength")
    # radiance converted at each plane's own wavelength: 5 MJy sr-1 * 2.998e-6 / lambda^2
    np.testing.assert_allclose(
        obs.radiance.values[0, 0], 5.0 * 2.99792458e-6 / obs.wavelength.values**2, rtol=1e-12
    )
    # in nm, converted to um
    nm = {**header, "CUNIT3": "nm"}
    obs = open_observation(_cube(tmp_path / "tab_nm_s3d.fits", nm, table=np.array(grid) * 1e3))
    np.testing.assert_allclose(obs.wavelength, grid, rtol=1e-6)


def test_tabulated_axis_without_its_table(tmp_path):
    header = {
        "CTYPE3": "WAVE-TAB",
        "CUNIT3": "um",
        "CRPIX3": 1.0,
        "CRVAL3": 1.0,
        "PS3_0": "WCS-TABLE",
        "PS3_1": "wavelength",
    }
    path = _cube(tmp_path / "notab_s3d.fits", header, n=5)
    with pytest.raises(InputError, match=r"notab_s3d\.fits: cannot evaluate the WAVE-TAB"):
        open_observation(path)
    short = _cube(tmp_path / "short_s3d.fits", header, table=[3.0, 3.1, 3.2], n=5)
    with pytest.raises(InputError, match=r"short_s3d\.fits: .*WAVE-TAB"):
        open_observation(short)


@pytest.mark.parametrize("ctype", ["FREQ", "WAVE-LOG", "AWAV", "VRAD", ""])
def test_unknown_spectral_axis_is_named(tmp_path, ctype):
    header = {"CRVAL3": 3.0, "CDELT3": 0.1, "CRPIX3": 1.0, "CUNIT3": "um"}
    if ctype:
        header["CTYPE3"] = ctype
    path = _cube(tmp_path / "odd_s3d.fits", header, n=4)
    expected = f"CTYPE3 '{ctype}'" if ctype else "no CTYPE3"
    with pytest.raises(InputError, match=f"odd_s3d.fits: {expected} in the SCI header"):
        open_observation(path)


def test_linear_axis_needs_its_keywords_and_a_length_unit(tmp_path):
    with pytest.raises(InputError, match=r"no linear wavelength WCS on axis 3"):
        open_observation(_cube(tmp_path / "a.fits", {"CTYPE3": "WAVE", "CRVAL3": 3.0}, n=3))
    header = {"CTYPE3": "WAVE", "CRVAL3": 3.0, "CDELT3": 0.1, "CUNIT3": "Hz"}
    with pytest.raises(InputError, match="CUNIT3 'Hz' is not a length"):
        open_observation(_cube(tmp_path / "b.fits", header, n=3))
    mixed = {**_CELESTIAL, "CTYPE3": "WAVE", "CRVAL3": 3.0, "CDELT3": 0.1, "PC3_1": 0.5}
    with pytest.raises(InputError, match="mixed with the spatial ones"):
        open_observation(_cube(tmp_path / "c.fits", mixed, n=3))


def test_a_size_card_given_twice_is_refused(tmp_path):
    """A second NAXIS1 card (astropy reads the last, the size checks the first) would let a
    small file ask for 75 GiB: refused before anything is allocated."""
    from astropy.io import fits

    cube = simulate.s3d_cube(tmp_path / "cube.fits")
    marked = tmp_path / "marked.fits"
    with fits.open(cube) as hdul:
        hdul["SCI"].header["COMMENT"] = "XXMARKERXX"
        hdul.writeto(marked)
    raw = bytearray(marked.read_bytes())
    at = raw.find(b"COMMENT XXMARKERXX")
    raw[at : at + 80] = f"NAXIS1  = {99999999:20d}".ljust(80).encode()
    hostile = tmp_path / "hostile.fits"
    hostile.write_bytes(raw)
    with pytest.raises(InputError, match="NAXIS1 is given twice"):
        open_observation(hostile, format="fits")
