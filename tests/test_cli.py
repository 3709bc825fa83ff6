"""The ``thermal`` command line: fit, resume, failures, dask workers, info, plot, simulate."""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr

from thermal import batch, simulate
from thermal.cli import main
from thermal.io.results import TEMPORARY_PREFIX

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "data", "examples")
needs_fit = pytest.mark.skipif(
    importlib.util.find_spec("thermal.fit") is None, reason="thermal.fit is not available"
)


def run(*args, cwd=None, **kwargs) -> subprocess.CompletedProcess:
    """Run ``thermal ARGS`` in a fresh interpreter (as the console script does)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-m", "thermal.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


def assert_same_results(a, b) -> None:
    """The same results in two files written by different processes: the same variables and
    statuses, the same optimum (chi2 to 1e-6), parameters to 1e-4; provenance may differ.

    Not bit for bit: numba compiles (or loads from its cache) the kernels per process, and a
    kernel compiled in another order can differ in the last bits, which on a few spectra in
    ten thousand steers the iterations to a neighbouring point of the same minimum."""
    with xr.open_dataset(a) as x, xr.open_dataset(b) as y:
        assert set(x.variables) == set(y.variables)
        np.testing.assert_array_equal(x.status.values, y.status.values)
        np.testing.assert_allclose(x.chi2.values, y.chi2.values, rtol=1e-6, atol=1e-9)
        for name in ("temperature", "area", "power", "area_fraction"):
            if name in x:
                np.testing.assert_allclose(x[name].values, y[name].values, rtol=1e-4)


def small_files(folder, count: int, n: int = 200, seed: int = 0) -> list[str]:
    """``count`` synthetic band-photometry files of ``n`` spectra each."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        t = np.column_stack([rng.uniform(900, 1400, n), rng.uniform(350, 550, n)])
        a = np.column_stack([10 ** rng.uniform(5, 6.5, n), 10 ** rng.uniform(7, 8, n)])
        ds = simulate.observation(
            t, a, wavelength=np.linspace(1.5, 5.0, 12), noise=0.02, seed=seed + i
        )
        path = os.path.join(folder, f"obs{i:02d}.nc")
        ds.to_netcdf(path)
        paths.append(path)
    return paths


def test_bands_still_works(capsys):
    assert main(["bands"]) == 0
    assert "nirc2_lp" in capsys.readouterr().out


@needs_fit
def test_readme_command_on_example_data(tmp_path):
    """README command 1: every example file is fitted and a summary printed; the JIRAM image
    (one band per pixel) gives its hot spots instead of 110,592 one-channel fits."""
    out = tmp_path / "out"
    inputs = sorted(glob.glob(os.path.join(EXAMPLES, "*")))
    proc = run("fit", *inputs, "-o", out)
    assert proc.returncode == 0, proc.stderr
    written = sorted(os.listdir(out))
    assert written == [
        "JIR_IMG_RDR_2017033T114006_V99.hotspots.nc",
        "JIR_SPE_RDR_2017033T114007_V99.fit.nc",
        "jwst_nirspec_synthetic_s3d.fit.nc",
        "keck_2013-08.fit.nc",
        "nims_like_spectra.fit.nc",
    ]
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.startswith("input"))
    for column in ("spectra", "fitted", "not_detected", "implausible", "limb", "failed",
                   "hottest_T_K", "total_power"):  # fmt: skip
        assert column in header
    assert "5 of 5 inputs read" in proc.stdout
    nims = next(line for line in lines if "nims_like_spectra" in line)
    assert nims.split()[1] == "12"
    image = next(line for line in lines if "JIR_IMG" in line)
    assert "2 hot spots" in image and image.split()[1] == "0"
    with xr.open_dataset(out / written[0]) as spots:
        assert spots.sizes["hotspot"] == 2
        assert sorted(spots["band"].values) == ["jiram_l", "jiram_m"]
        # the detection made by `thermal fit` says so, and with the settings it used
        assert " fit " in spots.attrs["history"]
        assert spots.attrs["thermal_detect_settings"].startswith("nsigma=5.0;")
        assert spots.attrs["processing_level"] == "derived (hot-spot detection and photometry)"
        assert spots.attrs["time_coverage_start"].endswith("Z")
    # a result keeps what the input says of its instrument, not how it describes its own file
    with xr.open_dataset(os.path.join(EXAMPLES, "nims_like_spectra.nc")) as observation:
        with xr.open_dataset(out / "nims_like_spectra.fit.nc") as fit:
            for name in ("summary", "comment"):
                if name in observation.attrs:
                    assert fit.attrs.get(name) != observation.attrs[name], name

    from compliance_checker.runner import CheckSuite, ComplianceChecker

    CheckSuite.load_all_available_checkers()
    for name in written:
        report = tmp_path / f"{name}.txt"
        ComplianceChecker.run_checker(
            str(out / name), ["cf:1.11"], 0, "normal", output_filename=str(report)
        )
        text = report.read_text()
        assert "All tests passed!" in text or "Errors" not in text, text

    # run again: everything is resumed, nothing refitted
    again = run("fit", *inputs, "-o", out)
    assert again.returncode == 0
    assert again.stdout.count("resumed") == 5

    # info and plot on the results
    info = run("info", out / "nims_like_spectra.fit.nc")
    assert info.returncode == 0 and "spectra 12" in info.stdout
    figure = tmp_path / "keck.png"
    plot = run("plot", out / "keck_2013-08.fit.nc", "-o", figure)
    assert plot.returncode == 0, plot.stderr
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a name without an extension: the PNG matplotlib writes, and the name printed is its own
    plot = run("plot", out / "keck_2013-08.fit.nc", "-o", tmp_path / "bare")
    assert plot.stdout.strip() == str(tmp_path / "bare.png")
    assert (tmp_path / "bare.png").is_file()


def make_bad_inputs(folder) -> dict[str, str]:
    """The bad-input catalogue: file name -> a phrase its error message must contain."""
    obs = simulate.observation([1100.0, 450.0], [1e6, 5e7], wavelength=np.linspace(1, 5, 20))
    obs.to_netcdf(os.path.join(folder, "good.nc"))
    data = open(os.path.join(folder, "good.nc"), "rb").read()
    open(os.path.join(folder, "truncated.nc"), "wb").write(data[: len(data) // 2])
    open(os.path.join(folder, "empty.nc"), "wb").close()
    os.mkdir(os.path.join(folder, "a_directory.nc"))
    _, image = simulate.jiram_image(folder, "missing_data")
    os.remove(image)
    _, image = simulate.jiram_image(folder, "wrong_size")
    with open(image, "r+b") as handle:
        handle.truncate(1000)
    with open(os.path.join(folder, "unknown_band.csv"), "w") as handle:
        handle.write("hotspot,nirc2_kc,nirc2_kc_uncertainty,nirc2_qq,nirc2_qq_uncertainty\n")
        handle.write("x,1,0.1,2,0.2\n")
    nm = obs.assign_coords(wavelength=obs.wavelength.values * 1000.0)
    nm.to_netcdf(os.path.join(folder, "nm_no_units.nc"))
    w = obs.wavelength.values.copy()
    w[5] = w[4]
    units = obs.wavelength.attrs
    obs.assign_coords(wavelength=("wavelength", w, units)).to_netcdf(
        os.path.join(folder, "duplicate.nc")
    )
    w = obs.wavelength.values.copy()
    w[[5, 6]] = w[[6, 5]]
    obs.assign_coords(wavelength=("wavelength", w, units)).to_netcdf(
        os.path.join(folder, "unsorted.nc")
    )
    nan = obs.copy(deep=True)
    nan["intensity"][:] = np.nan
    nan.to_netcdf(os.path.join(folder, "all_nan.nc"))
    return {
        "truncated.nc": "not a readable netCDF",
        "empty.nc": "empty file",
        "a_directory.nc": "is a directory",
        "missing_data.LBL": "is missing",
        "wrong_size.LBL": "the label implies",
        "unknown_band.csv": "unknown band name 'nirc2_qq'",
        "nm_no_units.nc": "no units attribute",
        "duplicate.nc": "duplicate wavelength",
        "unsorted.nc": "not increasing",
        "all_nan.nc": "every value is NaN or infinite",
    }


@needs_fit
def test_bad_input_catalogue(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    expected = make_bad_inputs(folder)
    inputs = [str(folder / "good.nc")] + [str(folder / name) for name in expected]
    out = tmp_path / "out"
    code = main(["fit", *inputs, "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err
    errors = [line for line in captured.err.splitlines() if line.strip()]
    assert len(errors) == len(expected), captured.err
    for name, phrase in expected.items():
        (line,) = [e for e in errors if e.startswith(str(folder / name) + ":")]
        assert phrase in line, line
    assert sorted(os.listdir(out)) == ["good.fit.nc"]  # no partial outputs, no temporaries
    assert f"1 of {len(inputs)} inputs read" in captured.out

    # --debug adds the tracebacks
    code = main(["fit", str(folder / "truncated.nc"), "-o", str(out), "--debug"])
    assert code == 1 and "Traceback" in capsys.readouterr().err


@needs_fit
def test_a_bad_uncertainty_flags_only_its_spectrum(tmp_path):
    from thermal.status import Status

    obs = simulate.observation([1100.0, 450.0], [1e6, 5e7], wavelength=np.linspace(1, 5, 20), n=4)
    obs["intensity_uncertainty"][1, 3] = 0.0
    obs["intensity_uncertainty"][2, 7] = -1.0
    obs.to_netcdf(tmp_path / "sigma.nc")
    assert main(["fit", str(tmp_path / "sigma.nc"), "-o", str(tmp_path / "r.nc"), "-q"]) == 0
    with xr.open_dataset(tmp_path / "r.nc") as res:
        status = [Status(int(s)) for s in res.status]
    assert status[1] == status[2] == Status.INVALID_UNCERTAINTY
    assert status[0] == status[3] == Status.CONVERGED


@needs_fit
def test_unwritable_output_and_output_equal_to_input(tmp_path, capsys):
    good = small_files(tmp_path, 1, n=5)[0]
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert main(["fit", good, "-o", str(blocker / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not writable" in err
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert main(["fit", good, "-o", str(locked)]) == 1
        assert "not writable" in capsys.readouterr().err
    before = open(good, "rb").read()
    assert main(["fit", good, "-o", good]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"{good}: output path is the input file; choose another output"
    assert open(good, "rb").read() == before


@pytest.mark.parametrize(
    "args",
    [
        ["fit"],
        ["fit", "a.nc", "b.nc", "-o", "one.nc"],
        ["fit", "a.nc", "--workers", "0"],
        ["fit", "a.nc", "--model", "4T"],
        ["fit", "a.nc", "--intervals", "profile"],
        ["fit", "a.nc", "--store", "everything"],
        ["fit", "a.nc", "--temperature-range", "2000", "150"],
        ["fit", "a.nc", "--workers", "2", "--scheduler", "tcp://x:1"],
        [
            "simulate",
            "--temperature",
            "900",
            "--area",
            "1",
            "1",
            "--bands",
            "nirc2_kc",
            "-o",
            "x.nc",
        ],
        ["nonsense"],
        ["plot", "r.fit.nc", "-n", "0"],
        ["fit", "a.nc", "--timeout", "inf"],
        ["simulate", "image", "--product", "../../evil", "-o", "sim"],
        [
            "simulate",
            "--temperature",
            "900",
            "--area",
            "1",
            "--bands",
            "nirc2_kc",
            "nirc2_ms",
            "-n",
            "100000000000",
            "-o",
            "x.nc",
        ],
    ],
)
def test_usage_errors_exit_2(args, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("what", [["image"], ["--temperature", "900", "--area", "1", "--bands",
                                            "nirc2_kc"]])  # fmt: skip
def test_a_negative_seed_is_named(what, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["simulate", *what, "--seed=-1", "-o", "x"])
    assert info.value.code == 2
    assert "--seed must be an integer >= 0; got -1" in capsys.readouterr().err
    assert not os.listdir(tmp_path)


@needs_fit
def test_resume_refits_changed_inputs(tmp_path, capsys):
    (path,) = small_files(tmp_path, 1, n=20)
    out = tmp_path / "out"
    assert main(["fit", path, "-o", str(out), "-q"]) == 0
    result = out / "obs00.fit.nc"
    first = result.stat().st_mtime_ns
    assert main(["fit", path, "-o", str(out)]) == 0
    assert "resumed" in capsys.readouterr().out
    assert result.stat().st_mtime_ns == first
    small_files(tmp_path, 1, n=20, seed=5)  # new content, same name
    assert main(["fit", path, "-o", str(out), "-q"]) == 0
    assert result.stat().st_mtime_ns != first
    assert main(["fit", path, "-o", str(out), "-q", "--overwrite"]) == 0
    # a result of an earlier revision of the fits (before a fix that changes results) is made
    # again, not resumed
    import netCDF4

    with netCDF4.Dataset(result, "a") as nc:
        assert int(nc.thermal_results_revision) == batch.RESULTS_REVISION
        nc.thermal_results_revision = batch.RESULTS_REVISION - 1
    capsys.readouterr()
    assert main(["fit", path, "-o", str(out)]) == 0
    assert "resumed" not in capsys.readouterr().out
    with xr.open_dataset(result) as ds:
        assert int(ds.attrs["thermal_results_revision"]) == batch.RESULTS_REVISION


@needs_fit
def test_profile_intervals_are_written_and_asking_for_them_refits(tmp_path):
    (path,) = small_files(tmp_path, 1, n=20)
    out = tmp_path / "out"
    assert main(["fit", path, "-o", str(out), "-q", "--model", "2T"]) == 0
    result = out / "obs00.fit.nc"
    with xr.open_dataset(result) as ds:
        assert "power_upper" not in ds
    first = result.stat().st_mtime_ns
    assert (
        main(["fit", path, "-o", str(out), "-q", "--intervals", "profile", "--model", "2T"]) == 0
    )
    assert result.stat().st_mtime_ns != first  # not resumed: the kind of interval changed
    with xr.open_dataset(result) as ds:
        assert ds.attrs["thermal_intervals"] == "profile"
        assert ds.temperature_lower.attrs["units"] == "K"
        ok = ds.status.values == 0
        t = ds.temperature.values[ok, 0]
        assert np.all(ds.temperature_lower.values[ok, 0] < t)
        assert np.all(t < ds.temperature_upper.values[ok, 0])


@needs_fit
def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path):
    inputs = small_files(tmp_path, 12, n=1500)
    reference = tmp_path / "reference"
    assert main(["fit", *inputs, "-o", str(reference), "-q"]) == 0

    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "thermal.cli", "fit", *inputs, "-o", str(out), "-q"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        done = len(glob.glob(str(out / "*.fit.nc")))
        if done >= 3:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the batch finished before it could be killed"
    finished = len(glob.glob(str(out / "*.fit.nc")))
    assert 3 <= finished < 12

    again = run("fit", *inputs, "-o", out)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("resumed") == finished
    names = sorted(os.listdir(reference))
    assert sorted(os.listdir(out)) == names  # stale temporaries were removed
    assert not [n for n in os.listdir(out) if n.startswith(TEMPORARY_PREFIX)]
    for name in names:
        assert_same_results(reference / name, out / name)


@needs_fit
def test_a_local_cluster_gets_the_kernels_compiled_before_it_starts(tmp_path, monkeypatch):
    """With ``--workers`` and a cache that lacks the fit kernels, this process compiles them
    (its background process helping) before the workers start, so that they load them instead
    of each compiling them at once; not for a resumed run or the flow model; without
    ``--workers`` it only starts the background process; with ``--scheduler`` (workers with
    caches of their own) this process does neither."""
    pytest.importorskip("dask.distributed")
    from thermal import batch
    from thermal._kernels import Kernel, ahead

    events = []
    monkeypatch.setattr(ahead, "is_compiled", lambda kernel: False)
    monkeypatch.setattr(Kernel, "warm", lambda self, stage=None: events.append(("warm", self)))
    monkeypatch.setattr(ahead, "compile_ahead", lambda *k: events.append(("ahead", k)) or [])
    monkeypatch.setattr(batch, "run_dask", lambda *a, **k: events.append("workers") or [])
    inputs = small_files(tmp_path, 1, n=20, seed=3)
    main(["fit", *inputs, "-o", str(tmp_path / "a"), "-q", "--workers", "2"])
    assert [e[0] if isinstance(e, tuple) else e for e in events] == ["ahead", "warm", "workers"]
    assert events[1][1].__name__ == "fit_batch"
    events.clear()
    for _, output in batch.plan_outputs(inputs, str(tmp_path / "a")):
        open(output, "w").close()  # every output there: a resumed run
    main(["fit", *inputs, "-o", str(tmp_path / "a"), "-q", "--workers", "2"])
    assert events == ["workers"]
    events.clear()
    main(["fit", *inputs, "-o", str(tmp_path / "d"), "-q", "--workers", "2", "--model", "FLOW"])
    assert events == ["workers"]  # the flow model has kernels of its own
    events.clear()
    main(["fit", *inputs, "-o", str(tmp_path / "b"), "-q", "--scheduler", "tcp://x:1"])
    assert events == ["workers"]
    events.clear()
    main(
        [
            "fit",
            *inputs,
            "-o",
            str(tmp_path / "c"),
            "-q",
            "--intervals",
            "profile",
            "--model",
            "2T",
        ]
    )
    assert (events[0][0], [k.__name__ for k in events[0][1]]) == (
        "ahead",
        ["profile_batch", "fit_batch"],  # the longest single compile first
    )


@needs_fit
def test_workers_equal_serial(tmp_path):
    pytest.importorskip("dask.distributed")
    inputs = small_files(tmp_path, 4, n=300, seed=11)
    shutil.copy(os.path.join(EXAMPLES, "keck_2013-08.csv"), tmp_path / "keck.csv")
    inputs.append(str(tmp_path / "keck.csv"))
    open(tmp_path / "broken.nc", "wb").write(b"CDF\x01 not really")
    inputs.append(str(tmp_path / "broken.nc"))
    serial = tmp_path / "serial"
    assert main(["fit", *inputs, "-o", str(serial), "-q"]) == 1
    parallel = tmp_path / "parallel"
    proc = run("fit", *inputs, "-o", parallel, "--workers", "2")
    assert proc.returncode == 1, proc.stderr
    assert f"{tmp_path / 'broken.nc'}: not a readable netCDF" in proc.stderr
    assert "5 of 6 inputs read" in proc.stdout
    names = sorted(os.listdir(serial))
    assert sorted(os.listdir(parallel)) == names and len(names) == 5
    for name in names:
        assert_same_results(serial / name, parallel / name)

    # an existing cluster, by address
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        remote = tmp_path / "remote"
        proc = run("fit", *inputs[:2], "-o", remote, "--scheduler", cluster.scheduler_address)
    assert proc.returncode == 0, proc.stderr
    for name in sorted(os.listdir(remote)):
        assert_same_results(serial / name, remote / name)


def _warning_reader(path):
    import warnings

    from thermal.io import open_observation

    warnings.warn(f"{path}: a fact about this file the user must see", UserWarning, stacklevel=1)
    return open_observation(os.path.join(EXAMPLES, "nims_like_spectra.nc"))


def test_plain_messages_for_a_missing_file_and_a_table_without_uncertainties(tmp_path, capsys):
    assert main(["plot", str(tmp_path / "gone.nc")]) == 1
    assert capsys.readouterr().err == f"{tmp_path / 'gone.nc'}: no such file\n"
    table = tmp_path / "night.csv"
    table.write_text("hotspot,nirc2_lp,nirc2_ms\na,1,2\n")
    assert main(["fit", str(table), "-o", str(tmp_path / "out"), "-q"]) == 1
    assert "a '<band>_uncertainty' column for each band" in capsys.readouterr().err


def test_info_reports_a_reader_warning_as_one_log_line(tmp_path, capsys):
    from thermal.io.formats import register_format, unregister_format

    register_format("test-info-warn", _warning_reader, extensions=(".infowarn",), replace=True)
    try:
        path = tmp_path / "input.infowarn"
        path.write_bytes(b"x")
        assert main(["info", str(path)]) == 0
    finally:
        unregister_format("test-info-warn")
    out, err = capsys.readouterr()
    assert "observation (" in out
    assert err == f"{path}: warning: a fact about this file the user must see\n"


def test_simulate_and_info(tmp_path, capsys):
    path = tmp_path / "sim.nc"
    args = ["simulate", "--temperature", "1200", "450", "--area", "0.5e6", "60e6"]
    assert main([*args, "--bands", "nirc2_kc", "nirc2_lp", "nirc2_ms", "-o", str(path)]) == 0
    from thermal.io import open_observation

    obs = open_observation(path)
    assert list(obs.band.values) == ["nirc2_kc", "nirc2_lp", "nirc2_ms"]
    assert main(["info", str(path)]) == 0
    assert "1 spectra" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "missing.nc")]) == 1
    assert "no such file" in capsys.readouterr().err
    path = tmp_path / "spectra.nc"
    assert main([*args, "--wavelength", "1", "5", "50", "-n", "4", "-o", str(path)]) == 0
    assert open_observation(path).intensity.shape == (4, 50)


@needs_fit
def test_keck_example_reproduces_de_pater_2014(tmp_path):
    """1T fits of the published Rarog/Heno values give the paper's T, A and P (Icarus 242:365)."""
    out = tmp_path / "keck.nc"
    assert main(["fit", os.path.join(EXAMPLES, "keck_2013-08.csv"), "-o", str(out), "-q",
                 "--model", "1T"]) == 0  # fmt: skip
    with xr.open_dataset(out) as r:
        t = r.temperature.values[:, 0]
        area_km2 = r.area.values[:, 0] / 1e6
        power_tw = r.power.values / 1e12
        assert list(r.status.values[:2]) == [0, 0]
    assert t[0] == pytest.approx(1040.0, rel=0.03) and area_km2[0] == pytest.approx(120.0, rel=0.1)
    assert power_tw[0] == pytest.approx(8.0, rel=0.05)  # "nearly 8 TW"
    assert t[1] == pytest.approx(720.0, rel=0.03) and area_km2[1] > 300.0  # "more than 300 km2"
    assert 4.5 < power_tw[1] < 6.0  # "~5-6 TW"


@needs_fit
def test_bands_registered_at_run_time_reach_dask_workers(tmp_path):
    """A band a script registers before calling main() is known to the worker processes."""
    pytest.importorskip("dask.distributed")
    from dask.distributed import LocalCluster

    from thermal import bands, planck

    name = "test_narrow_38"
    bands.register(bands.top_hat(name, 3.8, 0.1), overwrite=True)
    try:
        columns = ["nirc2_kc", "nirc2_lp", name, "nirc2_ms"]
        values = [1e6 * float(planck.band_radiance(b, 900.0)) / 1e9 for b in columns]
        header = ",".join(["hotspot", *columns, *(f"{c}_uncertainty" for c in columns)])
        row = ",".join(["a", *(f"{v:.8g}" for v in values), *(f"{0.02 * v:.8g}" for v in values)])
        table = tmp_path / "custom.csv"
        table.write_text(f"{header}\n{row}\n")
        with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
            code = main(
                ["fit", str(table), "-o", str(tmp_path / "out"), "--model", "1T", "-q",
                 "--scheduler", cluster.scheduler_address]
            )  # fmt: skip
        assert code == 0
        with xr.open_dataset(tmp_path / "out" / "custom.fit.nc") as result:
            assert int(result.status[0]) == 0
            assert float(result.temperature[0, 0]) == pytest.approx(900.0, rel=1e-6)
    finally:
        bands._REGISTRY.pop(name, None)


@needs_fit
def test_concurrent_runs_into_one_folder_all_complete(tmp_path):
    """Eight runs over the same inputs into one folder: no run deletes another's temporary
    file, every output is complete, and all runs exit 0."""
    inputs = small_files(tmp_path, 6, n=100, seed=21)
    reference = tmp_path / "reference"
    assert main(["fit", *inputs, "-o", str(reference), "-q"]) == 0
    out = tmp_path / "shared"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "thermal.cli", "fit", *inputs, "-o", str(out), "-q"]
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(8)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    names = sorted(os.listdir(reference))
    assert sorted(os.listdir(out)) == names
    for name in names:
        assert_same_results(reference / name, out / name)


@pytest.fixture(scope="module")
def long_run(tmp_path_factory):
    """Inputs whose fit takes a few seconds, and their uninterrupted results."""
    folder = tmp_path_factory.mktemp("long")
    inputs = small_files(folder, 10, n=4000, seed=31)
    reference = folder / "reference"
    assert run("fit", *inputs, "-o", reference).returncode == 0
    return inputs, reference


@needs_fit
@pytest.mark.parametrize(
    ("sig", "written"),
    [(signal.SIGINT, None), (signal.SIGTERM, 1), (signal.SIGINT, 5)],
)  # fmt: skip
def test_interrupts_end_the_run_quickly_and_the_rerun_resumes(long_run, tmp_path, sig, written):
    """Ctrl-C or SIGTERM while starting, or after 1 or 5 of 10 outputs (reading, fitting or
    writing the next): the run ends within 2 s with 130 or 143, leaves no temporary or partial
    file, and a rerun completes it with the results of an uninterrupted run (SIGKILL after 3
    outputs: test_sigkill_then_resume_equals_uninterrupted_run)."""
    inputs, reference = long_run
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "thermal.cli", "fit", *inputs, "-o", str(out), "-q"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    if written is None:
        time.sleep(0.3)
    else:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(glob.glob(str(out / "*.fit.nc"))) >= written:
                break
            time.sleep(0.005)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    sent = time.monotonic()
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert time.monotonic() - sent <= 2.0
    # 130/143, or killed by the signal itself (-2/-15, which a shell reports as 130/143) when
    # it came while the interpreter was still starting
    assert proc.returncode in (128 + sig, -sig), proc.stderr.read()
    proc.stderr.close()
    if out.exists():
        assert not [n for n in os.listdir(out) if n.startswith(TEMPORARY_PREFIX)]
        for name in os.listdir(out):  # whatever was written is complete
            assert_same_results(reference / name, out / name)
    assert run("fit", *inputs, "-o", out).returncode == 0
    for name in sorted(os.listdir(reference)):
        assert_same_results(reference / name, out / name)


@needs_fit
def test_ctrl_c_on_a_local_cluster_prints_one_line(long_run, tmp_path):
    """Ctrl-C reaches the whole process group, dask's worker processes included: they ignore
    it, this process ends the batch (130) and no worker prints a traceback."""
    pytest.importorskip("dask.distributed")
    inputs, reference = long_run
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "thermal.cli", "fit", *inputs, "-o", str(out), "-q",
         "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if glob.glob(str(out / "*.fit.nc")):
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal sends it
    _, err = proc.communicate(timeout=60)
    err = err.decode()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, err
    for name in os.listdir(out):
        assert not name.startswith(TEMPORARY_PREFIX)
        assert_same_results(reference / name, out / name)


def test_dask_and_tornado_logs_are_quiet_once_stopped(monkeypatch):
    """The race behind a rare failure of the test above: a Ctrl-C inside distributed's sync()
    made tornado log a traceback of the cancellation. Once stopped, those loggers are quiet."""
    import logging

    pytest.importorskip("distributed")
    import distributed  # noqa: F401  (its loggers)

    from thermal import cli

    class Record(logging.Handler):
        def __init__(self):
            super().__init__()
            self.messages = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    record = Record()
    loggers = [logging.getLogger(n) for n in ("tornado.application", "distributed.scheduler")]
    for logger in loggers:
        logger.addHandler(record)
    try:
        monkeypatch.setattr(cli, "_STOPPED", [signal.SIGINT])
        with cli._cluster_quiet_once_stopped():
            loggers[0].error("Exception in callback")
            loggers[1].error("Couldn't gather keys")
        assert record.messages == []
        monkeypatch.setattr(cli, "_STOPPED", [])
        with cli._cluster_quiet_once_stopped():
            loggers[1].error("a real problem")
        assert record.messages == ["a real problem"]
    finally:
        for logger in loggers:
            logger.removeHandler(record)


@needs_fit
def test_a_product_seen_at_the_limb_gets_no_power(tmp_path):
    """EMISSION_ANGLE = 89.9 in the label: every spectrum is flagged limb, none has a power."""
    from thermal.status import Status

    label, _ = simulate.jiram_spectrometer(tmp_path, "JIR_SPE_RDR_LIMB_V99", emission_angle=89.9)
    assert main(["fit", label, "-o", str(tmp_path / "limb.nc"), "-q", "--model", "1T"]) == 0
    with xr.open_dataset(tmp_path / "limb.nc") as res:
        assert (res.status.values == Status.LIMB).all()
        assert np.isnan(res.power.values).all() and np.isnan(res.area.values).all()


def test_reader_options_of_the_command_line(tmp_path, capsys):
    """--columns maps a table's own names, --unit overrides its '# units:' line and --distance
    gives flux densities their distance; the result equals that of the table written in the
    layout's own names and units."""
    from thermal import planck
    from thermal.units import flux_density_to_intensity

    distance = 6.3e11
    bands = ("nirc2_kc", "nirc2_lp", "nirc2_ms")
    # a 1T source written as flux densities [mJy] at `distance`
    intensity = np.array([float(planck.band_radiance(b, 900.0)) * 2e7 for b in bands])
    centre = np.array([0.5 * sum(bands_module_get(b)) for b in bands])
    mjy = intensity / flux_density_to_intensity(1e-3, centre, distance)
    own = tmp_path / "own.csv"
    own.write_text(
        "spot,Kc,Kc_err,Lp,Lp_err,Ms,Ms_err\n"
        + "A," + ",".join(f"{v:.9g},{0.03 * v:.9g}" for v in mjy) + "\n"
    )  # fmt: skip
    out = tmp_path / "out"
    columns = ("spot=hotspot,Kc=nirc2_kc,Kc_err=nirc2_kc_uncertainty,Lp=nirc2_lp,"
               "Lp_err=nirc2_lp_uncertainty,Ms=nirc2_ms,Ms_err=nirc2_ms_uncertainty")  # fmt: skip
    argv = ["fit", str(own), "-o", str(out), "--model", "1T", "--columns", columns,
            "--unit", "mJy", "--distance", str(distance), "-q"]  # fmt: skip
    assert main(argv) == 0
    with xr.open_dataset(out / "own.fit.nc") as result:
        assert int(result.status.values[0]) == 0
        np.testing.assert_allclose(result.temperature.values.ravel()[0], 900.0, rtol=0.01)
        assert result.attrs["thermal_reader_options"].startswith("columns=")
    # resumed only with the same reader options
    assert main(argv) == 0
    assert main([*argv[:-2], str(2 * distance), "-q"]) == 0
    with xr.open_dataset(out / "own.fit.nc") as result:
        assert str(2 * distance) in result.attrs["thermal_reader_options"]


def bands_module_get(name):
    from thermal import bands

    band = bands.get(name)
    return band.wavelength.min(), band.wavelength.max()


@pytest.mark.parametrize(
    "options",
    [["--unit", "furlong"], ["--distance", "-3"], ["--columns", "a=b,c"],
     ["--radiance-unit", "dn"]],
)  # fmt: skip
def test_bad_reader_options_are_usage_errors(tmp_path, options):
    with pytest.raises(SystemExit) as stop:
        main(["fit", os.path.join(EXAMPLES, "keck_2013-08.csv"), "-o", str(tmp_path), *options])
    assert stop.value.code == 2
    assert not list(tmp_path.iterdir())


def test_band_integrated_jiram_images_are_divided_by_the_band_width(tmp_path):
    label, _ = simulate.jiram_image(tmp_path / "in", "JIR_IMG_RDR_UNIT_V01", unit="W/(m^2*sr)")
    sums = {}
    for choice in ("per-um", "band-integrated"):
        out = tmp_path / choice
        assert main(["detect", label, "-o", str(out), "--radiance-unit", choice, "-q"]) == 0
        with xr.open_dataset(out / "JIR_IMG_RDR_UNIT_V01.hotspots.nc") as spots:
            sums[choice] = dict(zip(spots.band.values, spots.radiance_sum.values, strict=True))
            comment = spots.radiance_sum.attrs["comment"]
            assert comment.startswith("input radiance: jiram_l: label unit W/(m^2*sr)")
            assert ("divided by" in comment) == (choice == "band-integrated")
    np.testing.assert_allclose(sums["band-integrated"]["jiram_m"],
                               sums["per-um"]["jiram_m"] / 0.4975, rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(sums["band-integrated"]["jiram_l"],
                               sums["per-um"]["jiram_l"] / 0.290, rtol=1e-6)  # fmt: skip


def _stuck_reader(path):
    """Stuck in C with every signal blocked (as HDF5 on a corrupt file)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals))
    time.sleep(3600)


def test_a_stuck_reader_does_not_stall_the_batch(tmp_path, capsys):
    """--timeout: the read of each input runs in a child process killed at the deadline."""
    from thermal.io.formats import register_format, unregister_format
    from thermal.io.isolated import isolation_available

    if not isolation_available():
        pytest.skip("no fork here")
    register_format("test-stuck", _stuck_reader, extensions=(".stuck",), replace=True)
    try:
        stuck = tmp_path / "input.stuck"
        stuck.write_bytes(b"x" * 64)
        good = os.path.join(EXAMPLES, "nims_like_spectra.nc")
        start = time.monotonic()
        code = main(["fit", str(stuck), good, "-o", str(tmp_path / "out"), "--timeout", "4"])
        elapsed = time.monotonic() - start
    finally:
        unregister_format("test-stuck")
    assert code == 1
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "input.stuck" in line] == [
        f"{stuck}: reading took longer than 4 s (timeout; the reader was killed): a corrupt "
        "or hostile file, or a very large one (then raise the timeout)"
    ]
    assert (tmp_path / "out" / "nims_like_spectra.fit.nc").is_file()
    assert elapsed < 20


@pytest.mark.parametrize("options", [["--timeout", "0"], ["--max-memory", "lots"],
                                     ["--max-memory", "-1G"]])  # fmt: skip
def test_bad_bounds_are_usage_errors(tmp_path, options):
    with pytest.raises(SystemExit) as stop:
        main(["fit", os.path.join(EXAMPLES, "keck_2013-08.csv"), "-o", str(tmp_path), *options])
    assert stop.value.code == 2
