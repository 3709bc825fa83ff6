"""CSV and AAS MRT photometry tables."""

from __future__ import annotations

import os

import numpy as np
import pytest

from thermal import bands, units
from thermal.io import InputError, detect_format, open_observation

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "data", "examples")

MRT = """\
Title: Synthetic test table in the layout of de Kleer et al. (2019) Table 5
Authors: thermal tests
Table: Hot spot intensities
================================================================================
Byte-by-byte Description of file: t5.txt
--------------------------------------------------------------------------------
   Bytes Format Units          Label  Explanations
--------------------------------------------------------------------------------
   1- 10 A10    ---            Name   Hot spot name
  12- 15 I4     ---            Year   Year
  17- 18 I2     ---            Mon    Month
  20- 21 I2     ---            Day    Day
  23- 27 F5.1   deg            Lat    Latitude
  29- 33 F5.1   deg            LonW   West longitude
  35- 41 F7.2   GW.um-1.sr-1   Kc     Kc intensity
  43- 48 F6.2   GW.um-1.sr-1   e_Kc   Kc uncertainty
  50- 56 F7.2   GW.um-1.sr-1   Lp     Lp intensity
  58- 63 F6.2   GW.um-1.sr-1   e_Lp   Lp uncertainty
  65- 71 F7.2   GW.um-1.sr-1   Ms     Ms intensity
  73- 78 F6.2   GW.um-1.sr-1   e_Ms   Ms uncertainty
--------------------------------------------------------------------------------
Loki       2013 08 15  12.0 309.0                   25.00   1.00   40.00   2.00
201308C    2013 08 29  29.1 223.5 500.00  20.00  900.00  30.00
"""


def test_example_keck_table():
    obs = open_observation(os.path.join(EXAMPLES, "keck_2013-08.csv"))
    assert obs.attrs["thermal_input_format"] == "csv"
    rarog = obs.sel(obs=0)
    assert rarog.hotspot == "Rarog Patera"
    # 500 GW um-1 sr-1 (de Pater et al. 2014) in W sr-1 um-1
    assert rarog.intensity.sel(band="nirc2_kc") == 5e11
    assert rarog.intensity_uncertainty.sel(band="nirc2_kc") == 1e11
    assert np.isnan(rarog.intensity.sel(band="nirc2_ms"))
    assert rarog.longitude == 55.0 and rarog.longitude_west == 305.0
    assert rarog.latitude == -42.0
    assert obs.intensity.attrs["original_units"] == "GW um-1 sr-1"
    assert str(rarog.time.values).startswith("2013-08-15T15:30")


def test_jansky_needs_distance_and_converts(tmp_path):
    path = tmp_path / "jy.csv"
    au = units.ASTRONOMICAL_UNIT
    path.write_text(
        f"# units: Jy\nhotspot,distance,nirc2_kc,nirc2_kc_uncertainty\na,{4.2 * au},1.0,0.1\n"
    )
    obs = open_observation(path)
    expected = units.flux_density_to_intensity(1.0, bands.get("nirc2_kc").centre, 4.2 * au)
    assert float(obs.intensity[0, 0]) == pytest.approx(expected, rel=1e-12)
    # 1 Jy at 2.27 um from 4.2 AU is 229.7 GW um-1 sr-1 (docs/physics.md; centre here 2.2706 um)
    assert float(obs.intensity[0, 0]) / 1e9 == pytest.approx(
        229.7 * (2.27 / 2.2706) ** 2, rel=1e-3
    )
    assert obs.intensity.attrs["original_units"] == "Jy"
    path.write_text("# units: Jy\nhotspot,nirc2_kc\na,1.0\n")
    with pytest.raises(InputError, match="need a 'distance' column"):
        open_observation(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hotspot,nirc2_kc,nirc2_zz\na,1,2\n", "unknown band name 'nirc2_zz'"),
        ("hotspot,nirc2_kc,nirc2_kc_uncertainty\na,1,\n", "row 1: nirc2_kc has a value but no"),
        ("hotspot,nirc2_kc\na,abc\n", "'abc' is not a number"),
        ("hotspot,nirc2_kc\na,1,2\n", "row 1 has 3 cells"),
        ("# units: K\nhotspot,nirc2_kc\na,1\n", "neither an intensity"),
        ("hotspot\na\n", "no band columns"),
        ("hotspot,nirc2_kc\n", "no data rows"),
        ("hotspot,latitude,nirc2_kc\na,12,1\nb,200,1\n", "row 2: latitude must be in"),
        ("hotspot,longitude_west,nirc2_kc\na,inf,1\n", "row 1: longitude_west must be finite"),
    ],
)
def test_bad_csv(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        open_observation(path)
    assert str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)


def test_a_mapped_column_the_table_lacks_is_named(tmp_path):
    path = tmp_path / "own.csv"
    path.write_text("spot,Lp\na,1\n")
    with pytest.raises(InputError, match=r"columns maps 'name', which the table does not have "
                       r"\(its columns: spot, Lp\)"):  # fmt: skip
        open_observation(path, columns="name=hotspot,Lp=nirc2_lp")
    obs = open_observation(path, columns="spot=hotspot,Lp=nirc2_lp")
    assert list(obs.band.values) == ["nirc2_lp"]


def test_mrt(tmp_path):
    path = tmp_path / "table5.txt"
    path.write_text(MRT)
    assert detect_format(path) == "mrt"
    obs = open_observation(path)
    assert list(obs.band.values) == ["nirc2_kc", "nirc2_lp", "nirc2_ms"]
    assert list(obs.hotspot.values) == ["Loki", "201308C"]
    np.testing.assert_allclose(obs.intensity.sel(obs=1).values[:2], [500e9, 900e9])
    assert np.isnan(obs.intensity.sel(obs=1, band="nirc2_ms"))
    np.testing.assert_allclose(obs.intensity_uncertainty.sel(obs=0, band="nirc2_lp"), 1e9)
    np.testing.assert_allclose(obs.longitude, [51.0, 136.5])
    assert str(obs.time.values[1]).startswith("2013-08-29")
    assert obs.intensity.attrs["original_units"] == "GW / (sr um)"
