"""Cooling figures render to PNG."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from thermal.cooling.figures import plot_cooling_curves, plot_ratio_diagram


def test_cooling_curves_png(tmp_path):
    path = tmp_path / "curves.png"
    fig = plot_cooling_curves(
        curves=(("basalt", "stefan"), ("ultramafic", "conduction", 10.0)), path=path
    )
    assert path.stat().st_size > 10_000
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 2


def test_ratio_diagram_png(tmp_path):
    path = tmp_path / "ratio.png"
    fig = plot_ratio_diagram(path=path)
    assert path.stat().st_size > 10_000
    assert fig.axes[0].get_ylabel() == "I(2 um) / I(5 um)"
