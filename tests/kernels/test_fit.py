"""The fit kernel (thermal._kernels.fit) gives the bits it gave as one compiled function.

``tests/data/fit_cases_e34e8a2.npz`` (``tests/data/make_fit_cases.py``) holds every numeric
result of commit e34e8a2, before the kernel was split into stages, for the cases the kernel
treats apart: 1T, 2T and 3T; 2T with a background, with a fixed temperature and with unequal
bounds (the last two not exchangeable, so without the per-row grid Gram of the polish); and
spectra it rejects. The arithmetic did not change, so every value must be the same on the CPU
the file was made on (its name is stored; elsewhere to 1e-9).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.data.make_fit_cases import cpu, models, observation
from thermal.fit import fit_spectra
from thermal.status import Status

REFERENCE = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "data", "fit_cases_e34e8a2.npz"
)


@pytest.mark.parametrize("name", list(models()))
def test_results_equal_those_of_the_single_function_kernel(name):
    result = fit_spectra(observation(), model=models()[name], store="covariance")
    with np.load(REFERENCE) as ref:
        expected = {k.split("|")[1]: ref[k] for k in ref.files if k.startswith(f"{name}|")}
        same_cpu = str(ref["cpu"]) == cpu()
    assert "temperature" in expected and "covariance" in expected
    assert set(expected) == {v for v, d in result.data_vars.items() if d.dtype.kind in "fiu"}
    for variable, values in expected.items():
        got = result[variable].values
        if variable == "status":  # the kernel's codes; poor_fit is the guard's, after it
            rejected = got == Status.POOR_FIT
            assert np.all(values[rejected] == Status.CONVERGED)
            got = np.where(rejected, values, got)
        if same_cpu or values.dtype.kind in "iu":
            assert np.array_equal(got, values, equal_nan=True), variable
        else:  # another vector width sums in another order: the last bits may differ
            np.testing.assert_allclose(got, values, rtol=1e-9, atol=0, err_msg=variable)
