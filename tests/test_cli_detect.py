"""``thermal detect``: hot spots of every input, a catalogue, resume, errors, exit codes."""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from thermal import planck, simulate, units
from thermal.catalogue import read_catalogue_csv
from thermal.cli import main
from thermal.io.jiram import IFOV

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "data", "examples")


def test_detect_on_the_bundled_examples(tmp_path, capsys):
    """The JIRAM image gives its two injected spots; inputs without an image are named, not
    failed; a second run resumes; hotspots.csv holds every detection."""
    out = tmp_path / "out"
    inputs = sorted(glob.glob(os.path.join(EXAMPLES, "*")))
    assert main(["detect", *inputs, "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "no image" in text and "0 failed" in text
    # the L and M fluxes are totalled apart, never added
    row = next(line for line in text.splitlines() if "JIR_IMG" in line)
    assert "jiram_l 15; jiram_m 7.983 GW um-1" in row
    with xr.open_dataset(out / "JIR_IMG_RDR_2017033T114006_V99.hotspots.nc") as spots:
        assert spots.sizes["hotspot"] == 2
        assert spots.attrs["geometry_source"] == "label"
        assert spots["spectral_flux"].attrs["units"] == "W um-1"
        assert np.isfinite(spots["power_lower"].values).all()
        # the injected spots (thermal.simulate.jiram_image): position and radiance
        pixel_area = units.surface_footprint_area(80_000e3, IFOV, 30.0, 90.0)
        for line, sample, temperature, area, band in (
            (60, 100, 900.0, 2.0e6, "jiram_l"),
            (190, 300, 600.0, 8.0e6, "jiram_m"),
        ):
            k = int(
                np.argmin(np.hypot(spots["line"].values - line, spots["sample"].values - sample))
            )
            spot = spots.isel(hotspot=k)
            assert np.hypot(float(spot["line"]) - line, float(spot["sample"]) - sample) < 0.3
            truth = area / pixel_area * float(planck.band_radiance(band, temperature))
            error = float(spot["radiance_sum"]) - truth
            assert abs(error) < max(0.05 * truth, 3 * float(spot["radiance_sum_uncertainty"]))
            assert str(spot["band"].values) == band
    assert "jwst_nirspec_synthetic_s3d.fits     1      0          0     -" in text  # no flux
    catalogue = read_catalogue_csv(out / "hotspots.csv")
    assert catalogue.sizes["detection"] >= 2
    assert main(["detect", *inputs, "-o", str(out)]) == 0
    assert capsys.readouterr().out.count("resumed") == 2  # the image and the cube


def test_one_broken_input_does_not_stop_the_others(tmp_path, capsys):
    label, _ = simulate.jiram_image(tmp_path / "in", "JIR_IMG_RDR_GOOD_V01")
    broken, broken_data = simulate.jiram_image(tmp_path / "in", "JIR_IMG_RDR_BROKEN_V01")
    with open(broken_data, "r+b") as handle:
        handle.truncate(1000)
    out = tmp_path / "out"
    assert main(["detect", label, broken, "-o", str(out)]) == 1
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if "BROKEN" in line]
    assert len(errors) == 1 and "Traceback" not in captured.err
    assert (out / "JIR_IMG_RDR_GOOD_V01.hotspots.nc").is_file()
    assert not (out / "JIR_IMG_RDR_BROKEN_V01.hotspots.nc").exists()


@pytest.mark.parametrize(
    "options",
    [
        ["--nsigma", "0"],
        ["--saturation", "-1"],
        ["--max-emission-angle", "91"],
        ["--temperature-range", "1400", "300"],
        ["--radiance-unit", "furlongs"],
        ["--workers", "0"],
    ],
)
def test_bad_options_are_usage_errors(tmp_path, options, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["detect", os.path.join(EXAMPLES, "keck_2013-08.csv"), "-o", str(tmp_path),
              *options])  # fmt: skip
    assert stop.value.code == 2
    assert not list(tmp_path.iterdir())


def test_saturated_spots_are_flagged(tmp_path, capsys):
    label, _ = simulate.jiram_image(tmp_path / "in", "JIR_IMG_RDR_SAT_V01")
    out = tmp_path / "out"
    assert main(["detect", label, "-o", str(out), "--saturation", "5", "-q"]) == 0
    with xr.open_dataset(out / "JIR_IMG_RDR_SAT_V01.hotspots.nc") as spots:
        bright = spots["radiance_sum"].values > 5
        np.testing.assert_array_equal(spots["saturated"].values, bright)
        assert bright.any()
        brightest = int(np.nanargmax(spots["spectral_flux"].values))
        saturated = bool(spots["saturated"].values[brightest])
    capsys.readouterr()
    assert main(["info", str(out / "JIR_IMG_RDR_SAT_V01.hotspots.nc")]) == 0
    # a saturated brightest spot's flux is a lower limit, and so is each total it is in
    text = capsys.readouterr().out
    assert ("brightest >=" in text) == saturated
    assert "total jiram_l >=" in text and "jiram_m >=" in text


def test_wrong_kernels_fail_the_input_in_one_line(tmp_path, capsys):
    """A meta-kernel that gives SPICE nothing of Juno: one line naming the input, exit 1."""
    pytest.importorskip("spiceypy")
    label, _ = simulate.jiram_image(tmp_path / "in", "JIR_IMG_RDR_SPICE_V01")
    meta = tmp_path / "kernels" / "empty.tm"
    meta.parent.mkdir()
    meta.write_text("KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( )\n\\begintext\n")
    code = main(["detect", label, "-o", str(tmp_path / "out"), "--kernels", str(meta)])
    assert code == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "JIR_IMG_RDR_SPICE_V01" in line]
    assert len(lines) == 1 and "Traceback" not in err
    with pytest.raises(SystemExit) as stop:
        main(["detect", label, "-o", str(tmp_path / "out"), "--kernels", "missing.tm"])
    assert stop.value.code == 2


def test_adaptive_optics_images_become_one_photometry_table(tmp_path):
    """thermal detect night/*.fits --table night.csv: the spots of each band's image,
    photometry matched across bands, a table that thermal fit reads."""
    from thermal.detect import scene

    images = []
    for name in ("Kc", "Lp", "Ms"):
        path, _ = scene.write_ao_image(tmp_path / f"io_{name}.fits", filter_name=name, seed=1)
        images.append(str(path))
    table = tmp_path / "night.csv"
    out = tmp_path / "out"
    assert main(["detect", *images, "-o", str(out), "--table", str(table),
                 "--distance", "6.3e11", "-q"]) == 0  # fmt: skip
    text = table.read_text()
    assert "# units: Jy" in text and "nirc2_ms" in text
    with xr.open_dataset(out / "io_Ms.hotspots.nc") as spots:
        assert spots.sizes["hotspot"] >= 1
        assert spots["flux_density"].attrs["units"] == "1e-26 W m-2 Hz-1"  # Jy, as UDUNITS
        assert "units" not in spots.attrs and "long_name" not in spots.attrs
    assert main(["fit", str(table), "-o", str(tmp_path / "fit"), "-q"]) == 0
    assert (tmp_path / "fit" / "night.fit.nc").is_file()


def test_aperture_photometry_on_a_lit_disk_gives_the_injected_flux(tmp_path):
    """Spots on Io's sunlit, limb-darkened disk: with the disk's profile removed first, the
    aperture flux is the injected one within 25 % (the plain annulus, reaching over the limb,
    gave 3-25 times it)."""
    from thermal import bands
    from thermal.detect import scene

    path, truth = scene.write_ao_image(tmp_path / "io_Ms.fits", filter_name="Ms", seed=2)
    out = tmp_path / "out"
    assert main(["detect", str(path), "-o", str(out), "--distance", "6.3e11", "-q"]) == 0
    with xr.open_dataset(out / "io_Ms.hotspots.nc") as spots:
        found = spots.load()
    assert found.attrs["background_method"] == "disk"
    # the file's UDUNITS jansky is read back as one
    from thermal import units

    intensity = units.flux_density_to_intensity(found.flux_density, 4.67, 6.3e11)
    np.testing.assert_allclose(
        intensity.values, units.flux_density_to_intensity(found.flux_density.values, 4.67, 6.3e11)
    )
    # the truth's radiance sums [W m-2 sr-1 um-1] in Jy: the pixel's solid angle, at the centre
    pixel = (0.009942 / 206264.806) ** 2
    centre = bands.get("nirc2_ms").centre * 1e-6
    jansky = truth["radiance_sum"].values * pixel * 1e6 * centre**2 / 2.99792458e8 / 1e-26
    ratios = []
    for line, sample, flux in zip(truth.line.values, truth.sample.values, jansky, strict=True):
        distance = np.hypot(found.line.values - line, found.sample.values - sample)
        if distance.min() < 1.0:
            ratios.append(float(found.flux_density.values[distance.argmin()]) / flux)
    assert len(ratios) >= 4
    assert all(0.75 < r < 1.3 for r in ratios), ratios


def test_an_adaptive_optics_image_without_spots_gives_an_empty_table(tmp_path, capsys):
    """A frame clipped flat (saturated everywhere) has no spot: 0 rows, not a failure; and
    thermal info reads that table (and any AO table: its band is one scalar)."""
    from thermal.detect import scene

    path, _ = scene.write_ao_image(tmp_path / "flat.fits", filter_name="Lp", saturation=1e-3)
    out = tmp_path / "out"
    assert main(["detect", str(path), "-o", str(out), "-q"]) == 0
    with xr.open_dataset(out / "flat.hotspots.nc") as spots:
        assert spots.sizes["hotspot"] == 0
        assert "flux_density" in spots
    capsys.readouterr()
    assert main(["info", str(out / "flat.hotspots.nc")]) == 0
    assert "bands: nirc2_lp 0" in capsys.readouterr().out


def test_simulated_frames_are_found_again(tmp_path, capsys):
    """thermal simulate image writes a frame and its truth; thermal detect finds the spots."""
    assert main(["simulate", "image", "-o", str(tmp_path), "--seed", "3"]) == 0
    label, truth_path = capsys.readouterr().out.split()
    assert main(["detect", label, "-o", str(tmp_path / "out"), "-q"]) == 0
    with xr.open_dataset(truth_path) as truth:
        injected = truth.sizes["hotspot"]
        where = np.stack([truth["line"].values, truth["sample"].values], axis=1)
    name = os.path.basename(label).replace(".LBL", ".hotspots.nc")
    with xr.open_dataset(tmp_path / "out" / name) as spots:
        found = np.stack([spots["line"].values, spots["sample"].values], axis=1)
    nearest = np.min(np.linalg.norm(where[:, None, :] - found[None, :, :], axis=2), axis=1)
    assert injected >= 8 and np.mean(nearest < 1.0) >= 0.9
    with pytest.raises(SystemExit) as stop:
        main(["simulate", "--bands", "nirc2_lp", "-o", str(tmp_path / "x.nc")])
    assert stop.value.code == 2


def test_a_spot_seen_in_two_orbits_keeps_one_id_and_its_name(tmp_path):
    """Two frames (two orbits) whose backplanes put the M spot on Loki Patera (12.8 N,
    308.4 W; Davies et al. 2024) and the L spot on an unnamed place: the M detections are
    'Loki Patera' in both, the L detections share one new id, also after a second run."""
    line, sample = np.meshgrid(np.arange(256.0), np.arange(432.0), indexing="ij")
    top = line < 128
    planes = xr.Dataset(
        {
            "latitude": (("line", "sample"), np.where(top, -75 + (line - 60) * 0.05,
                         12.8 + (line - 190) * 0.05), {"units": "degrees_north"}),
            "longitude": (("line", "sample"), np.where(top, 10 + (sample - 100) * 0.05,
                          51.6 + (sample - 300) * 0.05), {"units": "degrees_east"}),
            "emission_angle": (("line", "sample"), np.full(line.shape, 30.0),
                               {"units": "degree"}),
            "range": (("line", "sample"), np.full(line.shape, 80_000e3), {"units": "m"}),
        }
    )  # fmt: skip
    backplanes = tmp_path / "planes.nc"
    planes.to_netcdf(backplanes)
    labels = []
    for orbit, shift in (("57", 0), ("58", 1)):
        spots = ((60, 100 + shift, 900.0, 2.0e6), (190, 300 + shift, 600.0, 8.0e6))
        label, _ = simulate.jiram_image(tmp_path / "in", f"JIR_IMG_RDR_ORBIT{orbit}_V01",
                                        spots=spots)  # fmt: skip
        labels.append(label)
    out = tmp_path / "out"
    for _ in range(2):  # the second run resumes and keeps the ids
        assert main(["detect", *labels, "-o", str(out), "--backplanes", str(backplanes),
                     "-q"]) == 0  # fmt: skip
        catalogue = read_catalogue_csv(out / "hotspots.csv")
        bands = catalogue["band"].values
        ids = catalogue["hotspot_id"].values
        assert list(ids[bands == "jiram_m"]) == ["Loki Patera", "Loki Patera"]
        l_ids = set(ids[bands == "jiram_l"])
        assert len(l_ids) == 1 and next(iter(l_ids)).startswith("TH-")


def test_runs_into_one_folder_add_to_its_catalogue(tmp_path):
    """A second run on other frames keeps the first run's detections and ids; running a frame
    again replaces its rows (nothing twice). Both runs at once lose nothing either."""
    labels = [
        simulate.jiram_image(tmp_path / "in", f"JIR_IMG_RDR_C{k}_V01", seed=k)[0] for k in range(3)
    ]
    out = tmp_path / "out"
    assert main(["detect", labels[0], "-o", str(out), "-q"]) == 0
    first = read_catalogue_csv(out / "hotspots.csv")
    assert main(["detect", *labels[1:], "-o", str(out), "-q"]) == 0
    both = read_catalogue_csv(out / "hotspots.csv")
    sources = [os.path.basename(str(s)) for s in both["source"].values]
    assert {s.split(".")[0] for s in sources} == {f"JIR_IMG_RDR_C{k}_V01" for k in range(3)}
    # the first run's rows are kept as they were, ids included
    kept = both.isel(detection=[i for i, s in enumerate(both["source"].values)
                                if s == first["source"].values[0]])  # fmt: skip
    assert list(kept["hotspot_id"].values) == list(first["hotspot_id"].values)
    # a frame fitted again (--overwrite) replaces its own rows
    assert main(["detect", labels[0], "-o", str(out), "-q", "--overwrite"]) == 0
    again = read_catalogue_csv(out / "hotspots.csv")
    assert again.sizes["detection"] == both.sizes["detection"]
    # a catalogue written before a column existed: the new rows keep it, the old ones empty
    path = out / "hotspots.csv"
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    keep = [i for i, name in enumerate(header) if name != "frame_latitude"]
    path.write_text("\n".join(",".join(line.split(",")[i] for i in keep) for line in lines)
                    + "\n")  # fmt: skip
    assert main(["detect", labels[0], "-o", str(out), "-q", "--overwrite"]) == 0
    merged = read_catalogue_csv(path)
    mine = np.array([str(s).startswith("JIR_IMG_RDR_C0_V01") for s in merged["source"].values])
    assert np.all(np.isfinite(merged["frame_latitude"].values[mine]))
    assert np.all(np.isnan(merged["frame_latitude"].values[~mine]))
    # two runs at once into a fresh folder: every frame's detections are there
    shared = tmp_path / "shared"
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "thermal.cli", "detect", label, "-o", str(shared), "-q"]
        )
        for label in labels[:2]
    ]
    assert [run.wait(timeout=120) for run in runs] == [0, 0]
    together = read_catalogue_csv(shared / "hotspots.csv")
    names = {os.path.basename(str(s)).split(".")[0] for s in together["source"].values}
    assert names == {"JIR_IMG_RDR_C0_V01", "JIR_IMG_RDR_C1_V01"}


def test_workers_find_what_the_serial_run_finds(tmp_path):
    """thermal detect --workers 2 (dask.distributed, one task per input): the same spots."""
    pytest.importorskip("dask.distributed")
    labels = [
        simulate.jiram_image(tmp_path / "in", f"JIR_IMG_RDR_W{k}_V01", seed=k)[0] for k in range(3)
    ]
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    assert main(["detect", *labels, "-o", str(serial), "-q"]) == 0
    assert main(["detect", *labels, "-o", str(parallel), "-q", "--workers", "2"]) == 0
    for label in labels:
        name = os.path.basename(label).replace(".LBL", ".hotspots.nc")
        with xr.open_dataset(serial / name) as a, xr.open_dataset(parallel / name) as b:
            np.testing.assert_array_equal(a["line"].values, b["line"].values)
            np.testing.assert_array_equal(a["radiance_sum"].values, b["radiance_sum"].values)
    assert (parallel / "hotspots.csv").read_text() == (serial / "hotspots.csv").read_text()


def test_info_on_hot_spot_files_and_catalogues(tmp_path, capsys):
    out = tmp_path / "out"
    label = os.path.join(EXAMPLES, "JIR_IMG_RDR_2017033T114006_V99.LBL")
    assert main(["detect", label, "-o", str(out), "-q"]) == 0
    capsys.readouterr()
    assert main(["info", str(out / "JIR_IMG_RDR_2017033T114006_V99.hotspots.nc")]) == 0
    text = capsys.readouterr().out
    assert "2 spots, 0 saturated" in text and "jiram_l 1, jiram_m 1" in text
    assert main(["info", str(out / "hotspots.csv")]) == 0
    assert "2 detections" in capsys.readouterr().out


def test_a_frame_without_io_has_no_spots(tmp_path, capsys):
    """A JIRAM frame of empty sky (both halves noise only): exit 0, an empty hot-spot file
    and a summary that says so, not an error."""
    from thermal.detect import write_jiram_frame

    sky = {"spots": 0, "pairs": 0, "disk": None}
    label, _, _ = write_jiram_frame(tmp_path / "in", l_scene=sky, m_scene=sky, seed=4)
    out = tmp_path / "out"
    assert main(["detect", label, "-o", str(out)]) == 0
    name = os.path.basename(label).replace(".LBL", ".hotspots.nc")
    with xr.open_dataset(out / name) as spots:
        assert spots.sizes["hotspot"] == 0
        assert spots["band"].dtype.kind in "UO"
    assert "1 of 1 inputs searched (0 hot spots)" in capsys.readouterr().out
    assert main(["plot", str(out / name), "-o", str(tmp_path / "sky.png")]) == 0


def test_a_bad_model_for_detect_is_a_usage_error_before_any_read(tmp_path, capsys):
    image = os.path.join(EXAMPLES, "jwst_nirspec_synthetic_s3d.fits")
    out = tmp_path / "out"
    for extra, message in (
        (["--fit", "--model", "4T"], "model must be 'auto', '1T', '2T', '3T' or 'flow'"),
        (["--model", "2T"], "--model is the model of --fit; give --fit too"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(["detect", image, "-o", str(out), *extra])
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err
    assert not out.exists()
