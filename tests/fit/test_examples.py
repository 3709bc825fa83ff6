"""The bundled examples fit to exactly the results they had before the engine's redesign.

``tests/data/example_fits_b2734b1.npz`` holds every numeric result variable (model spectra
aside; for the JIRAM image, whose pixels each see one band, the status only) of commit b2734b1,
the last one before the one-engine redesign, for 1T and 2T fits and 2T fits with profile
intervals. The arithmetic did not change, so the results must be the same bit for bit; the
statuses may differ only where a fitted solution is now flagged ``implausible`` or, from a
converged one, ``poor_fit`` (the guards that came after; the numbers behind the flags are
unchanged, and no example is seen near the limb).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from scipy.special import chdtrc

from thermal.fit import fit_spectra
from thermal.io import open_observation
from thermal.plausibility import POOR_FIT_PROBABILITY
from thermal.status import Status

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
        if variable == "status":
            flagged = got == Status.IMPLAUSIBLE
            assert np.all(np.isin(values[flagged], [Status.CONVERGED, Status.AT_BOUND]))
            rejected = got == Status.POOR_FIT
            assert np.all(values[rejected] == Status.CONVERGED)
            # poor_fit is exactly the converged fits beyond the chi-square's 5-sigma tail
            tail = chdtrc(np.maximum(result.dof.values, 1), result.chi2.values)
            beyond = (values == Status.CONVERGED) & (result.dof.values > 0)
            beyond &= tail < POOR_FIT_PROBABILITY
            assert np.array_equal(rejected, beyond & ~flagged)
            got = np.where(flagged | rejected, values, got)
        assert np.array_equal(got, values, equal_nan=True), variable
