"""How thermal._kernels compiles kernels: borrowed arrays (no reference counting), one
compilation per signature."""

import os
import re
import subprocess
import sys
import textwrap

import numba
import numpy as np

from thermal._kernels import jit


def _reference_counts(dispatcher) -> int:
    """Calls of numba's NRT_incref / NRT_decref in the compiled functions of ``dispatcher``
    (its LLVM IR after optimisation), apart from the wrappers numba adds for calls from
    Python and the runtime's own definitions."""
    calls = 0
    for signature in dispatcher.signatures:
        for body in re.split(r"^define ", dispatcher.inspect_llvm(signature), flags=re.M)[1:]:
            head = body.split("{", 1)[0]
            if "NRT_" in head or "cpython" in head or "cfunc." in head:
                continue
            calls += len(re.findall(r"call [^\n]*@NRT_(?:incref|decref)\(", body))
    return calls


def _kernel_pair(decorate):
    """A callee with a loop and two exits, called with row views, and a caller that swaps two
    arrays: the shapes whose reference counts numba's pruning pass leaves in place."""

    @decorate
    def weighted(a, w, k):
        s = 0.0
        for i in range(a.size):
            s += a[i] * w[i]
            if s > 1e300:
                return s
        return s + k

    @decorate
    def caller(rows, w, spare, out):
        current, other = w, spare
        for k in range(rows.shape[0]):
            out[k] = weighted(rows[k], current, k)
            current, other = other, current

    return caller


def test_borrowed_arrays_count_no_references():
    """``jit`` functions borrow their array arguments (``numba.carray`` views without an
    owner), so numba's pruning pass removes every reference count; with plain ``numba.njit``
    they stay (the check can see them). Reference counting of arrays took 40 % of a fit: if a
    numba release stops removing the counts of borrowed arrays, this fails instead of the fit
    silently running slower."""
    rows, w = np.arange(12.0).reshape(3, 4), np.ones(4)
    expected = rows.sum(axis=1) + np.arange(3)
    for decorate, borrowed in (
        (lambda f: numba.njit(cache=False)(f), False),
        (lambda f: jit(f, cache=False), True),
    ):
        caller = _kernel_pair(decorate)
        out = np.zeros(3)
        caller(rows, w, np.ones(4), out)
        np.testing.assert_array_equal(out, expected)
        if borrowed:
            assert _reference_counts(caller) == 0
        else:
            assert _reference_counts(caller) > 0


def test_borrow_keeps_other_values():
    """``borrow`` replaces C-contiguous arrays, also inside (named) tuples, and passes
    everything else through."""

    @jit(cache=False)
    def total(p, strided, k):
        return p[0].sum() + p[1][0].sum() + strided.sum() + k

    a = np.ones((2, 3))
    assert total((a, (a[0],)), a[:, 0], 2) == 6.0 + 3.0 + 2.0 + 2


def test_kernel_passes_one_signature():
    """A :class:`thermal._kernels.Kernel` passes inputs as read-only float64 views and given
    scalars as floats, so writable or read-only, float32 or int inputs compile nothing new."""
    from thermal._kernels.planck import band_loop

    nodes, weights = np.array([3.5, 3.8]), np.array([0.5, 0.5])
    out = np.empty(3)
    readonly = np.array([300.0, 400.0, 500.0])
    readonly.flags.writeable = False
    for values in (readonly, [300.0, 400.0, 500.0], np.array([300, 400, 500], np.float32)):
        band_loop(nodes, weights, 3.65, False, values, out, size=3)
    (compiled,) = band_loop.stages
    assert len(compiled.signatures) == 1
    assert not any(isinstance(t, numba.types.Literal) for t in compiled.signatures[0])


_COMPILED_KERNELS = textwrap.dedent(
    """
    import numba
    import numpy as np
    from tests.kernels.test_jit import _reference_counts
    from thermal._kernels import fit, linalg, lm

    n_ch, n_grid = 17, 12
    sp = lm.Spectrum(np.ones(n_ch), np.ones(n_ch), np.arange(n_ch), n_ch, np.ones(2), 2, False,
                     np.ones(n_ch), np.ones(n_ch), np.ones(n_ch), 2, n_ch)
    ws = lm.workspace(n_ch)
    v = np.zeros(2)
    run = (sp, ws, v, v, v, np.zeros(3, np.int64), 2, 100, 1.0, v)
    kernels = {name: getattr(lm, name)
               for name in ("lm_run", "_solve_areas", "_gradient", "channel_basis")}
    kernels["line_minima"] = fit.line_minima
    lm.lm_run.compile(tuple(numba.typeof(a) for a in run))
    problem = fit.problem(np.ones(n_ch), np.ones(n_ch), np.arange(n_ch), v, v, v,
                          np.zeros((2, n_grid)), np.ones((2, n_grid, n_ch)), np.ones(n_ch),
                          exchangeable=True, has_bg=False, max_iter=100)
    lines = fit.line_scratch(problem, n_ch)
    fit.line_minima.compile(tuple(numba.typeof(a) for a in (
        sp, lines, 1.0, 1.0, 1.0, np.ones(n_grid), 0, 1.0, 1.0)))
    m, e = np.zeros((4, 4)), np.zeros(4)
    linalg.nnls_small.compile(tuple(numba.typeof(a) for a in (
        m, e, 1.0, 2, e, m, e, e, np.zeros(4, np.int64))))
    kernels.update(cholesky_solve=linalg.cholesky_solve, row_gram=linalg.row_gram)
    for name, d in kernels.items():
        assert len(d.signatures) == 1, (name, d.signatures)
        literal = [t for t in d.signatures[0] if "Literal" in str(t)]
        assert not literal, (name, literal)
        counts = _reference_counts(d)
        assert counts == 0, (name, counts)
    print("ok")
    """
)


def test_fit_kernels_count_no_references():
    """The compiled functions of the fit that run per model evaluation (the
    Levenberg-Marquardt run with the model, areas and gradient, the line scans, the small
    NNLS and their linear algebra) count no references and compile once each (a literal
    argument, or a counter started at one, would compile a callee a second time). Compiled
    afresh in a subprocess: numba shows no LLVM IR of cached code."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # the repository first on the child's path (it imports tests.kernels.test_jit)
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "THERMAL_NUMBA_CACHE": "0", "THERMAL_PARALLEL": "0", "PYTHONPATH": path}
    done = subprocess.run(
        [sys.executable, "-c", _COMPILED_KERNELS],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
