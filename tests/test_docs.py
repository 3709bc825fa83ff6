"""The worked examples of the documentation (``docs/examples/*.py``) run and print what the
docs say they print.

Each script runs in a fresh interpreter from a temporary working directory, as a reader would
run it; the numbers it prints are checked against independent values (published or computed
here), so a change in the API or the physics that breaks an example fails here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "docs", "examples")
SIGMA = 5.670374419e-8  # Stefan-Boltzmann constant [W m-2 K-4], CODATA 2018


def run_example(name: str, cwd) -> str:
    path = os.path.abspath(os.path.join(EXAMPLES, name))
    completed = subprocess.run(
        [sys.executable, path],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,  # ~3 s each with numba's on-disk cache warm, ~1 min when it compiles
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def number(output: str, label: str) -> float:
    """The first number after ``label =`` in the output."""
    match = re.search(re.escape(label) + r"\s*=\s*([-+0-9.eE]+)", output)
    assert match, f"{label!r} not printed:\n{output}"
    return float(match.group(1))


def test_every_example_is_tested():
    scripts = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".py"))
    assert scripts == ["fit_keck.py", "flow_model.py", "planck_tour.py"]


def test_planck_tour(tmp_path):
    out = run_example("planck_tour.py", tmp_path)
    # B_lambda(3.776 um, 1000 K) = 1.19104e8 / (3.776^5 (exp(14387.77 / 3776) - 1)) = 3513.1
    assert number(out, "B(3.776 um, 1000 K)") == pytest.approx(3513.1, abs=0.05)
    assert number(out, "brightness temperature") == pytest.approx(1000.0, abs=1e-6)
    # a 700 nm-wide top-hat on the Wien side of a 200 K spectrum: band mean / B(centre) = 1.2405
    assert number(out, "Lp band mean / B(centre), 200 K") == pytest.approx(1.2405, abs=1e-4)
    assert number(out, "sigma T^4 A, 1040 K, 120 km2") == pytest.approx(
        SIGMA * 1040.0**4 * 120e6 / 1e12, abs=0.005
    )
    # 1 Jy = 1e-26 W m-2 Hz-1; F_lambda = c F_nu / lambda^2; I = F_lambda Delta^2
    au = 1.495978707e11
    expected = 1e-26 * 299792458.0 / (2.27e-6) ** 2 * 1e-6 * (4.2 * au) ** 2 / 1e9
    assert number(out, "1 Jy at 2.27 um from 4.2 au") == pytest.approx(expected, abs=0.05)
    assert number(out, "223.5 degrees west") == pytest.approx(136.5)
    assert number(out, "peak wavelength at 1000 K") == pytest.approx(2.8978, abs=0.001)  # Wien


def test_fit_keck(tmp_path):
    out = run_example("fit_keck.py", tmp_path)
    row = re.compile(r"(.+?)\s+(\d+) \+-\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(.+)$")
    rows = {}
    for line in out.splitlines()[1:]:
        match = row.match(line)
        assert match, line
        name, t, _, area, power, _, status = match.groups()
        rows[name] = float(t), float(area), float(power), status
    # the synthetic row is the published 1T fit (1040 K, 120 km2) put through the NIRC2 bands
    t, area, power, status = rows["Rarog Patera (1T model)"]
    assert status == "converged"
    assert t == pytest.approx(1040.0, abs=2.0)
    assert area == pytest.approx(120.0, rel=0.01)
    assert power == pytest.approx(SIGMA * 1040.0**4 * 120e6 / 1e12, abs=0.02)
    # the round published values: de Pater et al. (2014) give ~1040 K and ~8 TW (Rarog),
    # ~720 K, > 300 km2 and ~5-6 TW (Heno) from their own fits
    t, area, power, status = rows["Rarog Patera"]
    assert status == "converged" and abs(t - 1040.0) < 50.0 and abs(power - 8.0) < 1.0
    t, area, power, status = rows["Heno Patera"]
    assert status == "converged" and abs(t - 720.0) < 50.0 and area > 300.0
    assert 4.0 < power < 6.5


def test_flow_model(tmp_path):
    out = run_example("flow_model.py", tmp_path)
    # basalt on Io one hour after emplacement (Stefan crust 742 K; conduction solver ~762 K)
    assert number(out, "T_s(1 h), Stefan crust") == pytest.approx(742.0, abs=1.0)
    assert number(out, "T_s(1 h), conduction solver") == pytest.approx(762.0, abs=5.0)
    assert number(out, "crust after 1 day (Stefan)") == pytest.approx(0.286, abs=0.005)
    # a one-day flow of basalt: ~6.6e8 W per m2 s-1 and a 2/5 um ratio of ~0.18
    assert number(out, "power per unit areal rate") == pytest.approx(6.60e8, rel=0.01)
    assert number(out, "2/5 um ratio after 1 day") == pytest.approx(0.182, abs=0.003)
    assert number(out, "flow area") == pytest.approx(86.4)
    # the fit recovers the area R_A t_max = 86.4 km2 from 17 channels with 2 % noise
    assert number(out, "fit status") == 0
    assert number(out, "fitted area") == pytest.approx(86.4, rel=0.05)
    assert number(out, "fitted power") == pytest.approx(6.585e11, rel=0.05)


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# notes the package was written from, which are not part of it: nothing may cite them
PRIVATE = [n + ".md" for n in ("science", "engineering", "spec", "architecture")] + [
    "../" + "shared"
]
# a numbered section of a formats note: the repository's docs/formats.md has named sections
SECTION = re.compile(r"formats\.md (?:§ ?)?\d")
PATH = re.compile(
    r"\b((?:docs|tests|thermal|data|benchmarks)/[\w./-]*\w\.(?:md|py|csv|nc|json|txt))"
)


def _repository_text_files():
    skip = {".git", ".venv", "__pycache__", "_build", "build", "dist"}
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if d not in skip and not d.endswith(".egg-info")]
        for name in files:
            if name.endswith((".py", ".md", ".toml", ".cff", ".txt", ".cfg", ".csv")):
                yield os.path.join(folder, name)


def test_nothing_cites_a_file_that_is_not_in_the_repository():
    private, missing = [], []
    for path in _repository_text_files():
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        where = os.path.relpath(path, ROOT)
        private += [f"{where}: {name}" for name in PRIVATE if name in text]
        private += [f"{where}: {m.group()}" for m in SECTION.finditer(text)]
        missing += [
            f"{where}: {cited}"
            for cited in PATH.findall(text)
            # from the repository's root, or from the package's (its data/)
            if "*" not in cited
            and not any(os.path.exists(os.path.join(ROOT, top, cited)) for top in ("", "thermal"))
        ]
    assert not private, private
    assert not missing, missing
