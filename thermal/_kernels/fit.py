"""The batched multi-temperature fit kernel (float64, no Python objects).

Model of one spectrum (``m`` channels, ``c`` blackbody components, optional background):

    y_k = sum_j a_j * eps_j * Bbar_k(T_j) + b * S_k

where ``Bbar_k(T)`` is the channel basis (a spectral channel is one quadrature node of weight 1,
a band channel is its quadrature nodes and weights), ``a_j >= 0`` the areas (or area fractions)
and ``S_k`` a fixed background shape with amplitude ``b >= 0``.

Method (variable projection, Golub & Pereyra 1973, doi:10.1137/0710036):

1. For given temperatures the areas are an exact non-negative linear least-squares problem with
   at most 4 columns, solved by enumerating active sets (the best feasible unconstrained subset
   solution is the NNLS optimum; :mod:`thermal._kernels.linalg`).
2. Multi-start: every combination of a deterministic log-spaced temperature grid per component
   is scored through a Gram matrix of the grid basis precomputed once per spectrum, so each
   combination costs O(1); the best grid local minima start the search, and for two
   exchangeable components so do the minima along the line through the one-temperature
   optimum.
3. Levenberg-Marquardt over ln T of the free components only, with the full Golub-Pereyra
   Jacobian, a secant correction of J^T J and runs abandoned or stopped once they head for a
   worse basin or the best one (:mod:`thermal._kernels.lm`).
4. Polish (two exchangeable components): the cold component's cost profile is often flat with
   several shallow minima, one on its lower bound; the line through the best hot temperature
   is scanned again and low minima away from the best cold temperature start new runs. So is
   the line through the best cold temperature: when the best pair found is a faint hot
   component at its bound over a real one, the real one's partner lies on that line.
5. Covariance of the full physical parameter set (T_j, a_j, b) from (J^T W J)^-1 at the optimum,
   with the given 1-sigma uncertainties taken as absolute.

Data are scaled by the spectrum's largest |y| so all numbers are O(1); the caller unscales.

**Sums never share a loop with stores.** The weighted sums may be reassociated (``SUMS``), so
LLVM vectorises them; but a loop that also stores into an array it cannot prove distinct from
the arrays it reads gets two versions, vectorised and scalar, chosen at run time by whether the
arrays lie within a vector width of each other in memory. The two add in different orders, so
the last bits of a fit depended on where the scratch arrays happened to be allocated (a run on
threads differed from a serial run in ~1 spectrum in 10^4 by ~1e-6 K). Loops that only sum are
always vectorised; ``tests/kernels/test_reproducible.py`` places scratch arrays next to each
other to check.
Status codes are those of :class:`thermal.status.Status`.
"""

import math
from typing import NamedTuple

import numpy as np

from thermal._kernels import SUMS, jit, kernel
from thermal._kernels.linalg import TINY, cholesky_inverse, nnls2, nnls_small, row_gram
from thermal._kernels.lm import (
    Spectrum,
    Workspace,
    channel_basis,
    evaluate,
    free_components,
    lm_run,
    workspace,
)
from thermal.constants import C1, C2
from thermal.status import Status

STATUS = tuple(s.meaning for s in Status)
CONVERGED = int(Status.CONVERGED)
MAX_ITERATIONS = int(Status.MAX_ITERATIONS)
NOT_ENOUGH = int(Status.NOT_ENOUGH_CHANNELS)
NO_DATA = int(Status.NO_DATA)
DEGENERATE = int(Status.DEGENERATE)
AT_BOUND = int(Status.AT_BOUND)
BAD_SIGMA = int(Status.INVALID_UNCERTAINTY)
BAD_DATA = int(Status.INVALID_DATA)

N_STARTS = 2  # Levenberg-Marquardt runs from the best grid local minima
N_POLISH = 2  # rounds of restarts from the line through the best hot temperature
POLISH_DCHI2 = 0.3  # line minima through the best hot temperature worth a run
POLISH_DCHI2_COLD = 5.0  # through the best cold one (rarely any, but often right)
POLISH_RADIUS = 1.5  # grid steps around the best cold temperature the polish skips
BLOCK = 1024
"""Rows that go through each stage of :func:`fit_batch` before the next (what one stage hands
the next, :class:`Block`, is a few kB per row)."""
NEGLIGIBLE = 1e-6
"""A linear term (area, background) adding less than this many sigma to the model (root sum of
squares over the channels) is at its bound, zero (the status ``at_bound``)."""


class Problem(NamedTuple):
    """What every spectrum of a batch shares (see :func:`problem`)."""

    node_x: np.ndarray  # c2 / lambda per quadrature node [K]
    node_a: np.ndarray  # weight * c1 / lambda^5 per node
    node_ch: np.ndarray  # channel of each node (int64)
    eps: np.ndarray  # emissivity per component
    lnlo: np.ndarray  # ln-temperature bounds per component (equal: fixed)
    lnhi: np.ndarray
    bg_shape: np.ndarray  # background shape (n_ch)
    grid_lnt: np.ndarray  # multi-start grid in ln T (n_comp x n_grid)
    g_cols: np.ndarray  # the grid's columns (n_cols x n_ch, see problem())
    exchangeable: bool  # components share bounds and emissivity (results hottest first)
    has_bg: bool  # fit the background amplitude
    max_iter: int  # Levenberg-Marquardt iterations per run
    n_free: int  # components with a free temperature
    n_combo: int  # grid combinations (n_grid ** n_comp)


class Fits(NamedTuple):
    """Per-spectrum results of :func:`fit_batch` (n_fits rows each)."""

    temperature: np.ndarray  # (n_fits, n_comp) [K]
    area: np.ndarray  # (n_fits, n_comp)
    background: np.ndarray  # (n_fits)
    covariance: np.ndarray  # (n_fits, n_par, n_par) of (T_0.., a_0..[, b])
    chi2: np.ndarray
    dof: np.ndarray  # int64
    status: np.ndarray  # int8, thermal.status.Status
    model: np.ndarray  # (n_fits, n_ch)
    nfev: np.ndarray  # int64


class Lines(NamedTuple):
    """The grid's Gram matrix for one spectrum and scratch of the scans along lines of the grid
    (:func:`line_minima`; see :func:`line_scratch`)."""

    gram_all: np.ndarray  # (n_cols, n_cols)
    rhs_all: np.ndarray  # (n_cols)
    g_cols: np.ndarray  # (n_cols, n_ch) the grid columns (Problem.g_cols)
    col: np.ndarray  # (n_ch) a line's column and its derivative
    dcol: np.ndarray
    line: np.ndarray  # (n_grid) costs along a line
    picks: np.ndarray  # (2) int64 grid indices of the minima
    costs: np.ndarray  # (2) their costs
    pair: np.ndarray  # (2) two-column NNLS coefficients


class Block(NamedTuple):
    """What each stage of :func:`fit_batch` hands the next, per row of a block of rows (see
    :func:`scratch`)."""

    n_start: np.ndarray  # (n_block) int64 starts found; 0 when the row is done
    yy: np.ndarray  # (n_block) y^T W y of the scaled data
    start_lnt: np.ndarray  # (n_block, n_start_max, 3) starts in ln T (the polish adds more)
    start_hint: np.ndarray  # (n_block, n_start_max) their grid costs
    gram_all: np.ndarray  # (n_slot, n_cols, n_cols) the grid Gram: per row when the polish
    rhs_all: np.ndarray  # (n_slot, n_cols) scans it again (n_slot = n_block), else one
    best_lnt: np.ndarray  # (n_block, 3) the best temperatures found [ln K]
    converged: np.ndarray  # (n_block) bool: their run converged


class Scratch(NamedTuple):
    """Scratch arrays of :func:`fit_batch`, one set per chunk of rows (see :func:`scratch`)."""

    ys: np.ndarray  # (n_ch) scaled data
    sw: np.ndarray  # (n_ch) weights
    lines: Lines
    gram: np.ndarray  # (4, 4) one grid combination's NNLS
    rhs: np.ndarray
    coef: np.ndarray
    mat: np.ndarray
    vec: np.ndarray
    work: np.ndarray
    col_idx: np.ndarray  # int64
    sub_idx: np.ndarray  # int64
    combo: np.ndarray  # (3) int64 the grid combination
    combo_cost: np.ndarray  # (n_combo)
    combo_full: np.ndarray  # (n_combo) bool
    starts: np.ndarray  # (N_STARTS) int64 best grid combinations
    start_cost: np.ndarray
    lnt: np.ndarray  # (3)
    free: np.ndarray  # (3) int64
    best_lnt: np.ndarray  # (3)
    inc: np.ndarray  # (n_par) int64 parameters in the covariance
    jp: np.ndarray  # (n_par, n_ch) weighted Jacobian
    h: np.ndarray  # (n_par, n_par)
    inv: np.ndarray
    w2: np.ndarray
    c2: np.ndarray
    wcol: np.ndarray  # (n_ch)
    negligible: np.ndarray  # (4) bool: linear terms of a negligible share of the model
    ws: Workspace
    block: Block


@jit
def _argmin(values):
    """``np.argmin`` of a non-empty float array (the first NaN, else the first minimum),
    without numba's separately compiled implementation."""
    best = 0
    for k in range(values.size):
        v = values[k]
        if v != v:
            return k
        if v < values[best]:
            best = k
    return best


@jit(fastmath=SUMS)
def scaled_spectrum(y, sig, ys, sw):
    """Validate one spectrum and scale it so that its largest |y| is 1.

    NaN in ``y`` marks a missing channel. Writes ys = y / scale and sw = scale / sig on valid
    channels, 0 elsewhere: with sw = 0 on missing channels every weighted sum skips them without
    a branch, and its loop vectorises. Returns (status, n_valid, scale), status -1 when the
    spectrum can be fitted, else BAD_DATA (an infinite value), BAD_SIGMA (zero, negative or
    non-finite uncertainty on a measured channel) or NO_DATA.
    """
    n_valid = 0
    scale = 0.0
    bad_sigma = False
    bad_data = False
    for k in range(y.size):
        ys[k] = 0.0
        sw[k] = 0.0
        v = y[k]
        if math.isnan(v):
            continue
        if not math.isfinite(v):
            bad_data = True
            continue
        if not (sig[k] > 0.0 and math.isfinite(sig[k])):
            bad_sigma = True
            continue
        sw[k] = 1.0  # marks a valid channel until the scale is known
        n_valid += 1
        scale = max(scale, abs(v))
    if bad_data:
        return BAD_DATA, n_valid, scale
    if bad_sigma:
        return BAD_SIGMA, n_valid, scale
    if n_valid == 0:
        return NO_DATA, n_valid, scale
    if scale == 0.0:
        scale = 1.0
    for k in range(y.size):
        if sw[k] > 0.0:
            ys[k] = y[k] / scale
            sw[k] = scale / sig[k]
    return -1, n_valid, scale


@jit(fastmath=SUMS)
def grid_gram(g_cols, sw, ys, n_ch, gram_all, rhs_all, wcol):
    """Weighted Gram matrix and right-hand side of the grid columns for one spectrum; returns
    y^T W y. Every combination of grid columns is then scored in O(1). ``wcol`` (n_ch) is
    scratch."""
    yy = 0.0
    for k in range(n_ch):
        yy += sw[k] * sw[k] * ys[k] * ys[k]
    for a in range(g_cols.shape[0]):
        for k in range(n_ch):  # stores and sums in separate loops: see the module docstring
            wcol[k] = sw[k] * sw[k] * g_cols[a, k]
        s = 0.0
        for k in range(n_ch):
            s += wcol[k] * ys[k]
        rhs_all[a] = s
        for b in range(a + 1):
            t = 0.0
            for k in range(n_ch):
                t += wcol[k] * g_cols[b, k]
            gram_all[a, b] = t
            gram_all[b, a] = t
    return yy


@jit(fastmath=SUMS)
def _line_start(p: Problem, sp: Spectrum, lines: Lines, yy, out):
    """Start (T_a, T_b) [ln K] on the line through the one-temperature optimum T_a.

    T_a: the best single grid column refined by variable-projection Gauss-Newton in ln T;
    T_b: the grid values whose two-column NNLS with T_a are the two lowest local minima along
    the line with both areas positive. Writes rows of ``out`` (hottest first) and returns how
    many (0-2). ``p`` is the :class:`Problem`, ``sp`` the :class:`~thermal._kernels.lm.Spectrum`,
    ``lines`` the spectrum's :class:`Lines` and ``yy`` its y^T W y.
    """
    node_x, node_a, node_ch, n_ch, sw, ys = sp.node_x, sp.node_a, sp.node_ch, sp.n_ch, sp.sw, sp.ys
    eps0, lo, hi = sp.eps[0], p.lnlo[0], p.lnhi[0]
    grid, n_grid = p.grid_lnt[0], p.grid_lnt.shape[1]
    gram_all, rhs_all, line, col, dcol = (
        lines.gram_all, lines.rhs_all, lines.line, lines.col, lines.dcol
    )  # fmt: skip
    gb = -1
    for g in range(n_grid):
        line[g] = np.inf
        r = rhs_all[g]
        if r > 0.0 and gram_all[g, g] > TINY:
            line[g] = yy - r * r / gram_all[g, g]
            if gb < 0 or line[g] < line[gb]:
                gb = g
    if gb < 0:
        return 0
    best = line[gb]
    u = grid[gb]
    if 0 < gb < n_grid - 1 and line[gb - 1] < np.inf and line[gb + 1] < np.inf:
        # the vertex of the parabola through the three grid costs: fewer Gauss-Newton steps
        curv = line[gb - 1] - 2.0 * line[gb] + line[gb + 1]
        if curv > 0.0:
            shift = min(max(0.5 * (line[gb - 1] - line[gb + 1]) / curv, -0.5), 0.5)
            u += shift * (grid[gb + 1] - grid[gb])
    step = 0.0
    u_prev = u
    num_prev = 0.0
    for _it in range(12):
        channel_basis(node_x, node_a, node_ch, n_ch, math.exp(u), col, dcol)
        r = 0.0
        gg = 0.0
        for k in range(n_ch):
            w = sw[k] * sw[k] * eps0 * col[k]
            r += w * ys[k]
            gg += w * eps0 * col[k]
        if not (r > 0.0 and gg > TINY):
            return 0
        cost = yy - r * r / gg
        if cost > best and step != 0.0:  # overshoot: go back half way
            u -= 0.5 * step
            step *= 0.5
            continue
        best = min(best, cost)
        a = r / gg
        # Kaufman: J = a (d - proj_c d), residual ys - a c (weighted)
        dc = 0.0
        for k in range(n_ch):
            dc += sw[k] * sw[k] * eps0 * col[k] * eps0 * dcol[k]
        num = 0.0
        den = 0.0
        for k in range(n_ch):
            jk = sw[k] * a * eps0 * (dcol[k] - col[k] * dc / gg)
            num += jk * sw[k] * (ys[k] - a * eps0 * col[k])
            den += jk * jk
        if not den > 0.0:
            break
        # num is the exact gradient (r is orthogonal to c): a secant step on it converges
        # superlinearly where Gauss-Newton, with this non-zero residual, crawls
        step = num / den
        if _it > 0 and u != u_prev:
            slope = (num - num_prev) / (u - u_prev)
            if slope < 0.0:
                step = -num / slope
        u_prev = u
        num_prev = num
        step = min(max(step, -0.3), 0.3)
        v = min(max(u + step, lo), hi)
        step = v - u
        if abs(step) < 1e-6:  # a start: the Levenberg-Marquardt runs refine it
            break
        u = v
    n_out = line_minima(sp, lines, eps0, u, yy, grid, np.int64(0), -np.inf, 0.0)
    for r in range(n_out):
        out[r, 0] = max(u, grid[lines.picks[r]])
        out[r, 1] = min(u, grid[lines.picks[r]])
    return n_out


@jit(fastmath=SUMS)
def line_minima(sp: Spectrum, lines: Lines, eps0, u, yy, grid, offset, avoid, radius):
    """The two lowest local minima of the two-column NNLS cost along the line T_a = exp(u),
    T_b = each value of ``grid`` (whose columns start at row ``offset`` of the grid Gram in
    ``lines``), among points with both areas positive and ln T_b farther than ``radius`` from
    ``avoid``: grid indices into ``lines.picks``, costs into ``lines.costs``; returns how many
    (0-2). ``eps0`` is the emissivity of the line's component."""
    node_x, node_a, node_ch, n_ch, sw, ys = sp.node_x, sp.node_a, sp.node_ch, sp.n_ch, sp.sw, sp.ys
    gram_all, rhs_all, g_cols = lines.gram_all, lines.rhs_all, lines.g_cols
    col, dcol, line, picks, costs, coef = (
        lines.col, lines.dcol, lines.line, lines.picks, lines.costs, lines.pair
    )  # fmt: skip
    n_grid = grid.size
    channel_basis(node_x, node_a, node_ch, n_ch, math.exp(u), col, dcol)
    g00 = 0.0
    b0 = 0.0
    for k in range(n_ch):
        dcol[k] = sw[k] * sw[k] * eps0 * col[k]  # the weighted column, reused below
    for k in range(n_ch):  # (sums apart from stores: see the module docstring)
        g00 += dcol[k] * eps0 * col[k]
        b0 += dcol[k] * ys[k]
    for g in range(n_grid):
        line[g] = np.inf
        o = offset + g
        g01 = 0.0
        for k in range(n_ch):
            g01 += dcol[k] * g_cols[o, k]
        cost = nnls2(g00, g01, gram_all[o, o], b0, rhs_all[o], yy, coef)
        if coef[0] > 0.0 and coef[1] > 0.0 and abs(grid[g] - avoid) > radius:
            line[g] = cost
    n_out = 0
    first = -1
    for _pass in range(2):
        pick = -1
        for g in range(n_grid):
            v = line[g]
            if not v < np.inf or g == first:
                continue
            if (g > 0 and line[g - 1] < v) or (g < n_grid - 1 and line[g + 1] < v):
                continue
            if pick < 0 or v < line[pick]:
                pick = g
        if pick < 0:
            break
        picks[n_out] = pick
        costs[n_out] = line[pick]
        n_out += 1
        first = pick
    return n_out


def problem(
    node_lam, node_w, node_ch, eps, lnlo, lnhi, grid_lnt, grid_basis, bg_shape, *, exchangeable,
    has_bg, max_iter,
) -> Problem:  # fmt: skip
    """The :class:`Problem` of a batch (numpy; arrays read-only, so every call of
    :func:`fit_batch` has the same argument types).

    Parameters
    ----------
    node_lam, node_w, node_ch : array_like
        Quadrature nodes of the channels: wavelength [um], weight and channel index (a
        spectral channel is one node of weight 1).
    eps, lnlo, lnhi : array_like
        Emissivity and ln-temperature bounds [ln K] per component (equal bounds: fixed).
    grid_lnt : array_like
        The multi-start grid (n_comp x n_grid) in ln T; a fixed component repeats its value.
    grid_basis : array_like
        Its channel basis (n_comp x n_grid x n_ch), emissivity included.
    bg_shape : array_like
        Background shape (n_ch), used with ``has_bg``.
    exchangeable : bool
        The components share bounds and emissivity: the grid is ordered and results are sorted
        hottest first.
    has_bg : bool
        Fit the background amplitude.
    max_iter : int
        Levenberg-Marquardt iteration limit per run.
    """
    f8 = np.float64
    lam = np.asarray(node_lam, f8)
    grid_basis = np.asarray(grid_basis, f8)
    n_comp, n_grid, n_ch = grid_basis.shape
    lnlo = np.asarray(lnlo, f8)
    lnhi = np.asarray(lnhi, f8)
    # the grid columns shared by the batch: one set per component (one for exchangeable
    # components), then the background shape
    n_sets = 1 if exchangeable else n_comp
    g_cols = np.empty((n_sets * n_grid + (1 if has_bg else 0), n_ch))
    g_cols[: n_sets * n_grid] = grid_basis[:n_sets].reshape(n_sets * n_grid, n_ch)
    if has_bg:
        g_cols[-1] = bg_shape
    arrays = (
        C2 / lam,  # per node x = c2 / lambda [K] and weight x c1 / lambda^5 (lm.channel_basis)
        np.asarray(node_w, f8) * C1 / (lam * lam * lam * lam * lam),
        np.asarray(node_ch, np.int64), np.asarray(eps, f8), lnlo, lnhi,
        np.asarray(bg_shape, f8), np.asarray(grid_lnt, f8), g_cols,
    )  # fmt: skip
    views = []
    for a in arrays:
        v = np.ascontiguousarray(a).view()
        v.flags.writeable = False
        views.append(v)
    n_combo = 1
    for _ in range(n_comp):
        n_combo *= n_grid
    return Problem(
        *views, bool(exchangeable), bool(has_bg), int(max_iter), int(np.sum(lnhi > lnlo)),
        int(n_combo),
    )  # fmt: skip


def line_scratch(problem, n_ch, gram_all=None, rhs_all=None) -> Lines:
    """:class:`Lines` scratch for spectra of ``n_ch`` channels (numpy), with its own grid Gram
    unless one is given."""
    n_cols = problem.g_cols.shape[0]
    n_grid = problem.grid_lnt.shape[1]
    z = np.zeros
    return Lines(
        z((n_cols, n_cols)) if gram_all is None else gram_all,
        z(n_cols) if rhs_all is None else rhs_all, problem.g_cols, z(n_ch), z(n_ch), z(n_grid),
        z(2, np.int64), z(2), z(2),
    )  # fmt: skip


def scratch(y, sig, problem, out) -> Scratch:
    """The :class:`Scratch` of :func:`fit_batch` (numpy, zeroed), one per chunk of rows, with
    the :class:`Block` of :data:`BLOCK` rows (fewer for a smaller batch); every fit writes what
    it reads (tests/fit: results do not depend on the batch)."""
    n_ch = y.shape[1]
    n_comp = problem.grid_lnt.shape[0]
    n_par = 2 * n_comp + (1 if problem.has_bg else 0)
    n_start = N_STARTS + 2 + 4 * N_POLISH
    n_block = max(1, min(BLOCK, y.shape[0]))
    polish = n_comp == 2 and problem.exchangeable and problem.n_free == 2
    n_slot = n_block if polish else 1
    n_cols = problem.g_cols.shape[0]
    z = np.zeros
    i8 = np.int64
    block = Block(
        z(n_block, i8), z(n_block), z((n_block, n_start, 3)), z((n_block, n_start)),
        z((n_slot, n_cols, n_cols)), z((n_slot, n_cols)), z((n_block, 3)), z(n_block, np.bool_),
    )  # fmt: skip
    return Scratch(
        z(n_ch), z(n_ch), line_scratch(problem, n_ch, block.gram_all[0], block.rhs_all[0]),
        z((4, 4)), z(4), z(4), z((4, 4)), z(4), z(4), z(4, i8), z(4, i8), z(3, i8),
        z(problem.n_combo), z(problem.n_combo, np.bool_), z(N_STARTS, i8), z(N_STARTS), z(3),
        z(3, i8), z(3), z(n_par, i8), z((n_par, n_ch)), z((n_par, n_par)), z((n_par, n_par)),
        z(n_par), z(n_par), z(n_ch), z(4, np.bool_), workspace(n_ch), block,
    )  # fmt: skip


def fits(n_fits: int, n_comp: int, n_par: int, n_ch: int) -> Fits:
    """The :class:`Fits` of ``n_fits`` spectra (numpy, uninitialised; :func:`fit_batch`
    writes every value)."""
    e = np.empty
    return Fits(
        e((n_fits, n_comp)), e((n_fits, n_comp)), e(n_fits), e((n_fits, n_par, n_par)),
        e(n_fits), e(n_fits, np.int64), e(n_fits, np.int8), e((n_fits, n_ch)),
        e(n_fits, np.int64),
    )  # fmt: skip


def example() -> tuple:
    """Arguments of :func:`fit_batch` for one two-component spectrum of two channels: the
    argument types of every call, so that running it compiles (or loads) the kernel that
    every fit uses (:mod:`thermal._kernels.ahead`)."""
    lnt = np.log([[300.0, 1500.0], [300.0, 1500.0]])
    p = problem(
        [2.0, 4.0], [1.0, 1.0], [0, 1], [1.0, 1.0], lnt[:, 0], lnt[:, 1], lnt,
        np.ones((2, 2, 2)), np.zeros(2), exchangeable=True, has_bg=False, max_iter=5,
    )  # fmt: skip
    return np.ones((1, 2)), np.ones((1, 2)), p, fits(1, 2, 4, 2)


def _starts(first, last, y, sig, problem: Problem, out: Fits, s: Scratch):
    """Stage 1 of :func:`fit_batch` on the rows ``first`` to ``last - 1`` (a block): set every
    output to NaN; validate and scale each row (its status when it cannot be fitted); score the
    grid and find the starts of the Levenberg-Marquardt runs, left in ``s.block``
    (:class:`Block`) with the grid Gram that the polish scans again."""
    node_x, node_a, node_ch, eps = problem.node_x, problem.node_a, problem.node_ch, problem.eps
    lnlo, lnhi, bg_shape = problem.lnlo, problem.lnhi, problem.bg_shape
    grid_lnt, g_cols = problem.grid_lnt, problem.g_cols
    exchangeable, has_bg = problem.exchangeable, problem.has_bg
    n_free, n_combo = problem.n_free, problem.n_combo
    temperature, area, background, covariance, chi2, dof, status, model, nfev = out
    ys, sw, lines, gram, rhs, coef = s.ys, s.sw, s.lines, s.gram, s.rhs, s.coef
    mat, vec, work, col_idx, sub_idx = s.mat, s.vec, s.work, s.col_idx, s.sub_idx
    combo, combo_cost, combo_full = s.combo, s.combo_cost, s.combo_full
    starts, start_cost, wcol, block = s.starts, s.start_cost, s.wcol, s.block
    if last - first > block.n_start.size:
        raise ValueError("fit_batch: a block of rows larger than its scratch")
    n_slot = block.gram_all.shape[0]
    n_ch = y.shape[1]
    n_comp, n_grid = grid_lnt.shape
    n_par = covariance.shape[1]
    n_lin_max = n_comp + (1 if has_bg else 0)
    n_cols = g_cols.shape[0]
    sp = Spectrum(node_x, node_a, node_ch, n_ch, eps, n_comp, has_bg, bg_shape, sw, ys,
                  n_lin_max, n_ch)  # fmt: skip
    for i in range(first, last):
        row = i - first
        block.n_start[row] = 0  # nothing for _search to do unless the row gets starts below
        nan = np.nan
        for j in range(n_comp):
            temperature[i, j] = nan
            area[i, j] = nan
        background[i] = nan
        for p in range(n_par):
            for q in range(n_par):
                covariance[i, p, q] = nan
        chi2[i] = nan
        dof[i] = 0
        nfev[i] = 0
        for k in range(n_ch):
            model[i, k] = nan

        # ---- validate and scale
        bad, n_valid, _scale = scaled_spectrum(y[i], sig[i], ys, sw)
        if bad >= 0:
            status[i] = bad
            continue
        n_params = n_free + n_lin_max
        if n_valid < n_params:
            status[i] = NOT_ENOUGH
            continue

        # ---- multi-start on the grid: Gram of all grid columns, O(1) per combination
        gram_all, rhs_all = block.gram_all[row % n_slot], block.rhs_all[row % n_slot]
        row_lines = Lines(
            gram_all, rhs_all, lines.g_cols, lines.col, lines.dcol, lines.line, lines.picks,
            lines.costs, lines.pair,
        )  # fmt: skip
        row_lnt, row_hint = block.start_lnt[row], block.start_hint[row]
        yy = grid_gram(g_cols, sw, ys, n_ch, gram_all, rhs_all, wcol)
        if n_comp == 2 and not has_bg:
            # the common case: every pair in closed form straight from the grid Gram
            combo_cost[:] = np.inf
            combo_full[:] = False
            o1 = 0 if exchangeable else n_grid  # the second component's grid columns
            n0 = n_grid if lnhi[0] > lnlo[0] else 1
            n1 = n_grid if lnhi[1] > lnlo[1] else 1
            for g1 in range(n1):
                b = o1 + g1
                for g0 in range(g1 + 1 if exchangeable else 0, n0):
                    c = g0 + g1 * n_grid
                    combo_cost[c] = nnls2(
                        gram_all[g0, g0], gram_all[g0, b], gram_all[b, b], rhs_all[g0], rhs_all[b],
                        yy, coef,
                    )  # fmt: skip
                    combo_full[c] = coef[0] > 0.0 and coef[1] > 0.0
        else:
            combo[:] = 0
            for c in range(n_combo):
                combo_cost[c] = np.inf
                combo_full[c] = False
                if c > 0:  # next combination (component 0 fastest), without integer divisions
                    j = 0
                    combo[0] += 1
                    while combo[j] == n_grid:
                        combo[j] = 0
                        j += 1
                        combo[j] += 1
                skip = False
                for j in range(n_comp):
                    if not lnhi[j] > lnlo[j] and combo[j] > 0:
                        skip = True
                    if exchangeable and j > 0 and combo[j] >= combo[j - 1]:
                        skip = True
                if skip:
                    continue
                for j in range(n_comp):
                    col_idx[j] = (0 if exchangeable else j) * n_grid + combo[j]
                if has_bg:
                    col_idx[n_comp] = n_cols - 1
                for p in range(n_lin_max):
                    rhs[p] = rhs_all[col_idx[p]]
                    for q in range(n_lin_max):
                        gram[p, q] = gram_all[col_idx[p], col_idx[q]]
                combo_cost[c] = nnls_small(gram, rhs, yy, n_lin_max, coef, mat, vec, work, sub_idx)
                full = True
                for j in range(n_comp):
                    if not coef[j] > 0.0:
                        full = False
                combo_full[c] = full
        # starts: the lowest local minima of the grid (over +-1 steps along each axis)
        starts[:] = -1
        start_cost[:] = np.inf
        for c in range(n_combo):
            v = combo_cost[c]
            if not (combo_full[c] and v < start_cost[N_STARTS - 1]):
                continue
            stride = 1
            local = True
            for _j in range(n_comp):
                g = (c // stride) % n_grid
                if g > 0 and combo_cost[c - stride] < v:
                    local = False
                if g < n_grid - 1 and combo_cost[c + stride] < v:
                    local = False
                stride *= n_grid
            if not local:
                continue
            pos = N_STARTS - 1
            while pos > 0 and start_cost[pos - 1] > v:
                start_cost[pos] = start_cost[pos - 1]
                starts[pos] = starts[pos - 1]
                pos -= 1
            start_cost[pos] = v
            starts[pos] = c

        if starts[0] < 0:  # no combination uses every component: start from the best one
            starts[0] = _argmin(combo_cost)
        n_start = 0
        if n_comp == 2 and exchangeable and lnhi[0] > lnlo[0]:
            # A bright component makes a valley in (T_0, T_1) far narrower than the grid step:
            # start on the line through the one-temperature optimum (refined by Gauss-Newton)
            # at the best grid value of the other component.
            n_start = _line_start(problem, sp, row_lines, yy, row_lnt)
        row_hint[:] = -np.inf  # grid cost of a grid start
        for s_i in range(N_STARTS):
            if starts[s_i] < 0:
                break
            r = starts[s_i]
            for j in range(n_comp):
                row_lnt[n_start, j] = grid_lnt[j, r % n_grid]
                r //= n_grid
            row_hint[n_start] = start_cost[s_i]
            n_start += 1
        block.yy[row] = yy
        block.n_start[row] = n_start


def _search(first, last, y, sig, problem: Problem, out: Fits, s: Scratch):
    """Stage 2 of :func:`fit_batch` on the block of rows that :func:`_starts` prepared: the
    Levenberg-Marquardt runs from its starts and the polish; the best temperatures go to
    ``s.block`` for :func:`_results`, the evaluations to ``out.nfev``."""
    node_x, node_a, node_ch, eps = problem.node_x, problem.node_a, problem.node_ch, problem.eps
    lnlo, lnhi, bg_shape, grid_lnt = problem.lnlo, problem.lnhi, problem.bg_shape, problem.grid_lnt
    exchangeable, has_bg, max_iter = problem.exchangeable, problem.has_bg, problem.max_iter
    ys, sw, lines, ws, block = s.ys, s.sw, s.lines, s.ws, s.block
    lnt, free, best_lnt, nfev = s.lnt, s.free, s.best_lnt, out.nfev
    n_slot = block.gram_all.shape[0]
    if problem.n_free == 2 and exchangeable and n_slot < last - first:
        raise ValueError("fit_batch: the polish needs the grid Gram of every row of a block")
    n_ch = y.shape[1]
    n_comp, n_grid = grid_lnt.shape
    n_lin_max = n_comp + (1 if has_bg else 0)
    sp = Spectrum(node_x, node_a, node_ch, n_ch, eps, n_comp, has_bg, bg_shape, sw, ys,
                  n_lin_max, n_ch)  # fmt: skip
    for i in range(first, last):
        row = i - first
        n_start = block.n_start[row]
        if n_start == 0:  # done by _starts: invalid, or too few channels
            continue
        # the row's data and grid as _starts left them (scaled_spectrum again, bit for bit)
        scaled_spectrum(y[i], sig[i], ys, sw)
        yy = block.yy[row]
        row_lines = Lines(
            block.gram_all[row % n_slot], block.rhs_all[row % n_slot], lines.g_cols, lines.col,
            lines.dcol, lines.line, lines.picks, lines.costs, lines.pair,
        )  # fmt: skip
        row_lnt, row_hint = block.start_lnt[row], block.start_hint[row]
        step = (grid_lnt[0, n_grid - 1] - grid_lnt[0, 0]) / max(n_grid - 1, 1)

        # ---- Levenberg-Marquardt in ln T of the free components (variable projection)
        nf = free_components(lnlo, lnhi, free)
        best_final = np.inf
        best_converged = False
        evaluations = 0
        polish = n_comp == 2 and exchangeable and nf == 2
        n_polish = 0
        polish_from = np.inf  # best cost when the last polish round was set up
        best_lnt[:] = np.inf  # (scratch: nothing from the previous spectrum may match it)
        s_i = -1
        while True:
            s_i += 1
            if s_i == n_start:
                # Polish: the cold component's cost profile is often flat with local minima (one at
                # its lower bound); scan the lines through the best hot and the best cold
                # temperature (the latter finds the hot partner of a cold one when the best pair is
                # a faint hot component at its bound) and run again from their other low minima (up
                # to N_POLISH rounds, while they improve).
                if not (polish and n_polish < N_POLISH and best_final < polish_from):
                    break
                n_polish += 1
                polish_from = best_final
                hot = 0 if best_lnt[0] >= best_lnt[1] else 1
                for anchor in range(2):
                    other = 1 - anchor
                    n_line = line_minima(
                        sp, row_lines, eps[0], best_lnt[anchor], yy, grid_lnt[0], np.int64(0),
                        best_lnt[other], POLISH_RADIUS * step,
                    )  # fmt: skip
                    for r in range(n_line):
                        partner = grid_lnt[0, row_lines.picks[r]]
                        if row_lines.costs[r] < best_final + (
                            POLISH_DCHI2 if anchor == hot else POLISH_DCHI2_COLD
                        ):
                            row_lnt[n_start, 0] = max(best_lnt[anchor], partner)
                            row_lnt[n_start, 1] = min(best_lnt[anchor], partner)
                            row_hint[n_start] = -np.inf
                            n_start += 1
                if s_i == n_start:
                    break
            if row_hint[s_i] > 1.2 * best_final + 5.0:
                continue  # a grid basin clearly worse than a minimum already found
            if best_final < np.inf:
                near = True  # within a grid step of the best minimum: the same basin
                for j in range(n_comp):
                    if abs(row_lnt[s_i, j] - best_lnt[j]) > step:
                        near = False
                if near:
                    continue
            for j in range(n_comp):
                lnt[j] = row_lnt[s_i, j]
            cost, converged, n_ev = lm_run(
                sp, ws, lnt, lnlo, lnhi, free, nf, max_iter, best_final, best_lnt
            )
            evaluations += n_ev
            if cost < best_final:
                best_final = cost
                best_converged = converged
                for j in range(n_comp):
                    best_lnt[j] = lnt[j]
        for j in range(n_comp):
            block.best_lnt[row, j] = best_lnt[j]
        block.converged[row] = best_converged
        nfev[i] = evaluations


def _results(first, last, y, sig, problem: Problem, out: Fits, s: Scratch):
    """Stage 3 of :func:`fit_batch`: the areas, model, covariance and status of each row at
    the best temperatures that :func:`_search` found."""
    node_x, node_a, node_ch, eps = problem.node_x, problem.node_a, problem.node_ch, problem.eps
    lnlo, lnhi, bg_shape = problem.lnlo, problem.lnhi, problem.bg_shape
    exchangeable, has_bg, n_free = problem.exchangeable, problem.has_bg, problem.n_free
    temperature, area, background, covariance, chi2, dof, status, model, _ = out
    ys, sw, gram, rhs, coef, mat, vec = s.ys, s.sw, s.gram, s.rhs, s.coef, s.mat, s.vec
    work, sub_idx, lnt, inc, jp, h = s.work, s.sub_idx, s.lnt, s.inc, s.jp, s.h
    inv, w2, c2, ws, block, negligible = s.inv, s.w2, s.c2, s.ws, s.block, s.negligible
    n_ch = y.shape[1]
    n_comp = problem.grid_lnt.shape[0]
    n_par = covariance.shape[1]
    n_lin_max = n_comp + (1 if has_bg else 0)
    sp = Spectrum(node_x, node_a, node_ch, n_ch, eps, n_comp, has_bg, bg_shape, sw, ys,
                  n_lin_max, n_ch)  # fmt: skip
    cols, dcols = ws.cols, ws.dcols
    for i in range(first, last):
        row = i - first
        if block.n_start[row] == 0:  # done by _starts: invalid, or too few channels
            continue
        _bad, n_valid, scale = scaled_spectrum(y[i], sig[i], ys, sw)
        n_params = n_free + n_lin_max
        # the best solution's columns, areas and derivatives again
        converged = block.converged[row]
        for j in range(n_comp):
            lnt[j] = block.best_lnt[row, j]
        cost = evaluate(sp, lnt, cols, dcols, coef, gram, rhs, mat, vec, work, sub_idx)

        # ---- order components hottest first when they are exchangeable
        if exchangeable:
            for a in range(n_comp):
                for b in range(n_comp - 1 - a):
                    if lnt[b] < lnt[b + 1]:
                        lnt[b], lnt[b + 1] = lnt[b + 1], lnt[b]
                        coef[b], coef[b + 1] = coef[b + 1], coef[b]
                        for k in range(n_ch):
                            cols[b, k], cols[b + 1, k] = cols[b + 1, k], cols[b, k]
                            dcols[b, k], dcols[b + 1, k] = dcols[b + 1, k], dcols[b, k]

        # ---- a linear term is at its bound (zero) when its share of the model is negligible
        # against the noise: not only an area of exactly 0, which depends on rounding (and so
        # on the data's unit), but e.g. 1e-15 of the other component's on noise-free data
        for p in range(n_lin_max):
            share = 0.0
            for k in range(n_ch):
                term = sw[k] * coef[p] * (cols[p, k] if p < n_comp else bg_shape[k])
                share += term * term
            negligible[p] = not math.sqrt(share) > NEGLIGIBLE

        # ---- results in physical units
        at_bound = False
        for j in range(n_comp):
            temperature[i, j] = math.exp(lnt[j])
            area[i, j] = coef[j] * scale
            if lnhi[j] > lnlo[j]:
                if negligible[j] or lnt[j] <= lnlo[j] + 1e-9 or lnt[j] >= lnhi[j] - 1e-9:
                    at_bound = True
        if has_bg:
            background[i] = coef[n_comp] * scale
            if negligible[n_comp]:
                at_bound = True
        chi2[i] = cost
        dof[i] = n_valid - n_params
        for k in range(n_ch):
            m = 0.0
            for p in range(n_lin_max):
                m += coef[p] * cols[p, k]
            model[i, k] = m * scale

        # ---- covariance of (T_0..T_c-1, a_0..a_c-1[, b]) from the weighted Jacobian
        # parameter p is included when it is free (a temperature with a share of the model,
        # any area)
        n_inc = np.int64(0)  # not a literal: a callee would compile once more for it
        for j in range(n_comp):
            if lnhi[j] > lnlo[j] and not negligible[j]:
                inc[n_inc] = j
                n_inc += 1
        for p in range(n_comp, n_par):
            inc[n_inc] = p
            n_inc += 1
        for p in range(n_inc):
            q = inc[p]
            for k in range(n_ch):
                if q < n_comp:  # d model / d T_q  (scaled model units per K)
                    jp[p, k] = sw[k] * coef[q] * dcols[q, k] / math.exp(lnt[q])
                elif q < 2 * n_comp:
                    jp[p, k] = sw[k] * cols[q - n_comp, k]
                else:
                    jp[p, k] = sw[k] * bg_shape[k]
        row_gram(jp, n_inc, h)
        ok = cholesky_inverse(h, n_inc, inv, w2, c2)
        if ok:
            for p in range(n_inc):
                fp = 1.0 if inc[p] < n_comp else scale
                for q in range(n_inc):
                    fq = 1.0 if inc[q] < n_comp else scale
                    covariance[i, inc[p], inc[q]] = inv[p, q] * fp * fq
            # a fixed temperature has exactly zero variance
            for j in range(n_comp):
                if not lnhi[j] > lnlo[j]:
                    for q in range(n_par):
                        covariance[i, j, q] = 0.0
                        covariance[i, q, j] = 0.0
        if not converged:
            status[i] = MAX_ITERATIONS
        elif not ok:
            status[i] = DEGENERATE
        elif at_bound:
            status[i] = AT_BOUND
        else:
            status[i] = CONVERGED


@kernel(
    rows="y",
    inputs=("y", "sig"),
    scratch=scratch,
    example=example,
    stages=(_starts, _search, _results),
    ahead=(1, 0, 2),
    block=BLOCK,
    fastmath=SUMS,
)
def fit_batch(first, last, y, sig, problem: Problem, out: Fits, s: Scratch):
    """Fit the rows ``first`` to ``last - 1`` of ``y`` (n_fits x n_ch) with 1-sigma ``sig``; NaN
    y marks a missing channel. ``problem`` is the batch's :class:`Problem`; results go to the
    rows of ``out`` (:class:`Fits`), in the scaled data units of each row times the row's
    scale, i.e. physical: areas in the unit of y per unit of the basis.

    From Python: ``fit_batch(y, sig, problem, out, size=work)`` runs every row, on threads
    for a large ``size``. ``s`` is the :class:`Scratch` (:func:`scratch`). Three compiled
    stages do the work, block by block of :data:`BLOCK` rows: :func:`_starts` (validation and
    the grid starts), :func:`_search` (the Levenberg-Marquardt runs and the polish) and
    :func:`_results`. They compile apart from each other, so on an empty cache they compile at
    the same time in two processes (:mod:`thermal._kernels.ahead`: the search, ~16 s on one
    core, in the background; the starts and the results, ~9 and ~4 s, in the caller). One
    function held all of it and took ~22 s, because numba optimises every compiled callee
    again inside each caller. Each stage runs ``scaled_spectrum`` on its rows again rather than
    keep the scaled data (bit for bit the same, and cheaper than a copy). Within a stage the
    per-spectrum method is written out in the loop and its helpers are inlined, except the
    Levenberg-Marquardt run and the line scans (and, inside those, the channel basis and the
    areas): few and shallow callees compile fastest.
    """
