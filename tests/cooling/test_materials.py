"""Material presets and validation."""

from __future__ import annotations

import pytest

from thermal.cooling import MATERIALS, Material, get_material


def test_presets_match_the_reference_sets():
    basalt = MATERIALS["basalt"]
    assert basalt.eruption_temperature == 1475.0
    assert basalt.diffusivity == pytest.approx(
        2.56e-7, rel=3e-3
    )  # kappa = k / (rho c_p), docs/physics.md
    assert MATERIALS["ultramafic"].diffusivity == pytest.approx(2.38e-7, rel=3e-3)
    assert MATERIALS["basalt_hawaii"].convective_coefficient > 0
    for m in MATERIALS.values():
        assert m.reference


def test_overrides_replace_single_fields():
    m = get_material("basalt", conductivity=0.8)
    assert m.conductivity == 0.8
    assert m.density == MATERIALS["basalt"].density
    assert get_material(m) is m


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("solidus", 1500.0),  # above liquidus
        ("conductivity", 0.0),
        ("density", -1.0),
        ("emissivity", 1.5),
        ("latent_heat", -1.0),
        ("eruption_temperature", 1000.0),
        ("background_temperature", 1470.0),
    ],
)
def test_invalid_values_raise_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        get_material("basalt", **{field: value})


def test_unknown_field_and_preset():
    with pytest.raises(ValueError, match="unknown"):
        get_material("basalt", colour="red")
    with pytest.raises(ValueError, match="material"):
        get_material("rhyolite")
    assert isinstance(MATERIALS["ultramafic"], Material)
