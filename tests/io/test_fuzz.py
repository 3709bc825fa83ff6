"""Property-based fuzzing of every reader: byte flips, truncations, insertions, deletions and
label/CSV/FITS-card edits of each bundled example (``tests/io/mutants.py``). Whatever the
mutant, ``open_observation`` returns a Dataset or raises an ``InputError`` whose message is one
line naming the file, within a few seconds; never anything else.

Deterministic (``derandomize=True``, no example database): the same mutants every run, about
35 s in all. ``benchmarks/fuzz.py`` runs 10^4 mutants of each format.
"""

from __future__ import annotations

import datetime
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.io import mutants

TIMEOUT = 5.0  # [s] open_observation's deadline per mutant
BUDGET = 256 * 2**20  # [bytes] max_memory per mutant: declared sizes beyond it are refused
EXAMPLES = {  # (product, file mutated): mutants drawn (about 4 s each test)
    ("csv", 0): 500,
    ("mrt", 0): 300,
    ("netcdf", 0): 800,
    ("jiram-image", 0): 150,
    ("jiram-image", 1): 80,
    ("jiram-spectrometer", 0): 150,
    ("jiram-spectrometer", 1): 80,
    ("fits", 0): 500,
}

_position = st.integers(min_value=0, max_value=2**20)
_byte_operations = [
    st.tuples(st.just("flip"), _position, st.integers(0, 255)),
    st.tuples(st.just("truncate"), _position),
    st.tuples(st.just("insert"), _position, st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), _position, st.integers(0, 63)),
]
_line = st.tuples(
    st.just("line"),
    st.integers(0, 2**16),
    st.sampled_from(("replace", "insert", "delete", "duplicate")),
    st.sampled_from(mutants.TOKENS),
)
_card = st.tuples(st.just("card"), st.integers(0, 2**16), st.sampled_from(mutants.TOKENS))


def operations(kind: str):
    """1-4 operations for a file of ``kind``; text and FITS files get their edits more often."""
    extra = {"text": [_line, _line, _line], "fits": [_card, _card]}.get(kind, [])
    return st.lists(st.one_of(*extra, *_byte_operations), min_size=1, max_size=4)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """One work folder per product (mutants overwrite the file they change)."""
    return tmp_path_factory.mktemp("mutants")


def _check(path, operations_applied):
    outcome, seconds, error = mutants.read(path, timeout=TIMEOUT, max_memory=BUDGET)
    assert outcome != "crash", f"{operations_applied}: {type(error).__name__}: {error}"
    if outcome == "input_error":
        text = str(error)
        assert text.startswith(f"{error.path}: ") and text.isprintable(), text
        assert os.path.basename(str(path)) in error.path or "JIR_" in error.path, text
    assert seconds < TIMEOUT + 3.0, f"{operations_applied}: {seconds:.1f} s"


def _fuzz(name: str, target: int, count: int):
    item = mutants.product(name)
    kind = item.kinds[target]

    @settings(
        max_examples=count,
        deadline=datetime.timedelta(seconds=TIMEOUT + 5.0),
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def run(workdir, data):
        applied = data.draw(operations(kind), label="operations")
        folder = workdir / name
        folder.mkdir(exist_ok=True)
        _check(mutants.materialise(item, folder, target, applied), applied)

    return run


@pytest.mark.parametrize(("name", "target"), list(EXAMPLES), ids=lambda v: str(v))
def test_mutants_read_or_raise_input_error(workdir, name, target):
    _fuzz(name, target, EXAMPLES[name, target])(workdir)


def test_pristine_products_read():
    # the baseline of every product: its unmutated files read
    import tempfile

    for item in mutants.PRODUCTS:
        with tempfile.TemporaryDirectory() as folder:
            outcome, _, error = mutants.read(mutants.materialise(item, folder, -1, []))
            assert outcome == "ok", (item.name, error)
