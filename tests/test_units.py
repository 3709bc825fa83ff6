"""Tests of thermal.units: unit strings, radiometric conversions, geometry."""

import math

import numpy as np
import pytest
import xarray as xr

from thermal import units
from thermal.constants import ASTRONOMICAL_UNIT


@pytest.mark.parametrize(
    ("source", "target", "factor"),
    [
        ("GW um-1 sr-1", "W sr-1 um-1", 1e9),
        ("GW/um/sr", "W sr-1 um-1", 1e9),
        ("W/(m^2*sr*micron)", "W m-2 sr-1 um-1", 1.0),
        ("W.m-2.sr-1.um-1", "W m-2 sr-1 um-1", 1.0),
        ("W m**-2 sr^-1 µm-1", "W m-2 sr-1 um-1", 1.0),
        ("uW cm-2 sr-1 um-1", "W m-2 sr-1 um-1", 0.01),  # NIMS radiance unit
        ("W m-2 sr-1 m-1", "W m-2 sr-1 um-1", 1e-6),
        ("nm", "um", 1e-3),
        ("Angstrom", "um", 1e-4),
        ("m", "um", 1e6),
        ("km2", "m2", 1e6),
        ("TW", "W", 1e12),
        ("GW", "W", 1e9),
        ("km", "m", 1e3),
        ("AU", "m", ASTRONOMICAL_UNIT),
        ("day", "s", 86400.0),
        ("MJy/sr", "Jy sr-1", 1e6),
        ("degrees_east", "degree", 1.0),
    ],
)
def test_conversion_factors(source, target, factor):
    assert units.conversion_factor(source, target) == pytest.approx(factor, rel=1e-14)


@pytest.mark.parametrize("text", ["", "W m-2 sr-1 parsec-3", "W m-2 (sr", "W m-2 sr-1 um-1 $"])
def test_bad_unit_strings(text):
    with pytest.raises(ValueError, match="unit"):
        units.parse_unit(text)


def test_incompatible_units_name_both():
    with pytest.raises(ValueError, match="'K'.*'W'"):
        units.conversion_factor("K", "W")
    with pytest.raises(ValueError, match="different quantities"):
        units.conversion_factor("W m-2 sr-1 um-1", "W sr-1 um-1")


def test_convert_dataarray_sets_units():
    da = xr.DataArray([1.0, 2.0], attrs={"units": "GW um-1 sr-1", "long_name": "x"})
    out = units.convert(da, "GW um-1 sr-1", "W sr-1 um-1")
    assert out.attrs == {"units": "W sr-1 um-1", "long_name": "x"}
    np.testing.assert_array_equal(out, [1e9, 2e9])


# formats.md section 3: 1 Jy in GW um-1 sr-1 at distance Delta (derived there)
JY_TABLE = {
    2.27: (229.7, 325.5, 500.5),
    3.78: (82.8, 117.4, 180.5),
    4.67: (54.3, 76.9, 118.3),
}


@pytest.mark.parametrize("wavelength", sorted(JY_TABLE))
def test_jansky_to_intensity_table(wavelength):
    distances = np.array([4.2, 5.0, 6.2]) * ASTRONOMICAL_UNIT
    got = units.flux_density_to_intensity(1.0, wavelength, distances) / 1e9
    np.testing.assert_allclose(got, JY_TABLE[wavelength], rtol=0, atol=0.05)  # table: 0.1
    back = units.intensity_to_flux_density(got * 1e9, wavelength, distances)
    np.testing.assert_allclose(back, 1.0, rtol=1e-14)


def test_surface_brightness_to_radiance():
    # 1 MJy sr-1 = 1e-20 W m-2 Hz-1 sr-1 x c / lambda^2 = 2.998e-6 / lambda^2 [um] W m-2 sr-1 um-1
    # (1.874e-7 at 4 um)
    assert units.surface_brightness_to_radiance(1.0, 4.0) == pytest.approx(1.874e-7, rel=1e-3)
    with pytest.raises(ValueError, match="wavelength"):
        units.surface_brightness_to_radiance(1.0, 0.0)


def test_lambertian_geometry_round_trips():
    radiance, area, e = 2.5, 4e6, 60.0
    intensity = units.radiance_to_intensity(radiance, area, e)
    assert intensity == pytest.approx(radiance * area * 0.5, rel=1e-15)
    assert units.intensity_to_radiance(intensity, area, e) == pytest.approx(radiance, rel=1e-15)
    flux = units.intensity_to_flux(intensity, e)
    # hemispheric flux of a Lambertian patch is pi L A whatever the viewing angle
    assert flux == pytest.approx(math.pi * radiance * area, rel=1e-15)
    assert units.flux_to_intensity(flux, e) == pytest.approx(intensity, rel=1e-15)


def test_jiram_footprint():
    # footprint [m] = range [km] x 0.237767 (JIRAM IFOV 237.767 urad, docs/formats.md)
    assert units.footprint_area(1000e3, 237.767e-6) == pytest.approx(237.767**2, rel=1e-12)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: units.radiance_to_intensity(1.0, -1.0), "pixel_area"),
        (lambda: units.intensity_to_radiance(1.0, 0.0), "pixel_area"),
        (lambda: units.intensity_to_flux(1.0, 90.0), "emission_angle"),
        (lambda: units.intensity_to_flux(1.0, -1.0), "emission_angle"),
        (lambda: units.flux_density_to_intensity(1.0, 2.0, 0.0), "distance"),
        (lambda: units.flux_density_to_intensity(1.0, -2.0, 1.0), "wavelength"),
        (lambda: units.footprint_area(1.0, 0.0), "ifov"),
    ],
)
def test_invalid_geometry(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (units.intensity_to_flux, ([1.0, 2.0],)),
        (units.flux_to_intensity, ([1.0, 2.0],)),
        (units.radiance_to_intensity, ([1.0, 2.0], [1e6, 2e6])),
        (units.flux_density_to_intensity, ([1.0, 2.0], [2.0, 3.0], [1e11, 2e11])),
        (units.intensity_to_flux_density, ([1.0, 2.0], [2.0, 3.0], [1e11, 2e11])),
        (units.surface_brightness_to_radiance, ([1.0, 2.0], [2.0, 3.0])),
        (units.footprint_area, ([1e6, 2e6], 1e-4)),
        (units.surface_footprint_area, ([1e6, 2e6], 1e-4, [0.0, 30.0])),
        (lambda v: units.convert(v, "GW", "W"), ([1.0, 2.0],)),
    ],
)
def test_lists_are_arrays(call, args):
    """A list of numbers is what the same numpy array is, element by element."""
    listed = call(*args)
    arrays = call(*(np.asarray(a) for a in args))
    np.testing.assert_array_equal(listed, arrays)
    assert np.shape(listed) == (2,)


def test_a_list_that_is_not_numbers_names_the_argument():
    with pytest.raises(ValueError, match="intensity must be numbers"):
        units.intensity_to_flux(["a", 1.0])


def test_longitudes():
    np.testing.assert_allclose(
        units.west_to_east([0.0, 90.0, 223.5, 360.0]), [0.0, 270.0, 136.5, 0.0]
    )
    np.testing.assert_allclose(
        units.east_to_west(units.west_to_east([10.0, 309.0])), [10.0, 309.0]
    )


# --- astropy Quantities and DataArrays with units in every public function -------------------


def test_quantities_convert_in_planck_units_cooling_and_fits():
    u = pytest.importorskip("astropy.units")
    from thermal import cooling, planck
    from thermal.fit import fit

    plain = planck.spectral_radiance(3.776, 1000.0)
    assert planck.spectral_radiance(3776 * u.nm, 1000.0) == pytest.approx(plain, rel=1e-15)
    assert planck.spectral_radiance(3.776, 726.85 * u.deg_C) == pytest.approx(plain, rel=1e-15)
    assert planck.spectral_radiance_wavenumber(2648.3 / u.cm, 1000 * u.K) == pytest.approx(
        float(planck.spectral_radiance_wavenumber(2648.3, 1000.0)), rel=1e-15
    )
    assert cooling.surface_temperature(1 * u.h) == cooling.surface_temperature(3600.0)
    flux = units.intensity_to_flux(0.5 * u.TW / (u.um * u.sr), emission_angle=30 * u.deg)
    assert flux == pytest.approx(units.intensity_to_flux(5e11, emission_angle=30.0), rel=1e-15)
    lam = np.linspace(1.0, 5.0, 12)
    y = 1e6 * planck.spectral_radiance(lam, 900.0)
    a = fit(lam, y, 0.01 * y, model="1T")
    b = fit(
        lam * 1000 * u.nm,
        y / 1e9 * u.GW / (u.sr * u.um),
        y / 1e11 * u.GW / (u.sr * u.um),
        model="1T",
    )
    np.testing.assert_allclose(b.temperature.values, a.temperature.values, rtol=1e-12)
    np.testing.assert_allclose(b.area.values, a.area.values, rtol=1e-12)


def test_unconvertible_quantities_raise_naming_argument_and_unit():
    u = pytest.importorskip("astropy.units")
    from thermal import planck
    from thermal.fit import fit

    with pytest.raises(ValueError, match="wavelength.*kg"):
        planck.spectral_radiance(3 * u.kg, 1000.0)
    with pytest.raises(ValueError, match="temperature.*m"):
        planck.exitance(3 * u.m)
    with pytest.raises(ValueError, match="data.*Jy"):
        fit(np.linspace(1, 5, 4), np.ones(4) * u.Jy, np.ones(4) * u.Jy)
    with pytest.raises(ValueError, match="max_emission_angle"):
        units.intensity_to_flux(1.0, emission_angle=85.0)  # the limb guard
    assert units.intensity_to_flux(1.0, emission_angle=85.0, max_emission_angle=89.0) > 0


def test_dataarray_units_are_honoured_and_celsius_is_converted():
    import xarray as xr

    from thermal import planck

    lam = xr.DataArray([3776.0], dims="w", attrs={"units": "nm"})
    t = xr.DataArray(726.85, attrs={"units": "degC"})
    assert float(planck.spectral_radiance(lam, t)[0]) == pytest.approx(3513.0983, rel=1e-7)
    with pytest.raises(ValueError, match="temperature.*'kg'"):
        planck.exitance(xr.DataArray(1.0, attrs={"units": "kg"}))


@pytest.mark.parametrize("text", ["m^x", "km^999", "m^"])
def test_a_power_that_is_not_a_small_integer_is_refused(text):
    with pytest.raises(ValueError, match="a power must be an integer from -99 to 99"):
        units.parse_unit(text)


def test_infinite_longitudes_are_refused_and_nan_stays_unknown():
    assert np.isnan(units.west_to_east(np.nan)) and units.west_to_east(90.0) == 270.0
    for flip, name in (
        (units.west_to_east, "longitude_west"),
        (units.east_to_west, "longitude_east"),
    ):
        with pytest.raises(ValueError, match=f"{name} must be finite"):
            flip([10.0, np.inf])


def test_a_leading_number_scales_a_unit_as_udunits_writes_a_jansky():
    assert units.conversion_factor("1e-26 W m-2 Hz-1", "Jy") == pytest.approx(1.0, rel=1e-12)
    assert units.conversion_factor("1e-29 W m-2 Hz-1", "mJy") == pytest.approx(1.0, rel=1e-12)
    assert units.conversion_factor("1", "1") == 1.0
    for bad in ("0 W", "1e400 W"):
        with pytest.raises(ValueError, match="its scale must be finite and > 0"):
            units.parse_unit(bad)
