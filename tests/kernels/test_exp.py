"""The vectorisable exp used by the kernels, against mpmath."""

import mpmath as mp
import numpy as np

from thermal._kernels import jit
from thermal._kernels.exp import EXP_MAX, EXP_MIN, exp_reduced


@jit
def _apply(x, out):
    for i in range(x.size):
        out[i] = exp_reduced(x[i])


def test_exp_reduced_relative_error_below_4e_16():
    rng = np.random.default_rng(7)
    x = np.concatenate(
        [
            rng.uniform(EXP_MIN, EXP_MAX, 3000),
            rng.uniform(-1, 1, 1000),
            [EXP_MIN, EXP_MAX, 0.0, -0.5 * np.log(2), 0.5 * np.log(2)],
        ]
    )
    out = np.empty_like(x)
    _apply(x, out)
    mp.mp.dps = 40
    errors = [abs(float(mp.mpf(o) / mp.exp(mp.mpf(v)) - 1)) for o, v in zip(out, x, strict=True)]
    assert max(errors) < 4e-16
    assert out[-3] == 1.0
