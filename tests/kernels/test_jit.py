"""The compile options of thermal._kernels.jit."""

import re

import numpy as np

from thermal._kernels import jit


def _reference_counting_calls(dispatcher):
    """Calls of numba's NRT_incref / NRT_decref in the compiled functions of ``dispatcher``
    (the runtime's own definitions of the two excluded)."""
    llvm = dispatcher.inspect_llvm(dispatcher.signatures[0])
    calls = 0
    for body in re.split(r"^define ", llvm, flags=re.M)[1:]:
        name = body.split("(", 1)[0]
        if "NRT_incref" in name or "NRT_decref" in name:
            continue
        calls += len(re.findall(r"call [^\n]*@NRT_(?:incref|decref)\(", body))
    return calls


def _kernel_pair(allocates):
    """A caller taking views and passing arrays to a callee with a loop and two exits, the
    shape whose reference counts numba's pruning pass cannot remove."""

    @jit(allocates=allocates, cache=False)
    def weighted(a, w, k):
        s = 0.0
        for i in range(a.size):
            s += a[i] * w[i]
            if s > 1e300:
                return s
        return s + k

    @jit(allocates=allocates, cache=False)
    def caller(rows, w, out):
        for k in range(rows.shape[0]):
            out[k] = weighted(rows[k], w, k)

    return caller


def test_borrowing_kernels_count_no_references():
    """``allocates=False`` (numba's ``_nrt=False``) removes the atomic reference counting of
    array arguments, which took 55 % of a fit: if a numba release drops the option, this
    fails instead of the fit silently running at half speed."""
    rows, w = np.arange(12.0).reshape(3, 4), np.ones(4)
    for allocates in (True, False):
        caller = _kernel_pair(allocates)
        out = np.zeros(3)
        caller(rows, w, out)
        np.testing.assert_array_equal(out, rows.sum(axis=1) + np.arange(3))
        calls = _reference_counting_calls(caller)
        if allocates:
            assert calls > 0  # the check can see them
        else:
            assert calls == 0
