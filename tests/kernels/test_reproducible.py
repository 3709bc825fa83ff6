"""Kernel results must not depend on what else ran in the process before them."""

import ast
from pathlib import Path

import thermal._kernels

KERNELS = Path(thermal._kernels.__file__).parent


def test_no_power_operator_inside_kernels():
    """numba compiles ``x ** n`` once per process and reuses it, with the fastmath flags of the
    first kernel that used it: a fit run after a cooling model then differed from the same fit
    alone in the last bits (found by the CLI's kill-and-resume test). Kernels multiply out
    powers instead (``planck.pow4``)."""
    found = []
    for source in sorted(KERNELS.glob("*.py")):
        tree = ast.parse(source.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            for node in ast.walk(function):
                op = getattr(node, "op", None)
                if isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(op, ast.Pow):
                    found.append(f"{source.name}:{node.lineno}")
    assert not found, f"'**' inside kernel functions: {found}"


def _packed(arrays):
    """Copies of ``arrays`` laid end to end in one buffer, each right after the previous one."""
    import numpy as np

    sizes = [a.nbytes for a in arrays]
    buffer = np.zeros(sum(sizes) + 64, np.uint8)
    start = (-buffer.ctypes.data) % 64
    out = []
    for a, size in zip(arrays, sizes, strict=True):
        view = buffer[start : start + size].view(a.dtype).reshape(a.shape)
        view[...] = a
        out.append(view)
        start += size
    return out


def test_fits_do_not_depend_on_where_scratch_arrays_lie(monkeypatch):
    """A loop that stores into one array and sums others is vectorised by LLVM only after a
    run-time check that the arrays lie apart, else run as scalar code that adds in another
    order; a fit's last bits then depended on where the scratch arrays had been allocated
    (~1 spectrum in 10^4 differed between a run on threads and a serial one). The kernels keep
    sums and stores in separate loops: weighted data, the scratch columns and the residual
    written right next to the arrays the same loops read must give the same bits."""
    import numpy as np

    from thermal import simulate
    from thermal._kernels import _as_input
    from thermal._kernels import fit as kfit
    from thermal.fit import fit_spectra

    rng = np.random.default_rng(3)
    n = 400
    t = np.column_stack([rng.uniform(800, 1400, n), rng.uniform(300, 600, n)])
    a = np.column_stack([10 ** rng.uniform(5, 6.5, n), 10 ** rng.uniform(7, 8.5, n)])
    obs = simulate.observation(t, a, wavelength=np.linspace(1.5, 5.0, 17), noise=0.02, seed=4)
    calls = []
    original = kfit.fit_batch

    def spy(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(kfit, "fit_batch", spy)
    fit_spectra(obs, model="2T")
    ((y, sig, problem, out),) = calls
    y, sig = _as_input(y), _as_input(sig)  # as the kernel passes them (one signature)

    def run(scratch):
        fits = kfit.Fits(*[np.zeros_like(v) for v in out])
        original.rows(0, y.shape[0], y, sig, problem, fits, scratch)
        return fits

    apart = run(kfit.scratch(y, sig, problem, out))
    s = kfit.scratch(y, sig, problem, out)
    # the store-and-sum pairs: grid_gram (wcol after sw, ys after wcol), the line scans (dcol,
    # col), the two-component gradient (res after the columns' rows)
    sw, wcol, ys, dcol, col, res = _packed(
        [s.sw, s.wcol, s.ys, s.lines.dcol, s.lines.col, s.ws.res]
    )
    packed = s._replace(
        sw=sw, wcol=wcol, ys=ys, lines=s.lines._replace(dcol=dcol, col=col),
        ws=s.ws._replace(res=res),
    )  # fmt: skip
    together = run(packed)
    for name in ("temperature", "area", "chi2", "nfev", "covariance"):
        a, b = getattr(apart, name), getattr(together, name)
        same = (a == b) | (np.isnan(a) & np.isnan(b)) if a.dtype.kind == "f" else a == b
        rows = np.flatnonzero(~same.reshape(n, -1).all(axis=1))
        assert rows.size == 0, f"{name} differs in {rows.size} of {n} spectra, e.g. {rows[:5]}"
