"""A tour of the radiometry core: Planck radiance, its inverse, bands and unit conversions.

Run it from anywhere with ``python docs/examples/planck_tour.py``. Every number it prints is
checked by ``tests/test_docs.py``.
"""

import numpy as np

from thermal import bands, planck, units


def main() -> dict:
    # Spectral radiance B_lambda [W m-2 sr-1 um-1] of a 1000 K blackbody at the centre of the
    # Keck NIRC2 Lp filter, and its exact inverse, the brightness temperature [K].
    radiance = planck.spectral_radiance(3.776, 1000.0)
    print(f"B(3.776 um, 1000 K)             = {radiance:.1f} W m-2 sr-1 um-1")
    inverse = planck.brightness_temperature(3.776, radiance)
    print(f"brightness temperature          = {inverse:.6f} K")

    # numpy broadcasting: three wavelengths [um] against two temperatures [K] -> shape (2, 3)
    grid = planck.spectral_radiance([1.6, 2.27, 4.78], [[300.0], [1000.0]])
    print(f"B over a (2, 3) grid            : shape {grid.shape}")

    # Photometry averages B over the filter response. A wide filter on the steep Wien side
    # differs from B at its centre: Lp (3.43-4.13 um) at 200 K is ~24 % above it.
    lp = bands.get("nirc2_lp")
    ratio = planck.band_radiance("nirc2_lp", 200.0) / planck.spectral_radiance(lp.centre, 200.0)
    print(f"Lp band mean / B(centre), 200 K = {ratio:.4f}")
    print(f"Lp centre, width                = {lp.centre} um, {lp.width} um ({lp.kind})")

    # Total power of a single-temperature hot spot: P = sigma T^4 A. Rarog Patera's published
    # one-temperature fit (~1040 K over ~120 km2) gives about 8 TW.
    power = planck.exitance(1040.0) * 120e6
    print(f"sigma T^4 A, 1040 K, 120 km2    = {power / 1e12:.2f} TW")

    # Keck photometry in Jy becomes intensity [W sr-1 um-1] with the observer's distance.
    intensity = units.flux_density_to_intensity(1.0, 2.27, 4.2 * units.ASTRONOMICAL_UNIT)
    print(f"1 Jy at 2.27 um from 4.2 au     = {intensity / 1e9:.1f} GW sr-1 um-1")

    # Catalogues give west longitudes; datasets use east.
    east = float(units.west_to_east(223.5))
    print(f"223.5 degrees west              = {east:.1f} degrees east")

    # The spectrum peaks where Wien's law says: lambda_max T = 2897.77 um K.
    wavelength = np.linspace(1.0, 6.0, 50001)
    peak = wavelength[np.argmax(planck.spectral_radiance(wavelength, 1000.0))]
    print(f"peak wavelength at 1000 K       = {peak:.3f} um")
    return {"radiance": radiance, "band_ratio": ratio, "power": power, "peak": peak}


if __name__ == "__main__":
    main()
