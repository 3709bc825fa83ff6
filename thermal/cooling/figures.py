"""Figures of cooling models: cooling curves and the 2/5 um ratio diagram.

matplotlib is imported when a figure is made (``pip install io-thermal[plot]``).
"""

from __future__ import annotations

import numpy as np

from thermal.cooling import eruptions
from thermal.cooling.crust import crust_thickness, surface_temperature

__all__ = ["plot_cooling_curves", "plot_ratio_diagram"]

DAY = 86400.0


def _figure(ncols):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(5.0 * ncols, 4.0), layout="constrained")


def plot_cooling_curves(
    curves=(("basalt", "stefan"), ("basalt", "conduction"), ("ultramafic", "stefan")),
    ages=None,
    path=None,
):
    """Surface temperature [K] and crust thickness [m] versus age [s] for several models.

    Parameters
    ----------
    curves : sequence of (material, model) or (material, model, thickness)
        What to draw (materials of ``thermal.cooling.MATERIALS``, models of
        :mod:`thermal.cooling.crust`, thickness [m] for finite flows).
    ages : array_like, optional
        Ages [s] (default 1 s to 10 yr).
    path : str, optional
        Write a PNG there.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ages = np.geomspace(1.0, 10 * 365.25 * DAY, 300) if ages is None else np.asarray(ages)
    fig = _figure(2)
    ax_t, ax_h = fig.subplots(1, 2)
    for entry in curves:
        material, model, *rest = entry
        thickness = rest[0] if rest else None
        label = f"{material}, {model}" + (f", {thickness:g} m" if thickness else "")
        ax_t.plot(
            ages, surface_temperature(ages, material, model, thickness=thickness), label=label
        )
        ax_h.plot(ages, crust_thickness(ages, material, model, thickness=thickness), label=label)
    for ax, ylabel in ((ax_t, "surface temperature [K]"), (ax_h, "crust thickness [m]")):
        ax.set_xscale("log")
        ax.set_xlabel("age [s]")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", alpha=0.3)
    ax_h.set_yscale("log")
    ax_t.legend(fontsize="small")
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def plot_ratio_diagram(material="basalt", durations=None, path=None):
    """The 2/5 um diagnostic diagram (Davies, Keszthelyi & Harris 2010,
    doi:10.1016/j.jvolgeores.2010.04.009): intensity ratio I(2 um)/I(5 um) versus time for an
    active flow, the same flow after it stops, a fountain with its flow, and single
    temperatures for reference.

    Parameters
    ----------
    material : str or Material, optional
    durations : array_like, optional
        Times since onset [s] (default 1 min to 1 yr).
    path : str, optional
        Write a PNG there.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from thermal import planck

    t = np.geomspace(60.0, 365.25 * DAY, 60) if durations is None else np.asarray(durations)
    fig = _figure(1)
    ax = fig.subplots()
    active = [eruptions.flow_ratio(d, material) for d in t]
    stopped = [eruptions.flow_ratio(t[0], material, time=d) for d in t[1:]]
    fountain = [
        np.divide(*eruptions.fountain_intensity([2.0, 5.0], 1e5, 1e3, d, material)) for d in t
    ]
    ax.plot(t, active, label="active flow (constant areal rate)")
    ax.plot(t[1:], stopped, label=f"flow stopped after {t[0]:g} s")
    ax.plot(t, fountain, label="fountain (1e5 m2) + fed flow")
    for temp in (500.0, 900.0, 1300.0):
        ratio = float(planck.spectral_radiance(2.0, temp) / planck.spectral_radiance(5.0, temp))
        ax.axhline(ratio, color="0.6", lw=0.8, ls=":")
        ax.text(t[0], ratio, f" {temp:g} K", va="bottom", fontsize="x-small", color="0.4")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time since onset [s]")
    ax.set_ylabel("I(2 um) / I(5 um)")
    ax.legend(fontsize="small")
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
