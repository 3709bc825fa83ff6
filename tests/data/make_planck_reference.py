"""Regenerate ``planck_reference.csv``: Planck functions at 50 significant digits (mpmath).

The inputs are float64 values (stored with ``repr``), and mpmath evaluates them exactly as
stored, so the table measures only the error of our float64 evaluation. Constants are the
exact SI definitions (CODATA 2018): h, c and k are exact, so c1 = 2 h c^2 and c2 = h c / k are
exact rationals.

Run: ``python tests/data/make_planck_reference.py`` (needs mpmath); it rewrites the CSV beside it.
"""

from pathlib import Path

import mpmath as mp
import numpy as np

mp.mp.dps = 50
H = mp.mpf("6.62607015e-34")
C = mp.mpf(299792458)
K = mp.mpf("1.380649e-23")
C1 = 2 * H * C**2 * mp.mpf(10) ** 24  # W m-2 sr-1 um-1 um5
C2 = H * C / K * mp.mpf(10) ** 6  # um K
C1_NU = 2 * H * C**2 * mp.mpf(10) ** 8  # W m-2 sr-1 (cm-1)-1 (cm-1)-3
C2_NU = H * C / K * 100  # cm K
HC_UM = H * C * mp.mpf(10) ** 6  # J um


def row(lam: float, t: float) -> list[str]:
    lam_m, t_m = mp.mpf(lam), mp.mpf(t)
    x = C2 / (lam_m * t_m)
    b = C1 / lam_m**5 / mp.expm1(x)
    db = b * (x / t_m) / (-mp.expm1(-x))
    photon = b * lam_m / HC_UM
    return [repr(lam), repr(t), mp.nstr(b, 20), mp.nstr(db, 20), mp.nstr(photon, 20)]


def wavenumber_row(nu: float, t: float) -> list[str]:
    nu_m, t_m = mp.mpf(nu), mp.mpf(t)
    b = C1_NU * nu_m**3 / mp.expm1(C2_NU * nu_m / t_m)
    return [repr(nu), repr(t), mp.nstr(b, 20)]


def main() -> None:
    here = Path(__file__).resolve().parent
    wavelengths = np.geomspace(0.3, 1000.0, 41)
    temperatures = np.geomspace(30.0, 5000.0, 31)
    # corners where exp(x) overflows float64 and the result crosses into subnormals and zero
    corners = [
        (0.3, 65.0),
        (0.3, 66.5),
        (0.3, 68.0),
        (0.5, 40.0),
        (0.7, 29.0),
        (1.0, 20.3),
        (1.0, 19.5),
        (2.0, 10.1),
        (4.78, 4.2),
        (0.3, 5000.0),
        (1000.0, 30.0),
        (1000.0, 5000.0),
        (3.776, 200.0),
        (2.2706, 1000.0),
    ]
    lines = ["wavelength_um,temperature_K,radiance,radiance_derivative,photon_radiance"]
    pairs = [(float(lam), float(t)) for lam in wavelengths for t in temperatures] + corners
    lines += [",".join(row(lam, t)) for lam, t in pairs]
    (here / "planck_reference.csv").write_text("\n".join(lines) + "\n")

    lines = ["wavenumber_cm-1,temperature_K,radiance_wavenumber"]
    lines += [
        ",".join(wavenumber_row(float(nu), float(t)))
        for nu in np.geomspace(10.0, 30000.0, 25)
        for t in np.geomspace(30.0, 5000.0, 13)
    ]
    (here / "planck_wavenumber_reference.csv").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
