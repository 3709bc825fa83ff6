"""Lava cooling and the Io Flow Model: surface temperatures, a flow spectrum, and a fit.

A flow that spreads at a constant areal rate R_A [m2 s-1] for a time t_max [s] holds crust of
every age from 0 to t_max; its spectrum is the sum of blackbodies at the surface temperatures
of those ages (Davies 1996). This script

1. evaluates the cooling of basalt on Io (Stefan crust growth with a radiative surface, and the
   numerical conduction solution);
2. computes the spectrum, power and 2/5 um ratio of a flow active for one day;
3. fits the flow model back to a noisy synthetic spectrum of that flow.

Run it with ``python docs/examples/flow_model.py``.
"""

import numpy as np

from thermal import cooling, simulate
from thermal.fit import fit_spectra

DAY = 86400.0  # [s]


def main() -> dict:
    # 1. surface temperature [K] of Io basalt one hour after emplacement, two cooling models
    stefan = cooling.surface_temperature(3600.0)  # material="basalt", model="stefan"
    conduction = cooling.surface_temperature(3600.0, model="conduction")
    print(f"T_s(1 h), Stefan crust          = {stefan:.0f} K")
    print(f"T_s(1 h), conduction solver     = {conduction:.0f} K")
    print(f"crust after 1 day (Stefan)      = {cooling.crust_thickness(DAY):.3f} m")

    # 2. a flow emplaced at R_A = 1000 m2 s-1 for one day, seen while still active
    areal_rate = 1e3
    wavelength = np.linspace(1.0, 5.0, 401)  # [um]
    spectrum = cooling.flow_intensity(wavelength, areal_rate, DAY)  # [W sr-1 um-1]
    power = cooling.flow_power(areal_rate, DAY)  # [W]
    ratio = cooling.flow_ratio(DAY)  # I(2 um) / I(5 um), independent of R_A
    print(f"peak of the 1-5 um spectrum     = {wavelength[np.argmax(spectrum)]:.2f} um")
    print(f"power per unit areal rate       = {power / areal_rate:.3e} W per m2 s-1")
    print(f"2/5 um ratio after 1 day        = {ratio:.3f}")
    print(f"flow area                       = {areal_rate * DAY / 1e6:.1f} km2")

    # 3. a noisy 17-channel spectrum of that flow, fitted with the flow model
    observation = simulate.flow_observation(
        [areal_rate], [DAY], wavelength=np.linspace(1.0, 5.2, 17), noise=0.02, seed=1
    )
    result = fit_spectra(observation, model=cooling.FlowModel())
    fitted_area = float(result["area"].values[0])
    fitted_power = float(result["power"].values[0])
    print(f"fitted area                     = {fitted_area / 1e6:.1f} km2")
    print(f"fitted power                    = {fitted_power:.3e} W")
    print(f"fit status                      = {int(result['status'].values[0])}")
    return {
        "stefan": stefan,
        "conduction": conduction,
        "power_per_rate": power / areal_rate,
        "ratio": ratio,
        "fitted_area": fitted_area,
        "fitted_power": fitted_power,
    }


if __name__ == "__main__":
    main()
