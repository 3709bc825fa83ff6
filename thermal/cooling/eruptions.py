"""Emission of whole eruptions: an active lava flow growing at a constant areal rate.

Davies' Io Flow Model (IFM; Davies 1996, Icarus 124:45, doi:10.1006/icar.1996.0189; Davies et
al. 2000, Icarus 148:211, doi:10.1006/icar.2000.6486): a flow active for ``duration`` t_max
adds new surface at a constant areal rate R_A [m2 s-1]; each patch cools along the surface
temperature curve T_s(age) of :mod:`thermal.cooling.crust`. Observed a time t after onset,
the surface ages run from max(0, t - t_max) to t, so

    I_lambda = eps R_A int B_lambda(T_s(a)) da        [W sr-1 um-1]
    P        = eps sigma R_A int (T_s^4 - T_bg^4) da   [W]
    A        = R_A min(t, t_max)                       [m2]

(intensity per unit projected area seen at normal emission; divide by cos(e) for radiant
flux with :mod:`thermal.units`). The age integrals are tabulated once per cooling curve and
wavelength grid (cumulative in age), so each further spectrum costs O(n_wavelengths).

Howell's (1997) model is the same integral with ``model="howell"`` cooling (T_s ~ t^(-1/8)).

Lava lakes (:func:`lake_intensity`): a crust resurfaced every ``period`` either at once
(overturn) or by a front crossing the lake at ``wave_speed`` (Loki Patera: ~540 days,
1-3 km/day; Rathbun et al. 2002, GRL 29(10):1443, doi:10.1029/2002GL014747; de Kleer et al.
2017, Nature 545:199, doi:10.1038/nature22339). Fountains (:func:`fountain_intensity`): hot
clasts plus the flow they feed (Keszthelyi et al. 2007, doi:10.1016/j.icarus.2007.07.008;
Davies, Keszthelyi & Harris 2010, doi:10.1016/j.jvolgeores.2010.04.009).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import xarray as xr

from thermal import bands as _bands
from thermal import planck
from thermal._kernels import eruptions as _k
from thermal.constants import STEFAN_BOLTZMANN
from thermal.cooling.crust import cooling_curve
from thermal.cooling.materials import get_material
from thermal.units import TEMPERATURE_DIFFERENCE, quantity_inputs

__all__ = [
    "flow_band_intensity",
    "flow_effusion_rate",
    "flow_intensity",
    "flow_power",
    "flow_ratio",
    "flow_time_series",
    "fountain_intensity",
    "howell_intensity",
    "lake_intensity",
    "lake_power",
]


def _positive(name, value):
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be finite and > 0; got {value!r}")
    return value


def _window(duration, time):
    duration = _positive("duration [s]", duration)
    time = duration if time is None else _positive("time [s]", time)
    return max(0.0, time - duration), time


@functools.lru_cache(maxsize=32)
def age_table(curve, lam_bytes):
    """Per-wavelength cumulative age integrals of a cooling curve, computed once and cached.

    Parameters
    ----------
    curve : CoolingCurve
        A curve of :func:`thermal.cooling.crust.cooling_curve`.
    lam_bytes : bytes
        The wavelengths [um] as the bytes of a float64 array (hashable, for the cache).

    Returns
    -------
    tuple of ndarray
        Wavelengths [um], B_lambda at every (wavelength, age) node [W m-2 sr-1 um-1], its
        cumulative age integral [W m-2 sr-1 um-1 s] and the cumulative radiated energy above
        the background [J m-2].
    """
    lam = np.frombuffer(lam_bytes, dtype=np.float64)
    n = curve.age.size
    bnode = np.empty((lam.size, n))
    cum = np.empty((lam.size, n))
    energy = np.empty(n)
    _k.cumulative_table(
        lam, curve.age, curve.surface_temperature, curve.material.background_temperature,
        bnode, cum, energy,
    )  # fmt: skip
    return lam, bnode, cum, energy


def _integrate(wavelength, areal_rate, duration, time, material, model, thickness, overrides):
    rate = float(areal_rate)
    if not (math.isfinite(rate) and rate >= 0):
        raise ValueError(f"areal_rate must be finite and >= 0 [m2 s-1]; got {areal_rate!r}")
    a0, a1 = _window(duration, time)
    curve = cooling_curve(material, model, thickness=thickness, **overrides)
    if a1 > curve.age[-1]:
        raise ValueError(f"time must be <= {curve.age[-1]:g} s (the tabulated cooling curve)")
    lam = np.ascontiguousarray(np.atleast_1d(np.asarray(wavelength, dtype=float)).ravel())
    if not np.all(np.isfinite(lam) & (lam > 0)):
        raise ValueError("wavelength must be finite and > 0 [um]")
    lam, bnode, cum, energy_table = age_table(curve, lam.tobytes())
    spectrum = np.empty(lam.size)
    m = curve.material
    energy = _k.window_integral(
        lam, curve.age, curve.surface_temperature, m.background_temperature, bnode, cum,
        energy_table, a0, a1, spectrum,
    )  # fmt: skip
    eps = m.emissivity
    return eps * rate * spectrum, eps * rate * energy


@quantity_inputs(wavelength="um", areal_rate="m2 s-1", duration="s", time="s", thickness="m")
def flow_intensity(
    wavelength, areal_rate, duration, material="basalt", *, time=None, model="stefan",
    thickness=None, **overrides,
):  # fmt: skip
    """Spectral intensity of a lava flow emplaced at a constant areal rate (Davies' IFM).

    Parameters
    ----------
    wavelength : float or array_like
        Wavelength [um], > 0.
    areal_rate : float
        Areal coverage rate R_A [m2 s-1], >= 0.
    duration : float
        Time the flow has been (or was) active, t_max [s], > 0.
    material : str or Material, optional
        Lava (``thermal.cooling.MATERIALS``); ``**overrides`` replace fields.
    time : float, optional
        Time since onset [s] (default ``duration``: observed while still active). Later times
        see the flow cooling after it stopped.
    model : {"stefan", "conduction", "hon", "howell"}, optional
        Cooling model of :mod:`thermal.cooling.crust`.
    thickness : float, optional
        Flow thickness [m] (``model="conduction"``).

    Returns
    -------
    float or ndarray
        Intensity [W sr-1 um-1], the shape of ``wavelength``.

    References
    ----------
    Davies 1996, doi:10.1006/icar.1996.0189; Davies et al. 2000, doi:10.1006/icar.2000.6486.
    """
    out, _ = _integrate(wavelength, areal_rate, duration, time, material, model, thickness,
                        overrides)  # fmt: skip
    return out.reshape(np.shape(wavelength)) if np.ndim(wavelength) else float(out[0])


@quantity_inputs(areal_rate="m2 s-1", duration="s", time="s", thickness="m")
def flow_power(
    areal_rate, duration, material="basalt", *, time=None, model="stefan", thickness=None,
    **overrides,
):  # fmt: skip
    """Radiated power of a constant-rate lava flow [W]: eps sigma R_A int (T_s^4 - T_bg^4) da.

    Parameters as :func:`flow_intensity`. The background emission (``background_temperature``)
    is subtracted, so an old flow's power goes to 0 as its surface reaches the background.

    Returns
    -------
    float
        Power [W].
    """
    _, power = _integrate([1.0], areal_rate, duration, time, material, model, thickness,
                          overrides)  # fmt: skip
    return float(power)


def _howell_time(material, overrides):
    """Howell's time scale t_c [s]: T_s = T_e (t / t_c)^(-1/8) after t_c (exact for the
    ``"howell"`` curve, read off it at an age where T_s < T_e)."""
    curve = cooling_curve(material, "howell", **overrides)
    m = curve.material
    age = 1e6
    t_s = float(curve.temperature_at(age))
    if not t_s < m.eruption_temperature:
        raise ValueError("the Howell curve must fall below the eruption temperature by 1e6 s")
    return age * (t_s / m.eruption_temperature) ** 8, curve


@quantity_inputs(wavelength="um", scaled_rate="m2", scaled_duration="1")
def howell_intensity(wavelength, scaled_rate, scaled_duration, material="basalt", **overrides):
    """Howell's (1997) two-parameter constant-rate flow spectrum [W sr-1 um-1].

    With T_s = T_e min(1, (t / t_c)^(-1/8)) (radiative loss balancing a Stefan crust; t_c
    [s] = (k T_m / (erf(lambda) sqrt(pi kappa) eps sigma T_e^4))^2 holds the material and
    scales as the thermal inertia squared), a flow of areal rate R_A active for t_max emits

        I = eps R'_A int_0^t'_0 B_lambda(T_e min(1, tau^(-1/8))) dtau,

    so the spectrum depends on R'_A = R_A t_c [m2] and t'_0 = t_max / t_c only (and on T_e
    and eps). At large t'_0 it follows lambda^3 between the Wien cutoff and the cold end.

    Parameters
    ----------
    wavelength : float or array_like
        Wavelength [um], > 0.
    scaled_rate : float
        R'_A = R_A t_c [m2], >= 0.
    scaled_duration : float
        t'_0 = t_max / t_c [1], > 0.
    material : str or Material, optional
        Sets T_e, eps and t_c; ``**overrides`` replace fields.

    Returns
    -------
    float or ndarray
        Intensity [W sr-1 um-1], the shape of ``wavelength``.

    References
    ----------
    Howell 1997, Icarus 127:394, doi:10.1006/icar.1997.5686.
    """
    rate = float(scaled_rate)
    if not (math.isfinite(rate) and rate >= 0):
        raise ValueError(f"scaled_rate must be finite and >= 0 [m2]; got {scaled_rate!r}")
    duration = _positive("scaled_duration [1]", scaled_duration)
    t_c, curve = _howell_time(material, overrides)
    return flow_intensity(wavelength, rate / t_c, duration * t_c, curve.material, model="howell")


@quantity_inputs(areal_rate="m2 s-1", duration="s")
def flow_band_intensity(band, areal_rate, duration, material="basalt", **options):
    """Band-averaged intensity [W sr-1 um-1] of a constant-rate flow in a filter of
    :mod:`thermal.bands` (name or Band); options as :func:`flow_intensity`."""
    b = band if isinstance(band, _bands.Band) else _bands.get(str(band))
    values = flow_intensity(b.nodes, areal_rate, duration, material, **options)
    return float(np.dot(b.weights, values))


@quantity_inputs(areal_rate="m2 s-1", thickness="m")
def flow_effusion_rate(areal_rate, thickness=1.0):
    """Effusion rate Q = R_A x mean flow thickness [m3 s-1].

    Parameters
    ----------
    areal_rate : float or array_like
        Areal coverage rate R_A [m2 s-1], >= 0.
    thickness : float or array_like, optional
        Mean flow thickness [m], > 0 (default 1 m, as Davies et al. 2000 who quote 7-79 m3 s-1
        for NIMS hot spots).

    Returns
    -------
    float or ndarray
        Effusion rate [m3 s-1].

    References
    ----------
    Davies et al. 2000, Icarus 148:211, doi:10.1006/icar.2000.6486.
    """
    rate = np.asarray(areal_rate, dtype=float)
    depth = np.asarray(thickness, dtype=float)
    if not np.all(np.isfinite(rate) & (rate >= 0)):
        raise ValueError(f"areal_rate must be finite and >= 0 [m2 s-1]; got {areal_rate!r}")
    if not np.all(np.isfinite(depth) & (depth > 0)):
        raise ValueError(f"thickness must be finite and > 0 [m]; got {thickness!r}")
    out = rate * depth
    return float(out) if out.ndim == 0 else out


@quantity_inputs(duration="s")
def flow_ratio(duration, material="basalt", *, short=2.0, long=5.0, **options):
    """Ratio of a flow's intensity at ``short`` and ``long`` wavelengths [um] (default the
    2/5 um ratio of Davies, Keszthelyi & Harris 2010, doi:10.1016/j.jvolgeores.2010.04.009);
    independent of the areal rate. Names of :mod:`thermal.bands` select band averages."""

    def value(x):
        if isinstance(x, str):
            return flow_band_intensity(x, 1.0, duration, material, **options)
        return flow_intensity(float(x), 1.0, duration, material, **options)

    denominator = value(long)
    if not denominator > 0:
        raise ValueError(
            f"long: the flow's intensity at {long!r} is {denominator!r} (below the smallest "
            "float64 or invalid): the ratio is undefined"
        )
    return value(short) / denominator


@quantity_inputs(wavelength="um", areal_rate="m2 s-1", duration="s", times="s")
def flow_time_series(
    wavelength, areal_rate, duration, times, material="basalt", **options
) -> xr.Dataset:
    """An eruption evolving night by night: intensity spectra and power at ``times`` [s]
    since onset (active until ``duration`` [s], cooling afterwards).

    Returns
    -------
    xarray.Dataset
        ``intensity`` (time, wavelength) [W sr-1 um-1], ``power`` (time) [W], ``area`` (time)
        [m2], ``ratio_2_5`` (time), with units attributes.
    """
    lam = np.atleast_1d(np.asarray(wavelength, float))
    times = np.atleast_1d(np.asarray(times, float))
    spectra = np.array([flow_intensity(lam, areal_rate, duration, material, time=t, **options)
                        for t in times])  # fmt: skip
    power = np.array([flow_power(areal_rate, duration, material, time=t, **options)
                      for t in times])  # fmt: skip
    ratio = np.array([flow_ratio(duration, material, time=t, **options) for t in times])
    area = float(areal_rate) * np.minimum(times, float(duration))
    return xr.Dataset(
        {
            "intensity": (("time", "wavelength"), spectra,
                          {"units": "W sr-1 um-1", "long_name": "flow spectral intensity"}),
            "power": ("time", power, {"units": "W", "long_name": "radiated power"}),
            "area": ("time", area, {"units": "m2", "long_name": "flow area"}),
            "ratio_2_5": ("time", ratio, {"units": "1", "long_name": "I(2 um) / I(5 um)"}),
        },
        coords={
            "time": ("time", times, {"units": "s", "long_name": "time since onset"}),
            "wavelength": ("wavelength", lam, {"units": "um"}),
        },
        attrs={"model": "Io Flow Model (constant areal rate), Davies 1996",
               "areal_rate_m2_s-1": float(areal_rate), "duration_s": float(duration)},
    )  # fmt: skip


def _lake_windows(phase, period, sweep):
    """Age windows of a lake surface resurfaced by a front, at ``phase`` [s] of its cycle.

    The front takes ``sweep`` [s] (> 0, <= ``period``) to cross the lake, so the surface ages
    are spread uniformly, with density 1 / ``sweep`` per unit age, over windows whose widths
    add up to ``sweep``: while the front is crossing (``phase`` < ``sweep``) [0, phase] behind
    it and [period - (sweep - phase), period] ahead of it (last cycle's crust), afterwards
    [phase - sweep, phase]. A window of zero width holds no surface and is left out: the one
    behind the front at the resurfacing instant (``phase`` = 0), and the one ahead of it when
    period - (sweep - phase) rounds to ``period``.

    Parameters
    ----------
    phase : float
        Time since the front last set off [s], 0 <= phase < period.
    period : float
        Resurfacing period [s].
    sweep : float
        Crossing time of the front [s], 0 < sweep <= period.

    Returns
    -------
    list of tuple of float
        Windows (a0, a1) [s] with a0 < a1.
    """
    if phase >= sweep:
        windows = [(phase - sweep, phase)]
    else:
        windows = [(0.0, phase), (period - (sweep - phase), period)]
    return [(a0, a1) for a0, a1 in windows if a1 > a0]


def _lake(wavelength, time, area, period, wave_speed, length, material, options):
    """Spectrum [W sr-1 um-1] at ``wavelength`` [um] and power [W] of a resurfacing lake.

    Overturn (``wave_speed`` None): the whole surface has one age, the time since the last
    overturn (so the power at a whole multiple of ``period`` is that of fresh lava, and the
    curve is continuous from the right). Wave: ages uniform over :func:`_lake_windows`.
    """
    area = _positive("area [m2]", area)
    period = _positive("period [s]", period)
    time = float(time)
    if not (math.isfinite(time) and time >= 0):
        raise ValueError(f"time must be finite and >= 0 [s]; got {time!r}")
    if wave_speed is None:
        sweep = 0.0
    else:
        wave_speed = _positive("wave_speed [m s-1]", wave_speed)
        length = math.sqrt(area) if length is None else _positive("length [m]", length)
        sweep = length / wave_speed
        if sweep > period:
            raise ValueError(
                f"period ({period:g} s) must be at least the crossing time length / wave_speed "
                f"({sweep:g} s)"
            )
        if sweep < 1e-9 * period:  # age windows narrower than the rounding of their ends
            raise ValueError(
                f"the crossing time length / wave_speed ({sweep:g} s) must be at least 1e-9 "
                f"of the period ({period:g} s); a faster front is an overturn (wave_speed=None)"
            )
    lam = np.ascontiguousarray(np.atleast_1d(np.asarray(wavelength, dtype=float)).ravel())
    if not np.all(np.isfinite(lam) & (lam > 0)):
        raise ValueError("wavelength must be finite and > 0 [um]")
    curve = cooling_curve(
        material, options["model"], thickness=options["thickness"], **options["overrides"]
    )
    if period > curve.age[-1]:
        raise ValueError(f"period must be <= {curve.age[-1]:g} s (the tabulated cooling curve)")
    m = curve.material
    phase = time % period  # exact for floats: 0 <= phase < period
    if sweep == 0.0:  # overturn: one age everywhere
        t_s = float(curve.temperature_at(phase))
        spectrum = m.emissivity * area * np.asarray(planck.spectral_radiance(lam, t_s), float)
        power = m.emissivity * area * STEFAN_BOLTZMANN * (t_s**4 - m.background_temperature**4)
        return spectrum, power
    lam, bnode, cum, energy_table = age_table(curve, lam.tobytes())
    spectrum = np.zeros(lam.size)
    window = np.empty(lam.size)
    energy = 0.0
    for a0, a1 in _lake_windows(phase, period, sweep):
        energy += _k.window_integral(
            lam, curve.age, curve.surface_temperature, m.background_temperature, bnode, cum,
            energy_table, a0, a1, window,
        )  # fmt: skip
        spectrum += window
    density = m.emissivity * area / sweep  # [m2 s-1]: surface per unit age, times eps
    return density * spectrum, density * energy


@quantity_inputs(
    wavelength="um",
    time="s",
    area="m2",
    period="s",
    wave_speed="m s-1",
    length="m",
    thickness="m",
)
def lake_intensity(
    wavelength, time, area, period, material="basalt", *, wave_speed=None, length=None,
    model="stefan", thickness=None, **overrides,
):  # fmt: skip
    """Spectral intensity of a lava lake whose crust is periodically renewed [W sr-1 um-1].

    The surface is a distribution of crust ages a, each patch cooling along T_s(a) of
    :mod:`thermal.cooling.crust`:

        I_lambda = eps int B_lambda(T_s(a)) dA(a)

    Overturn (no ``wave_speed``): the whole crust founders at once at every whole multiple
    of ``period``, so all of the area has age ``time mod period``; the intensity jumps up to
    that of fresh lava at each overturn and is continuous otherwise (from the right at the
    overturn itself). Wave: a front sets off every ``period`` and crosses the lake in
    sweep = length / wave_speed, so the spot it reaches tau after setting off has age
    (time - tau) mod period and the area is spread uniformly over ages, A / sweep per second
    of age (Rathbun et al. 2002); the intensity is then continuous in time.

    Parameters
    ----------
    wavelength : float or array_like
        Wavelength [um].
    time : float
        Time since the start of a resurfacing cycle [s], >= 0 (any later cycle repeats).
    area : float
        Lake surface area [m2], > 0.
    period : float
        Resurfacing period [s], > 0 (Loki before 2001: ~540 days).
    material : str or Material, optional
        Lava; ``**overrides`` replace fields.
    wave_speed : float, optional
        Speed of a resurfacing front [m s-1] (1-3 km/day = 0.012-0.035 m s-1); the crossing
        time length / wave_speed must lie between 1e-9 ``period`` and ``period``. Default:
        the whole crust founders at once (overturn).
    length : float, optional
        Distance the front travels [m] across a strip-shaped lake (default sqrt(area)); the
        surface ages then spread uniformly over length / wave_speed.
    model, thickness : optional
        Cooling model of :mod:`thermal.cooling.crust`.

    Returns
    -------
    float or ndarray
        Intensity [W sr-1 um-1], the shape of ``wavelength``.

    References
    ----------
    Rathbun et al. 2002, GRL 29(10):1443, doi:10.1029/2002GL014747; de Kleer et al. 2017,
    Nature 545:199, doi:10.1038/nature22339.
    """
    options = {"model": model, "thickness": thickness, "overrides": overrides}
    spectrum, _ = _lake(wavelength, time, area, period, wave_speed, length, material, options)
    return spectrum.reshape(np.shape(wavelength)) if np.ndim(wavelength) else float(spectrum[0])


@quantity_inputs(time="s", area="m2", period="s", wave_speed="m s-1", length="m", thickness="m")
def lake_power(time, area, period, material="basalt", *, wave_speed=None, length=None,
               model="stefan", thickness=None, **overrides):  # fmt: skip
    """Radiated power of a resurfacing lava lake above the background [W].

    P = eps sigma int (T_s(a)^4 - T_bg^4) dA(a) over the lake's crust ages, distributed as
    in :func:`lake_intensity` (overturn: one age, time mod period; wave: uniform over the
    ages the front left behind and ahead of it). Continuous in time for a wave; an overturn
    jumps up to fresh lava at every whole multiple of ``period``.

    Parameters
    ----------
    time : float
        Time since the start of a resurfacing cycle [s], >= 0.
    area : float
        Lake surface area [m2], > 0.
    period : float
        Resurfacing period [s], > 0.
    material, wave_speed, length, model, thickness, **overrides
        As :func:`lake_intensity`.

    Returns
    -------
    float
        Power [W].
    """
    options = {"model": model, "thickness": thickness, "overrides": overrides}
    return float(_lake([1.0], time, area, period, wave_speed, length, material, options)[1])


@quantity_inputs(
    wavelength="um",
    fountain_area="m2",
    areal_rate="m2 s-1",
    duration="s",
    clast_cooling=TEMPERATURE_DIFFERENCE,
    time="s",
    thickness="m",
)
def fountain_intensity(
    wavelength, fountain_area, areal_rate, duration, material="ultramafic", *,
    clast_cooling=200.0, time=None, model="stefan", thickness=None, **overrides,
):  # fmt: skip
    """Spectral intensity of a lava fountain and the flow it feeds [W sr-1 um-1].

    The fountain is ``fountain_area`` [m2] of clasts whose temperatures spread uniformly from
    the eruption temperature down by ``clast_cooling`` [K] during flight (a simple form of the
    fountain models of Keszthelyi et al. 2007 and Davies et al. 2010); the fountain-fed flow
    is :func:`flow_intensity` with ``areal_rate`` [m2 s-1] for ``duration`` [s]. The fountain
    shines while the flow is fed (``time <= duration``).

    Returns
    -------
    float or ndarray
        Intensity [W sr-1 um-1], the shape of ``wavelength``.
    """
    fountain_area = float(fountain_area)
    if not (math.isfinite(fountain_area) and fountain_area >= 0):
        raise ValueError(f"fountain_area must be finite and >= 0 [m2]; got {fountain_area!r}")
    m = get_material(material, **overrides)
    if not 0 <= clast_cooling < m.eruption_temperature - m.background_temperature:
        raise ValueError(
            "clast_cooling must be >= 0 and leave the clasts above the background [K]; "
            f"got {clast_cooling!r}"
        )
    lam = np.atleast_1d(np.asarray(wavelength, float)).ravel()  # any shape: flat here
    flow = flow_intensity(lam, areal_rate, duration, m, time=time, model=model,
                          thickness=thickness)  # fmt: skip
    active = time is None or float(time) <= float(duration)
    if active and fountain_area > 0:
        temps = np.linspace(m.eruption_temperature - clast_cooling, m.eruption_temperature, 33)
        weights = np.full(temps.size, 1.0 / (temps.size - 1))
        weights[[0, -1]] *= 0.5
        b = planck.spectral_radiance(lam[:, None], temps[None, :])
        flow = flow + m.emissivity * fountain_area * (b @ weights)
    return flow.reshape(np.shape(wavelength)) if np.ndim(wavelength) else float(flow[0])
