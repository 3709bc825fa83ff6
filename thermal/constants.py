"""Physical constants in the units `thermal` uses (CODATA 2018, exact SI definitions).

Wavelengths are in micrometres [um] and wavenumbers in [cm-1], so the radiation constants are
given in those units: ``C1`` makes ``C1 / lambda**5 / (exp(C2 / (lambda T)) - 1)`` a spectral
radiance in [W m-2 sr-1 um-1] for ``lambda`` in [um] and ``T`` in [K].
"""

PLANCK = 6.62607015e-34
"""Planck constant h [J s] (exact)."""
SPEED_OF_LIGHT = 299792458.0
"""Speed of light in vacuum c [m s-1] (exact)."""
BOLTZMANN = 1.380649e-23
"""Boltzmann constant k [J K-1] (exact)."""
STEFAN_BOLTZMANN = 5.670374419e-8
"""Stefan-Boltzmann constant sigma [W m-2 K-4]."""

C1 = 2.0 * PLANCK * SPEED_OF_LIGHT**2 * 1e24
"""First radiation constant for radiance, 2 h c^2 [W m-2 sr-1 um-1 um5] = 1.191042972e8."""
C2 = PLANCK * SPEED_OF_LIGHT / BOLTZMANN * 1e6
"""Second radiation constant h c / k [um K] = 14387.76877."""
C1_WAVENUMBER = 2.0 * PLANCK * SPEED_OF_LIGHT**2 * 1e8
"""2 h c^2 for radiance per wavenumber [W m-2 sr-1 (cm-1)-1 (cm-1)-3] = 1.191042972e-8."""
C2_WAVENUMBER = PLANCK * SPEED_OF_LIGHT / BOLTZMANN * 1e2
"""h c / k [cm K] = 1.438776877."""
PHOTON_ENERGY_UM = PLANCK * SPEED_OF_LIGHT * 1e6
"""h c [J um]: the energy of a photon of wavelength lambda [um] is PHOTON_ENERGY_UM / lambda."""
WIEN = 2897.771955
"""Wien displacement constant for B_lambda, lambda_max T [um K]."""

ASTRONOMICAL_UNIT = 1.495978707e11
"""Astronomical unit [m] (IAU 2012, exact)."""
JANSKY = 1e-26
"""Jansky [W m-2 Hz-1]."""

IO_RADIUS = 1821.6e3
"""Mean radius of Io [m] (1821.6 km; Thomas et al. 1998, Icarus 135:175,
doi:10.1006/icar.1998.5987, from Galileo and Voyager limb fits)."""
IO_PROJECTED_AREA = 3.141592653589793 * IO_RADIUS * IO_RADIUS
"""Area of Io's projected disk, pi R^2 [m2] (1.04e13 m2): no hot spot can emit from more."""
