"""Lava properties: :class:`Material` and the cited presets in :data:`MATERIALS`.

Values are discussed in ``docs/physics.md`` (Materials). The Io presets are the reference parameter
sets used for the derived tables there (``basalt_ref``, ``ultramafic_ref``): plausible
literature-style values, not a copy of any one paper's table, so every field can be
overridden (``get_material("basalt", conductivity=0.8)``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

__all__ = ["MATERIALS", "Material", "get_material"]


@dataclass(frozen=True)
class Material:
    """Thermal properties of a lava.

    Parameters
    ----------
    name : str
        Label.
    eruption_temperature : float
        Temperature of the lava when emplaced [K], >= ``solidus`` (usually the liquidus).
    liquidus, solidus : float
        Latent heat is released between them [K]; ``solidus <= liquidus``.
    conductivity : float
        Thermal conductivity k [W m-1 K-1], > 0.
    density : float
        rho [kg m-3], > 0.
    heat_capacity : float
        c_p [J kg-1 K-1], > 0.
    latent_heat : float
        L [J kg-1], >= 0.
    emissivity : float
        Surface emissivity in (0, 1].
    background_temperature : float
        Temperature of the surroundings the surface radiates to and of the ground under a
        flow [K], >= 0 and below ``solidus``.
    convective_coefficient : float
        Heat-transfer coefficient to an atmosphere [W m-2 K-1], >= 0 (0 on Io).
    air_temperature : float
        Temperature of that atmosphere [K] (used when ``convective_coefficient > 0``).
    reference : str
        Where the values come from.
    """

    name: str
    eruption_temperature: float
    liquidus: float
    solidus: float
    conductivity: float
    density: float
    heat_capacity: float
    latent_heat: float
    emissivity: float = 1.0
    background_temperature: float = 100.0
    convective_coefficient: float = 0.0
    air_temperature: float = 0.0
    reference: str = ""

    def __post_init__(self):
        for field in ("conductivity", "density", "heat_capacity", "liquidus", "solidus"):
            value = getattr(self, field)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{field} must be finite and > 0; got {value!r}")
        for field in ("latent_heat", "convective_coefficient", "air_temperature"):
            value = getattr(self, field)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{field} must be finite and >= 0; got {value!r}")
        if not self.solidus <= self.liquidus:
            raise ValueError(
                f"solidus ({self.solidus} K) must not be above liquidus ({self.liquidus} K)"
            )
        if not (
            math.isfinite(self.eruption_temperature) and self.eruption_temperature >= self.solidus
        ):
            raise ValueError(
                f"eruption_temperature must be >= solidus ({self.solidus} K); "
                f"got {self.eruption_temperature!r}"
            )
        if not 0 < self.emissivity <= 1:
            raise ValueError(f"emissivity must be in (0, 1]; got {self.emissivity!r}")
        if not 0 <= self.background_temperature < self.solidus:
            raise ValueError(
                f"background_temperature must be in [0, solidus) [K]; "
                f"got {self.background_temperature!r}"
            )

    @property
    def diffusivity(self) -> float:
        """Thermal diffusivity kappa = k / (rho c_p) [m2 s-1]."""
        return self.conductivity / (self.density * self.heat_capacity)

    def replace(self, **overrides) -> Material:
        """A copy with some fields replaced (validated); unknown names raise ValueError."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ValueError(f"unknown material field(s) {unknown}; known: {sorted(names)}")
        return dataclasses.replace(self, **overrides)


_IO = (
    "Reference parameter set of docs/physics.md, Materials (plausible Io values: "
    "Davies 1996, Icarus 124:45, doi:10.1006/icar.1996.0189; Davies et al. 2000, Icarus "
    "148:211, doi:10.1006/icar.2000.6486 [recalled]); 10 K melting interval as the conduction "
    "check in docs/physics.md; T_bg 100 K (night side, [recalled])."
)

MATERIALS: dict[str, Material] = {
    "basalt": Material(
        name="basalt",
        eruption_temperature=1475.0,
        liquidus=1475.0,
        solidus=1465.0,
        conductivity=1.0,
        density=2600.0,
        heat_capacity=1500.0,
        latent_heat=4e5,
        emissivity=1.0,
        background_temperature=100.0,
        reference="Io basalt (basalt_ref). " + _IO,
    ),
    "ultramafic": Material(
        name="ultramafic",
        eruption_temperature=1800.0,
        liquidus=1800.0,
        solidus=1790.0,
        conductivity=1.0,
        density=2800.0,
        heat_capacity=1500.0,
        latent_heat=4e5,
        emissivity=1.0,
        background_temperature=100.0,
        reference="Io ultramafic lava (ultramafic_ref; ~1800 K, the upper eruption temperatures "
        "proposed for Pillan 1997; Keszthelyi et al. 2007, doi:10.1016/j.icarus.2007.07.008, "
        "argue for a lower limit near 1613 K (1340 C) instead). " + _IO,
    ),
    "basalt_hawaii": Material(
        name="basalt_hawaii",
        eruption_temperature=1387.15,
        liquidus=1387.15,
        solidus=1237.15,
        conductivity=1.0,
        density=2600.0,
        heat_capacity=1150.0,
        latent_heat=3.5e5,
        emissivity=0.95,
        background_temperature=300.0,
        convective_coefficient=10.0,
        air_temperature=300.0,
        reference="Hawaiian basalt in air: eruption/solid temperatures, latent heat and "
        "emissivity of the PyFLOWGO Mauna Loa template (Chevrel et al. 2018, Comput. Geosci. "
        "111:167, doi:10.1016/j.cageo.2017.11.009); k, rho, c_p, 10 W m-2 K-1 free convection "
        "and 300 K air [recalled].",
    ),
}
"""Named presets: ``basalt`` and ``ultramafic`` (Io, no atmosphere), ``basalt_hawaii``
(Kilauea-type lava cooling in air)."""


def get_material(material="basalt", **overrides) -> Material:
    """A :class:`Material` from a preset name or a Material, with fields overridden.

    Parameters
    ----------
    material : str or Material
        Preset name (``MATERIALS``) or a Material.
    **overrides
        Field values to replace, e.g. ``conductivity=0.8`` [W m-1 K-1].

    Returns
    -------
    Material

    Raises
    ------
    ValueError
        Unknown preset or field, or an invalid value (naming the field).
    """
    if isinstance(material, Material):
        base = material
    else:
        try:
            base = MATERIALS[str(material)]
        except KeyError:
            raise ValueError(
                f"material must be a Material or one of {sorted(MATERIALS)}; got {material!r}"
            ) from None
    return base.replace(**overrides) if overrides else base
