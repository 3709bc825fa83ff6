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
    # 1 MJy sr-1 at 4 um is 1.874e-7 W m-2 sr-1 um-1 (formats.md 4)
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
