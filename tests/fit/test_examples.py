"""The bundled examples fit to exactly the results they had before the engine's redesign.

``tests/data/example_fits_b2734b1.npz`` holds every numeric result variable (model spectra
aside; for the JIRAM image, whose pixels each see one band, the status only) of commit b2734b1,
the last one before the one-engine redesign, for 1T and 2T fits and 2T fits with profile
intervals. The arithmetic did not change, so the results must be the same bit for bit.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from thermal.fit import fit_spectra
from thermal.io import open_observation

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REFERENCE = os.path.join(ROOT, "tests", "data", "example_fits_b2734b1.npz")
EXAMPLES = os.path.join(ROOT, "data", "examples")


def _cases():
    with np.load(REFERENCE) as ref:
        keys = sorted({tuple(key.split("|")[:3]) for key in ref.files})
    return keys


@pytest.mark.parametrize(("name", "model", "intervals"), _cases())
def test_results_equal_those_before_the_redesign(name, model, intervals):
    observation = open_observation(os.path.join(EXAMPLES, name))
    result = fit_spectra(observation, model=model, intervals=intervals, store="covariance")
    prefix = f"{name}|{model}|{intervals}|"
    with np.load(REFERENCE) as ref:
        expected = {
            key.removeprefix(prefix): ref[key] for key in ref.files if key.startswith(prefix)
        }
    assert expected
    for variable, values in expected.items():
        got = result[variable].values
        assert got.shape == values.shape, variable
        assert np.array_equal(got, values, equal_nan=True), variable
