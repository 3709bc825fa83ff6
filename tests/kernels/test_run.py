"""How batches run (threads over chunks of rows) and where compiled kernels are cached."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import thermal._kernels as kernels
from tests.fit.reference import two_temperature_population
from thermal.fit.engine import Channels, fit_arrays
from thermal.status import Status

ROOT = Path(__file__).resolve().parents[2]


def test_threads_only_on_the_main_thread(monkeypatch):
    """Large batches run as chunks on threads, but never inside another thread (a dask
    worker) and not with THERMAL_PARALLEL=0."""
    if kernels.threads() < 2:
        pytest.skip("one CPU")
    assert len(kernels._chunks(10_000, 10**9)) > 1
    assert kernels._chunks(10_000, 1000) == [(0, 10_000)]
    seen = []
    worker = threading.Thread(target=lambda: seen.append(kernels._chunks(10_000, 10**9)))
    worker.start()
    worker.join()
    assert seen == [[(0, 10_000)]]
    monkeypatch.setenv("THERMAL_PARALLEL", "0")
    assert kernels._chunks(10_000, 10**9) == [(0, 10_000)]


def test_threaded_batch_equals_serial(monkeypatch):
    """Every chunk has its own scratch and every fit writes what it reads: results do not
    depend on the chunking."""
    lam, y, sigma = two_temperature_population(3000, 17, 4)[:3]
    channels = Channels.from_wavelength(lam)
    threaded = fit_arrays(y, sigma, channels, "2T")
    monkeypatch.setenv("THERMAL_PARALLEL", "0")
    serial = fit_arrays(y, sigma, channels, "2T")
    for a, b in zip(threaded, serial, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("model", ["1T", "2T"])
def test_results_do_not_depend_on_the_blocks_of_rows(monkeypatch, model):
    """The fit's stages hand each other per-row state through the scratch space, block by
    block: blocks of 7 rows (a last one of 6) give the same bits as one block, also with rows
    that the first stage settles (no data, too few channels, an infinite value)."""
    from thermal._kernels import fit as kfit

    lam, y, sigma = two_temperature_population(1000, 17, 5)[:3]
    y[3] = np.nan
    y[10, 1:] = np.nan
    y[11, 0] = np.inf
    channels = Channels.from_wavelength(lam)
    monkeypatch.setenv("THERMAL_PARALLEL", "0")
    whole = fit_arrays(y, sigma, channels, model)
    monkeypatch.setattr(kfit.fit_batch, "_block", 7)
    blocks = fit_arrays(y, sigma, channels, model)
    assert whole[6][[3, 10, 11]].tolist() == [
        Status.NO_DATA, Status.NOT_ENOUGH_CHANNELS, Status.INVALID_DATA,
    ]  # fmt: skip
    for a, b in zip(whole, blocks, strict=True):
        np.testing.assert_array_equal(a, b)


def _add_one(x, out, s):
    s[0] = x[0] + 1.0


def _times_ten(x, out, s):
    out[0] = 10.0 * s[0]


def test_stages_share_the_scratch_space():
    """Stages of a kernel hand each other what they found through its scratch space: one for
    every stage, also without rows."""
    staged = kernels.Kernel(
        _add_one, inputs=("x",), scratch=lambda x, out: np.zeros(1), stages=(_add_one, _times_ten)
    )
    out = np.zeros(1)
    staged(np.array([3.2]), out)
    assert out[0] == 42.0


def _cache_dir(env) -> str:
    code = "import thermal._kernels as k; print(k.cache_dir())"
    full = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    done = subprocess.run(
        [sys.executable, "-c", code], env={**full, **env}, capture_output=True, text=True,
        cwd=ROOT, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def test_cache_in_the_user_cache_folder(tmp_path):
    """The cache goes to $NUMBA_CACHE_DIR/thermal when that is set, else to
    $XDG_CACHE_HOME/thermal, in a folder named by a digest of the kernel sources; never into
    the package."""
    numba_dir = _cache_dir({"NUMBA_CACHE_DIR": str(tmp_path / "n")})
    assert Path(numba_dir).parent == tmp_path / "n" / "thermal"
    assert Path(numba_dir).name.startswith("numba-")
    xdg_dir = _cache_dir({"XDG_CACHE_HOME": str(tmp_path / "x")})
    assert Path(xdg_dir).parent == tmp_path / "x" / "thermal"
    assert Path(xdg_dir).name == Path(numba_dir).name
    assert _cache_dir({"THERMAL_NUMBA_CACHE": "0"}) == "None"


def test_old_cache_folders_are_pruned(tmp_path):
    """Folders of other kernel versions unused for 30 days go; recent ones, the current one,
    other files and symbolic links stay."""
    from thermal._kernels import CACHE_KEEP_DAYS, prune_cache

    base = tmp_path / "thermal"
    old, recent, current = (base / f"numba-{name}" for name in ("old", "recent", "current"))
    for folder in (old, recent, current):
        (folder / "sub").mkdir(parents=True)
        (folder / "sub" / "f.nbi").write_bytes(b"x")
    other = base / "notes"
    other.mkdir()
    leftover = base / ".trash-numba-gone-1-2"  # from a prune that was interrupted
    (leftover / "sub").mkdir(parents=True)
    link = base / "numba-link"
    link.symlink_to(old)
    long_ago = time.time() - (CACHE_KEEP_DAYS + 1) * 86400.0
    for path in (old, current, other, link, leftover):
        os.utime(path, (long_ago, long_ago), follow_symlinks=False)
    assert prune_cache(base, current) == [old]
    assert not old.exists() and recent.is_dir() and other.is_dir() and link.is_symlink()
    assert not leftover.exists() and not any(p.name.startswith(".trash-") for p in base.iterdir())
    assert current.stat().st_mtime > long_ago + 86400.0  # marked used


def test_compiled_kernels_land_in_the_cache_folder(tmp_path):
    """A kernel compiled in a fresh process is written to the cache folder and nothing is
    written into (or deleted from) the installed package."""
    package = ROOT / "thermal" / "_kernels" / "__pycache__"
    before = sorted(package.glob("*.nb*")) if package.is_dir() else []
    code = (
        "import numpy as np; import thermal._kernels as k; from thermal import planck; "
        "planck.spectral_radiance(np.array([3.8]), np.array([300.0])); print(k.cache_dir())"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT,
        check=True,
    )  # fmt: skip
    cached = list(Path(done.stdout.strip()).rglob("*.nbi"))
    assert any("elementwise" in p.name for p in cached)
    after = sorted(package.glob("*.nb*")) if package.is_dir() else []
    assert after == before
