"""The reader registry: sniffing, plugins (in-process and entry points), JIRAM pairing."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import xarray as xr

from thermal import simulate
from thermal.batch import normalise_inputs
from thermal.io import InputError, detect_format, formats, open_observation, register_format
from thermal.io.jiram import find_label, input_files, label_for
from thermal.layout import finalise

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "data", "examples")
EXPECTED = {
    "JIR_IMG_RDR_2017033T114006_V99.IMG": "jiram",
    "JIR_IMG_RDR_2017033T114006_V99.LBL": "jiram",
    "JIR_SPE_RDR_2017033T114007_V99.DAT": "jiram",
    "JIR_SPE_RDR_2017033T114007_V99.LBL": "jiram",
    "jwst_nirspec_synthetic_s3d.fits": "fits",
    "keck_2013-08.csv": "csv",
    "nims_like_spectra.nc": "netcdf",
}
GROUP = formats.ENTRY_POINT_GROUP


@pytest.fixture(autouse=True)
def fresh_registry():
    """Every test starts and ends with the built-in formats only."""
    formats._reset()
    yield
    formats._reset()


def test_every_bundled_example_is_sniffed_to_its_format():
    assert sorted(os.listdir(EXAMPLES)) == sorted(EXPECTED)
    for name, expected in EXPECTED.items():
        assert detect_format(os.path.join(EXAMPLES, name)) == expected, name


def test_content_decides_before_the_extension(tmp_path):
    # without (or with a misleading) extension, the content still names the format
    for name, expected in EXPECTED.items():
        if name.endswith((".IMG", ".DAT", ".csv")):
            continue  # binary data and CSV have no signature: their extension decides
        for target in (tmp_path / f"{name}.bin", tmp_path / f"{name}.csv"):
            shutil.copy(os.path.join(EXAMPLES, name), target)
            assert detect_format(target) == expected, target.name
    mrt = tmp_path / "table.lbl"
    mrt.write_text("Title: a table\nByte-by-byte Description of file: t.txt\n")
    assert detect_format(mrt) == "mrt"
    csv = tmp_path / "no_extension"
    shutil.copy(os.path.join(EXAMPLES, "keck_2013-08.csv"), csv)
    with pytest.raises(InputError, match=r"no_extension: unrecognised file format \(extension"):
        detect_format(csv)


def test_detect_format_errors_are_unchanged(tmp_path):
    with pytest.raises(InputError, match="is a directory, not an observation file"):
        detect_format(tmp_path)
    with pytest.raises(InputError, match=r"missing\.nc: no such file"):
        detect_format(tmp_path / "missing.nc")
    (tmp_path / "empty.nc").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty file \(0 bytes\)"):
        detect_format(tmp_path / "empty.nc")
    (tmp_path / "x.xyz").write_text("hello")
    with pytest.raises(InputError, match=r"unrecognised file format \(extension '\.xyz'\)"):
        detect_format(tmp_path / "x.xyz")


def test_format_forcing_and_unknown_options():
    keck = os.path.join(EXAMPLES, "keck_2013-08.csv")
    assert open_observation(keck, format="csv").sizes["obs"] == 4
    with pytest.raises(
        ValueError, match="format must be netcdf, csv, mrt, jiram, ao or fits; got"
    ):
        open_observation(keck, format="excel")
    with pytest.raises(ValueError, match=r"csv reader: unexpected option\(s\) 'band_integrated'"):
        open_observation(keck, band_integrated="divide")
    label = os.path.join(EXAMPLES, "JIR_SPE_RDR_2017033T114007_V99.LBL")
    with pytest.raises(ValueError, match=r"jiram reader: .*'colour'.* it takes wavelengths"):
        open_observation(label, colour="red")


def test_builtin_formats_are_listed_with_a_description():
    listed = formats.formats()
    assert [f.name for f in listed] == ["ao", "netcdf", "csv", "mrt", "jiram", "fits"]
    assert all(f.description and f.origin == "built-in" for f in listed)
    assert formats.get_format("jiram").extensions == (".lbl", ".img", ".dat", ".qub")


def test_importing_thermal_io_imports_no_heavy_reader():
    code = textwrap.dedent(
        f"""
        import os, sys
        import thermal.io
        from thermal.io import detect_format
        for name in os.listdir({EXAMPLES!r}):
            detect_format(os.path.join({EXAMPLES!r}, name))
        heavy = [m for m in ("astropy", "pvl", "netCDF4", "pdr") if m in sys.modules]
        print(",".join(heavy))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == ""


# ---------------------------------------------------------------------------------------------
# in-process plugins


def _toy_reader(path, *, scale: float = 1.0):
    """A toy format: a line 'TOY' then one intensity [GW um-1 sr-1] per line at 1, 2, 3 um."""
    with open(path) as handle:
        values = [float(v) * scale for v in handle.read().split()[1:]]
    ds = xr.Dataset(
        {"intensity": ("wavelength", values, {"units": "GW um-1 sr-1"})},
        coords={"wavelength": ("wavelength", [1.0, 2.0, 3.0], {"units": "um"})},
    )
    return finalise(ds, path, source_format="toy")


def test_a_plugin_registered_in_process_is_found_and_used(tmp_path):
    fmt = register_format(
        "toy",
        _toy_reader,
        sniff=lambda head: head.startswith(b"TOY"),
        extensions=("TOY",),
        description="toy spectra",
    )
    assert fmt.extensions == (".toy",) and formats.get_format("toy") is fmt
    by_content = tmp_path / "spectrum.dat"  # .dat is a JIRAM extension: the content wins
    by_content.write_text("TOY\n1\n2\n3\n")
    assert detect_format(by_content) == "toy"
    obs = open_observation(by_content, scale=2.0)
    np.testing.assert_array_equal(obs.intensity, [2e9, 4e9, 6e9])  # GW -> W
    assert obs.attrs["thermal_input_format"] == "toy"
    by_extension = tmp_path / "spectrum.toy"
    by_extension.write_text("toy, but lower case\n1\n2\n3\n")
    assert detect_format(by_extension) == "toy"
    with pytest.raises(ValueError, match=r"toy reader: unexpected option\(s\) 'size'"):
        open_observation(by_extension, size=3)
    # forced by name, whatever the content
    other = tmp_path / "other.txt"
    other.write_text("x 5 6 7\n")
    assert float(open_observation(other, format="toy").intensity[0]) == 5e9
    with pytest.raises(ValueError, match="already registered"):
        register_format("toy", _toy_reader)
    with pytest.raises(ValueError, match="already registered"):
        register_format("csv", _toy_reader)
    # results are named after the input without the extension its format claims
    from thermal.batch import plan_outputs

    assert plan_outputs([str(by_extension)], "out") == [
        (str(by_extension), os.path.join("out", "spectrum.fit.nc"))
    ]
    formats.unregister_format("toy")
    with pytest.raises(InputError, match="unrecognised file format"):
        detect_format(by_extension)
    assert plan_outputs([str(by_extension)], "out")[0][1] == os.path.join(
        "out", "spectrum.toy.fit.nc"
    )


# a plugin module, as another package would ship it
PLUGIN = """
import xarray as xr
from thermal.io.formats import Format
from thermal.layout import finalise


def read(path, *, scale=1.0):
    with open(path) as handle:
        values = [float(v) * scale for v in handle.read().split()[1:]]
    ds = xr.Dataset(
        {"intensity": ("wavelength", values, {"units": "GW um-1 sr-1"})},
        coords={"wavelength": ("wavelength", [1.0, 2.0, 3.0], {"units": "um"})},
    )
    return finalise(ds, path, source_format="toy")


def hdf5_signature(head):
    return head.startswith(b"\\x89HDF")


FORMAT = Format("toy", "thermal_toy_plugin:read", sniff=lambda head: head.startswith(b"TOY"),
                extensions=(".toy",), description="toy spectra")
NETCDF = Format("netcdf", read)
NOT_A_FORMAT = print
"""


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    """``thermal_toy_plugin`` importable from a temporary folder."""
    (tmp_path / "thermal_toy_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "thermal_toy_plugin"
    sys.modules.pop("thermal_toy_plugin", None)


def test_plugin_reader_by_reference_priority_and_replacing(tmp_path, plugin_module):
    nims = os.path.join(EXAMPLES, "nims_like_spectra.nc")
    from thermal_toy_plugin import hdf5_signature

    # the HDF5 signature netcdf claims: a priority-0 plugin comes after it, priority 1 before
    register_format("late", "thermal_toy_plugin:read", sniff=hdf5_signature)
    assert detect_format(nims) == "netcdf"
    register_format("early", "thermal_toy_plugin:read", sniff=hdf5_signature, priority=1)
    assert detect_format(nims) == "early"
    formats.unregister_format("early")
    # replacing a built-in reader
    register_format("csv", "thermal_toy_plugin:read", extensions=(".csv",), replace=True)
    toy = tmp_path / "t.csv"
    toy.write_text("TOY 1 2 3\n")
    assert open_observation(toy).attrs["thermal_input_format"] == "toy"
    with pytest.raises(ValueError, match="name must start with a letter"):
        register_format("1st", _toy_reader)
    with pytest.raises(TypeError, match="reader must be a callable"):
        register_format("nothing", 42)


def test_a_plugin_sniffer_that_raises_does_not_stop_detection():
    def broken(head):
        raise RuntimeError("boom")

    register_format("fragile", _toy_reader, sniff=broken, priority=5)
    with pytest.warns(formats.PluginWarning, match=r"'fragile'.*RuntimeError: boom") as caught:
        for name, expected in EXPECTED.items():
            assert detect_format(os.path.join(EXAMPLES, name)) == expected
    assert len(caught) == 1


def test_a_plugin_reader_that_cannot_be_imported_is_an_input_error(tmp_path):
    register_format("ghost", "thermal_no_such_module:read", extensions=(".ghost",))
    path = tmp_path / "a.ghost"
    path.write_text("boo")
    with pytest.raises(InputError, match=r"a\.ghost: format 'ghost' .*thermal_no_such_module"):
        open_observation(path)


# ---------------------------------------------------------------------------------------------
# entry-point plugins


def _entry_points(monkeypatch, **points):
    """Pretend the installed distributions declare these ``thermal.formats`` entry points."""
    made = [importlib.metadata.EntryPoint(name, value, GROUP) for name, value in points.items()]
    monkeypatch.setattr(formats, "_entry_points", lambda: made)


def test_a_broken_entry_point_plugin_does_not_break_builtin_formats(
    tmp_path, monkeypatch, plugin_module
):
    _entry_points(
        monkeypatch,
        broken="thermal_no_such_plugin_module:FORMAT",
        toy="thermal_toy_plugin:FORMAT",
        wrong="thermal_toy_plugin:NOT_A_FORMAT",
        shadow="thermal_toy_plugin:NETCDF",
    )
    with pytest.warns(formats.PluginWarning) as caught:
        for name, expected in EXPECTED.items():
            assert detect_format(os.path.join(EXAMPLES, name)) == expected
    messages = [str(w.message) for w in caught]
    assert len(messages) == 3  # loaded once, each problem reported once
    assert any("'broken'" in m and "failed to import: ModuleNotFoundError" in m for m in messages)
    assert any("'wrong'" in m and "is not a thermal.io.formats.Format" in m for m in messages)
    assert any("'shadow'" in m and "'netcdf', which is already registered" in m for m in messages)
    # the built-in readers still read, the good plugin is used
    assert open_observation(os.path.join(EXAMPLES, "keck_2013-08.csv")).sizes["obs"] == 4
    toy = tmp_path / "a.toy"
    toy.write_text("TOY 1 2 3\n")
    assert detect_format(toy) == "toy"
    assert "thermal_toy_plugin:FORMAT" in formats.get_format("toy").origin
    assert float(open_observation(toy).intensity[2]) == 3e9
    # asking for the broken plugin by name is an InputError naming it
    with pytest.raises(InputError, match=r"a\.toy: .*plugin.*'broken'.*failed to import"):
        open_observation(toy, format="broken")


def test_entry_points_are_loaded_once_and_lazily(monkeypatch, plugin_module):
    calls = []
    made = [importlib.metadata.EntryPoint("toy", "thermal_toy_plugin:FORMAT", GROUP)]
    monkeypatch.setattr(formats, "_entry_points", lambda: calls.append(1) or made)
    assert calls == []  # nothing at import or fixture time
    detect_format(os.path.join(EXAMPLES, "keck_2013-08.csv"))
    detect_format(os.path.join(EXAMPLES, "nims_like_spectra.nc"))
    assert "toy" in [f.name for f in formats.formats()]
    assert calls == [1]


# ---------------------------------------------------------------------------------------------
# JIRAM label/data pairing, in any case of the extensions


@pytest.mark.parametrize(
    ("product", "label_ext", "data_ext"),
    [
        ("image", ".LBL", ".IMG"),
        ("image", ".lbl", ".img"),
        ("image", ".Lbl", ".iMg"),
        ("spectrometer", ".LBL", ".DAT"),
        ("spectrometer", ".lbl", ".dat"),
        ("spectrometer", ".LBL", ".Dat"),
    ],
)
def test_label_and_data_pairing(tmp_path, product, label_ext, data_ext):
    write = simulate.jiram_image if product == "image" else simulate.jiram_spectrometer
    label, data = write(tmp_path / "made", noise=0.0)
    # lower-case stem: the label's pointer names the data file in upper case
    stem = os.path.splitext(os.path.basename(label))[0].lower()
    folder = tmp_path / "product"
    folder.mkdir()
    new_label = str(folder / f"{stem}{label_ext}")
    new_data = str(folder / f"{stem}{data_ext}")
    shutil.copy(label, new_label)
    shutil.copy(data, new_data)
    assert find_label(new_data) == new_label
    assert label_for(new_data) == new_label and label_for(new_label) == new_label
    assert input_files(new_label) == [new_label, new_data]
    assert input_files(new_data) == [new_label, new_data]
    assert input_files(new_label) == [new_label, new_data]
    assert normalise_inputs([new_data, new_label]) == [new_label]
    assert detect_format(new_data) == "jiram"
    reference = open_observation(label)
    for path in (new_data, new_label):
        np.testing.assert_array_equal(open_observation(path).radiance, reference.radiance)


def test_pairing_without_a_label_and_with_a_pointer_to_another_name(tmp_path):
    label, data = simulate.jiram_spectrometer(tmp_path, noise=0.0)
    alone = tmp_path / "alone.DAT"
    shutil.copy(data, alone)
    assert find_label(alone) is None and input_files(alone) == [str(alone)]
    assert normalise_inputs([str(alone)]) == [str(alone)]
    with pytest.raises(InputError, match=r"alone\.DAT: PDS data file without a label"):
        label_for(alone)
    with pytest.raises(InputError, match="PDS data file without a label"):
        detect_format(alone)
    with pytest.raises(InputError, match="PDS data file without a label"):
        open_observation(alone, format="jiram")
    # a label whose pointer names a data file of another stem: both are the input
    other = tmp_path / "renamed.LBL"
    shutil.copy(label, other)
    assert input_files(other) == [str(other), data]
    assert input_files(label) == [label, data]
    # not a PDS product: itself
    keck = os.path.join(EXAMPLES, "keck_2013-08.csv")
    assert input_files(keck) == [keck] and label_for(keck) == keck and find_label(keck) is None
