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


def test_fit_kernel_functions_borrow_their_arrays():
    """Every compiled function of the fit and profile kernels is inlined or compiled with
    ``allocates=False``, except the few that allocate the scratch (named here on purpose)."""
    from numba.core.registry import CPUDispatcher

    from thermal._kernels import fit, linalg, lm, profile

    allocating = {"grid_columns", "node_constants", "_workspace", "_fit_scratch", "_profile_one"}
    checked = []
    for module in (fit, lm, linalg, profile):
        for name, obj in vars(module).items():
            if not isinstance(obj, CPUDispatcher) or obj.py_func.__module__ != module.__name__:
                continue
            checked.append(name)
            options = obj.targetoptions
            if name in allocating or options.get("inline", "never") == "always":
                continue
            assert options.get("_nrt") is False, f"{module.__name__}.{name} counts references"
    assert {"_lm_run", "_fit_rows", "_fit_one", "_solve_areas", "_profile_at"} <= set(checked)
