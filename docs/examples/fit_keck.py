"""Fit one temperature to the bundled Keck photometry table (Rarog and Heno Paterae, 2013).

``data/examples/keck_2013-08.csv`` holds NIRC2 intensities [GW um-1 sr-1] of two outbursts of
15 August 2013 (round values from de Pater et al. 2014) and two synthetic rows. A
one-temperature fit gives, per row, the temperature [K], the emitting area [m2] and the power
sigma T^4 A [W], with 1-sigma uncertainties and a status code (0 = converged).

Run it with ``python docs/examples/fit_keck.py`` (from any directory).
"""

from pathlib import Path

import thermal.fit
import thermal.io
import thermal.status

TABLE = Path(__file__).resolve().parents[2] / "data" / "examples" / "keck_2013-08.csv"


def main() -> dict:
    observation = thermal.io.open_observation(TABLE)  # intensity in W sr-1 um-1 from here on
    result = thermal.fit.fit_spectra(observation, model="1T")

    names = [str(name) for name in result["hotspot"].values]
    temperature = result["temperature"].isel(component=0).values  # [K]
    sigma_t = result["temperature_uncertainty"].isel(component=0).values
    area = result["area"].isel(component=0).values  # [m2]
    power = result["power"].values  # [W]
    chi2 = result["chi2"].values
    status = thermal.status.messages(result["status"].values)
    header = f"{'hot spot':26s} {'T [K]':>13s} {'area [km2]':>11s} {'power [TW]':>11s}"
    print(f"{header} {'chi2':>8s}  status")
    rows = {}
    for i, name in enumerate(names):
        print(
            f"{name:26s} {temperature[i]:7.0f} +- {sigma_t[i]:3.0f} {area[i] / 1e6:11.1f} "
            f"{power[i] / 1e12:11.2f} {chi2[i]:8.2f}  {status[i]}"
        )
        rows[name] = (temperature[i], area[i], power[i], int(result["status"].values[i]))
    return rows


if __name__ == "__main__":
    main()
