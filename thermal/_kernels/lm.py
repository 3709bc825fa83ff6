"""Variable-projection Levenberg-Marquardt in ln T: one run of step 3 of
:mod:`thermal._kernels.fit`'s method, and the model it evaluates.

The areas are the exact non-negative least-squares solution at every point (Golub & Pereyra
1973, doi:10.1137/0710036), so the search runs over the free components' ln T only, with the full
Golub-Pereyra Jacobian of the projected residual (Kaufman's cheaper approximation, Kaufman 1975,
doi:10.1007/BF01932995, zig-zags where a faint component is poorly determined), a secant step
back along the previous step when its slope changed sign, for two free components a structured
secant term added to J^T J where the residual's own curvature makes Gauss-Newton overshoot
(NL2SOL: Dennis, Gay & Welsch 1981, ACM TOMS 7, 348, doi:10.1145/355958.355965), steps capped at
MAX_STEP in ln T, Nielsen's damping update (1999, IMM-REP-1999-05) and temperatures clamped to
their bounds. A run is abandoned once its quadratic model cannot reach the best minimum found,
and stops once, no better than it, it is within SAME_BASIN of it. The common case, two free
components and no background, has its gradient and 2 x 2 solves in closed form.
"""

import math
from typing import NamedTuple

import numpy as np

from thermal._kernels import SUMS, jit
from thermal._kernels.exp import exp_reduced
from thermal._kernels.linalg import (
    COND,
    TINY,
    cholesky_solve,
    nnls2,
    nnls_small,
    row_gram,
    solve_spd,
)
from thermal._kernels.planck import pow4
from thermal.constants import STEFAN_BOLTZMANN

ABANDON_AFTER = 3  # iterations before a run may be abandoned as heading for a worse basin
ABANDON_FACTOR = 100.0  # (30 saved 13 % more evaluations but missed 5 optima in 5000)
SAME_BASIN = 0.3  # ln T (a grid step) from the best minimum within which a worse run stops
MAX_STEP = 0.2  # longest step in ln T (0.6 grid steps): longer ones were mostly rejected


class Spectrum(NamedTuple):
    """One spectrum as :func:`lm_run` sees it: the batch's channels and components and the
    spectrum's scaled data ``ys`` and weights ``sw`` (1 / sigma, 0 on missing channels).

    With ``n_row`` > ``n_ch``, ``sw`` and ``ys`` have ``n_row`` entries, the last one the power
    row of :func:`_columns` (profile intervals of the power).
    """

    node_x: np.ndarray  # c2 / lambda per quadrature node [K]
    node_a: np.ndarray  # weight * c1 / lambda^5 per node
    node_ch: np.ndarray  # channel of each node
    n_ch: int
    eps: np.ndarray  # emissivity per component
    n_comp: int
    has_bg: bool
    bg_shape: np.ndarray  # background shape (n_ch)
    sw: np.ndarray
    ys: np.ndarray
    n_lin: int  # linear parameters: the areas and the background amplitude
    n_row: int


class Workspace(NamedTuple):
    """Scratch arrays of one Levenberg-Marquardt run (:func:`workspace`)."""

    trial: np.ndarray  # (3) trial ln T
    cols: np.ndarray  # (4, n_row) model columns, derivatives and areas at the current point
    dcols: np.ndarray
    t_cols: np.ndarray  # ... and at the trial point
    t_dcols: np.ndarray
    t_coef: np.ndarray  # (4)
    coef: np.ndarray  # (4)
    gram: np.ndarray  # (4, 4) and below: scratch of the areas' NNLS and of the gradient
    rhs: np.ndarray
    mat: np.ndarray
    vec: np.ndarray
    work: np.ndarray
    sub_idx: np.ndarray
    col_idx: np.ndarray
    jac: np.ndarray  # (3, n_row)
    hess: np.ndarray  # (3, 3)
    grad: np.ndarray
    lmat: np.ndarray
    lvec: np.ndarray
    gvec: np.ndarray
    prev_d: np.ndarray  # (3) the previous step
    res: np.ndarray  # (n_row) weighted residual
    proj: np.ndarray


@jit(fastmath=SUMS)
def channel_basis(node_x, node_a, node_ch, n_ch, t, out, dout):
    """Channel basis Bbar_k(t) and t * dBbar_k/dt (the derivative in ln t) for one temperature.

    ``node_x`` = c2 / lambda [K] and ``node_a`` = weight * c1 / lambda^5 per quadrature node
    (precomputed once per batch), so a node costs one exponential and one division.
    """
    inv_t = 1.0 / t
    if node_x.size == n_ch:
        # spectral channels: node k is channel k (Channels keeps nodes in channel order). A
        # branch-free pass that vectorises, exact where every x is in [0.5, 700).
        unsettled = 0
        for k in range(n_ch):
            x = node_x[k] * inv_t
            xc = min(max(x, 0.5), 700.0)
            e = exp_reduced(-xc)
            d = 1.0 / (1.0 - e)
            b = node_a[k] * e * d
            out[k] = b
            dout[k] = b * xc * d
            unsettled += not ((x >= 0.5) & (x < 700.0))
        if unsettled == 0:
            return
    for k in range(n_ch):
        out[k] = 0.0
        dout[k] = 0.0
    for q in range(node_x.size):
        x = node_x[q] * inv_t
        if x < 0.5:
            em = math.expm1(x)
            b = node_a[q] / em
            dbt = b * x * (em + 1.0) / em
        elif x < 700.0:
            e = exp_reduced(-x)
            d = 1.0 / (1.0 - e)
            b = node_a[q] * e * d
            dbt = b * x * d
        else:  # below 1e-300 of the prefactor: nothing a fit can see
            b = 0.0
            dbt = 0.0
        out[node_ch[q]] += b
        dout[node_ch[q]] += dbt


@jit(fastmath=SUMS)
def _columns(node_x, node_a, node_ch, n_ch, n_row, lnt, eps, n_comp, has_bg, bg_shape, cols,
             dcols):  # fmt: skip
    """Model columns (emissivity x channel basis, then the background shape) and their
    derivatives in ln T at the temperatures ``exp(lnt)``. With ``n_row`` > ``n_ch`` row
    ``n_ch`` is the power row: emissivity x sigma T^4 [W m-2] (0 for the background), so that
    a datum there with a large weight constrains the total power (see the profile kernel)."""
    for j in range(n_comp):
        # straight into the rows: a copy through scratch arrays doubled the cost
        channel_basis(node_x, node_a, node_ch, n_ch, math.exp(lnt[j]), cols[j], dcols[j])
        e = eps[j]
        if e != 1.0:
            for k in range(n_ch):
                cols[j, k] *= e
                dcols[j, k] *= e
    if has_bg:
        for k in range(n_ch):
            cols[n_comp, k] = bg_shape[k]
    if n_row > n_ch:
        for j in range(n_comp):
            t = math.exp(lnt[j])
            cols[j, n_ch] = eps[j] * STEFAN_BOLTZMANN * pow4(t)
            dcols[j, n_ch] = 4.0 * cols[j, n_ch]
        if has_bg:
            cols[n_comp, n_ch] = 0.0


@jit(fastmath=SUMS)
def _solve_areas(cols, sw, ys, n_lin, n_ch, coef, gram, rhs, mat, vec, work, idx):
    """Weighted NNLS of ys on the columns ``cols[:n_lin]``; returns the explicit cost."""
    # The common case: all products in one pass, the NNLS in closed form. (Only the products
    # in this branch and one nnls_small call for every n_lin: 20.5 -> 22-24 us per fit.)
    if n_lin == 2:
        yy = 0.0
        b0 = 0.0
        b1 = 0.0
        g00 = 0.0
        g01 = 0.0
        g11 = 0.0
        for k in range(n_ch):
            w = sw[k] * sw[k]
            c0 = cols[0, k]
            c1 = cols[1, k]
            wy = w * ys[k]
            yy += wy * ys[k]
            b0 += wy * c0
            b1 += wy * c1
            g00 += w * c0 * c0
            g01 += w * c0 * c1
            g11 += w * c1 * c1
        nnls2(g00, g01, g11, b0, b1, yy, coef)
        a0 = coef[0]
        a1 = coef[1]
        cost = 0.0
        for k in range(n_ch):
            r = sw[k] * (ys[k] - (a0 * cols[0, k] + a1 * cols[1, k]))
            cost += r * r
        return cost
    yy = 0.0
    for k in range(n_ch):
        v = sw[k] * ys[k]
        yy += v * v
    for i in range(n_lin):
        s = 0.0
        for k in range(n_ch):
            s += sw[k] * sw[k] * cols[i, k] * ys[k]
        rhs[i] = s
        for j in range(i + 1):
            g = 0.0
            for k in range(n_ch):
                g += sw[k] * sw[k] * cols[i, k] * cols[j, k]
            gram[i, j] = g
            gram[j, i] = g
    nnls_small(gram, rhs, yy, n_lin, coef, mat, vec, work, idx)
    cost = 0.0
    for k in range(n_ch):
        m = 0.0
        for i in range(n_lin):
            m += coef[i] * cols[i, k]
        r = sw[k] * (ys[k] - m)
        cost += r * r
    return cost


@jit(fastmath=SUMS)
def evaluate(prob: Spectrum, lnt, cols, dcols, coef, gram, rhs, mat, vec, work, idx):
    """The model at the temperatures ``exp(lnt)`` of the spectrum ``prob`` (a
    :class:`Spectrum`): columns and derivatives into ``cols``, ``dcols``, the exact areas into
    ``coef``; returns the cost. The other arguments are scratch of :func:`_solve_areas`."""
    _columns(prob.node_x, prob.node_a, prob.node_ch, prob.n_ch, prob.n_row, lnt, prob.eps,
             prob.n_comp, prob.has_bg, prob.bg_shape, cols, dcols)  # fmt: skip
    return _solve_areas(cols, prob.sw, prob.ys, prob.n_lin, prob.n_row, coef, gram, rhs, mat, vec,
                        work, idx)  # fmt: skip


@jit
def free_components(lnlo, lnhi, free):
    """Indices of the components whose temperature is free (upper > lower bound) into
    ``free``; returns how many."""
    nf = 0
    for j in range(lnlo.size):
        if lnhi[j] > lnlo[j]:
            free[nf] = j
            nf += 1
    return np.int64(nf)  # int64, never the literal 0 (that would compile lm_run twice)


def workspace(n_row) -> Workspace:
    """A :class:`Workspace` for spectra of ``n_row`` rows (numpy: the callers of compiled
    kernels own the scratch, see :class:`thermal._kernels.Kernel`)."""
    z = np.zeros
    i8 = np.int64
    return Workspace(
        z(3), z((4, n_row)), z((4, n_row)), z((4, n_row)), z((4, n_row)), z(4), z(4), z((4, 4)),
        z(4), z((4, 4)), z(4), z(4), z(4, i8), z(4, i8), z((3, n_row)), z((3, 3)), z(3),
        z((4, 4)), z(4), z(4), z(3), z(n_row), z(4),
    )  # fmt: skip


@jit(fastmath=SUMS)
def _gradient(cols, dcols, coef, sw, ys, n_row, n_lin, free, nf, res, grad, hess, jac, gram,
              lmat, lvec, gvec, work, col_idx):  # fmt: skip
    """The gradient ``grad`` = J^T r and Gauss-Newton matrix ``hess`` = J^T J in ln T of the
    free components (Golub-Pereyra Jacobian J of the projected weighted residual, written into
    ``res``) at the point whose columns, derivatives and areas are given; the other arguments
    are scratch space."""
    n_act = np.int64(0)  # not a literal: a callee would compile once more for it
    for p in range(n_lin):
        if coef[p] > 0.0:
            col_idx[n_act] = p
            n_act += 1
    for p in range(n_act):
        for q in range(p + 1):
            g = 0.0
            for k in range(n_row):
                g += sw[k] * sw[k] * cols[col_idx[p], k] * cols[col_idx[q], k]
            gram[p, q] = g
            gram[q, p] = g
    for k in range(n_row):
        m = 0.0
        for p in range(n_lin):
            m += coef[p] * cols[p, k]
        res[k] = sw[k] * (ys[k] - m)
    for f in range(nf):
        j = free[f]
        a = coef[j]
        for k in range(n_row):
            jac[f, k] = sw[k] * a * dcols[j, k]
        if a > 0.0 and n_act > 0:
            pj = 0
            for p in range(n_act):
                if col_idx[p] == j:
                    pj = p
            for p in range(n_act):
                s = 0.0
                for k in range(n_row):
                    s += sw[k] * cols[col_idx[p], k] * jac[f, k]
                lvec[p] = s
                for q in range(n_act):
                    lmat[p, q] = gram[p, q]
            if cholesky_solve(lmat, lvec, n_act, work):
                # the second term's coefficients G^-1 e_pj (D_j^T r)
                dr = 0.0
                for k in range(n_row):
                    dr += sw[k] * dcols[j, k] * res[k]
                for p in range(n_act):
                    gvec[p] = dr if p == pj else 0.0
                    for q in range(n_act):
                        lmat[p, q] = gram[p, q]
                if not cholesky_solve(lmat, gvec, n_act, work):
                    for p in range(n_act):
                        gvec[p] = 0.0
                for k in range(n_row):
                    s = 0.0
                    for p in range(n_act):
                        s += cols[col_idx[p], k] * (gvec[p] - lvec[p])
                    jac[f, k] += sw[k] * s
    for f in range(nf):
        s = 0.0
        for k in range(n_row):
            s += jac[f, k] * res[k]
        grad[f] = s  # = -J^T r with J = dr/du, i.e. the descent direction J^T(y - m)
    row_gram(jac, nf, hess)


@jit(fastmath=SUMS)
def _gradient_two(cols, dcols, coef, sw, ys, n_row, res, grad, hess):
    """The Golub-Pereyra gradient ``grad`` = J^T r and Gauss-Newton matrix ``hess`` = J^T J of
    :func:`lm_run` for its common case, two free components with positive areas and no
    background, in closed form (one pass for all weighted products, one for J). Writes the
    weighted residual into ``res``; returns False (nothing written to grad, hess) when the
    two columns are too nearly parallel for the general code's Cholesky factorisation."""
    a0 = coef[0]
    a1 = coef[1]
    g00 = 0.0
    g01 = 0.0
    g11 = 0.0
    cd00 = 0.0  # <c_p, d_j> weighted
    cd01 = 0.0
    cd10 = 0.0
    cd11 = 0.0
    de0 = 0.0  # <d_j, y - m> weighted
    de1 = 0.0
    for k in range(n_row):  # the weighted residual, apart from the sums (fit.py's docstring)
        res[k] = sw[k] * (ys[k] - (a0 * cols[0, k] + a1 * cols[1, k]))
    for k in range(n_row):
        w = sw[k] * sw[k]
        c0 = cols[0, k]
        c1 = cols[1, k]
        d0 = dcols[0, k]
        d1 = dcols[1, k]
        e = ys[k] - (a0 * c0 + a1 * c1)
        wc0 = w * c0
        wc1 = w * c1
        g00 += wc0 * c0
        g01 += wc0 * c1
        g11 += wc1 * c1
        cd00 += wc0 * d0
        cd01 += wc0 * d1
        cd10 += wc1 * d0
        cd11 += wc1 * d1
        de0 += w * d0 * e
        de1 += w * d1 * e
    if not (g00 > TINY and g11 > TINY):
        return False
    det = g00 * g11 - g01 * g01
    if not det > COND * g00 * g11:
        return False
    i00 = g11 / det
    i01 = -g01 / det
    i11 = g00 / det
    # J_j = sw (a_j d_j + sum_p b_jp c_p) with b_j = G^-1 e_j <d_j, r> - a_j G^-1 A^T d_j
    b00 = de0 * i00 - a0 * (i00 * cd00 + i01 * cd10)
    b01 = de0 * i01 - a0 * (i01 * cd00 + i11 * cd10)
    b10 = de1 * i01 - a1 * (i00 * cd01 + i01 * cd11)
    b11 = de1 * i11 - a1 * (i01 * cd01 + i11 * cd11)
    h00 = 0.0
    h01 = 0.0
    h11 = 0.0
    q0 = 0.0
    q1 = 0.0
    for k in range(n_row):
        c0 = cols[0, k]
        c1 = cols[1, k]
        u0 = sw[k] * (a0 * dcols[0, k] + b00 * c0 + b01 * c1)
        u1 = sw[k] * (a1 * dcols[1, k] + b10 * c0 + b11 * c1)
        h00 += u0 * u0
        h01 += u0 * u1
        h11 += u1 * u1
        q0 += u0 * res[k]
        q1 += u1 * res[k]
    grad[0] = q0
    grad[1] = q1
    hess[0, 0] = h00
    hess[0, 1] = h01
    hess[1, 0] = h01
    hess[1, 1] = h11
    return True


@jit(fastmath=SUMS)
def lm_run(prob: Spectrum, ws: Workspace, lnt, lnlo, lnhi, free, nf, max_iter, best_final,
            best_lnt):  # fmt: skip
    """One Levenberg-Marquardt run in ln T of the free components from ``lnt`` (variable
    projection: the areas are the exact NNLS solution at every point).

    ``prob`` (a :class:`Spectrum`) describes the spectrum and ``ws`` (a :class:`Workspace`)
    is scratch. ``lnt`` ends at the run's end point (its columns and areas are somewhere in
    ``ws``: recompute them). The run is abandoned once it heads for a basin clearly worse than
    ``best_final`` (np.inf: never) and stops where, no better than it, it comes within
    ``SAME_BASIN`` of ``best_lnt``.
    Returns (cost, converged, evaluations).
    """
    n_comp, sw, ys, n_lin, n_row = prob.n_comp, prob.sw, prob.ys, prob.n_lin, prob.n_row
    (trial, cols, dcols, t_cols, t_dcols, t_coef, coef, gram, rhs, mat, vec, work,
     sub_idx, col_idx, jac, hess, grad, lmat, lvec, gvec, prev_d, res, proj) = ws  # fmt: skip
    evaluations = 0
    cost = evaluate(prob, lnt, cols, dcols, coef, gram, rhs, mat, vec, work, sub_idx)
    evaluations += 1
    lam = 1e-3  # initial damping
    nu = 2.0
    s00 = 0.0  # the learnt second-order term S (two free components; see below)
    s01 = 0.0
    s11 = 0.0
    has_prev = False
    prev_g0 = 0.0
    abandon = False
    converged = nf == 0
    it = 0
    while not converged and it < max_iter:
        it += 1
        # Golub-Pereyra Jacobian of the projected residual r = sw (ys - model) = P_perp y:
        # -dr/dlnT_j = P_perp D_j a + A G^-1 e_j (D_j^T r), D_j = sw * dcol_j, A the active
        # weighted columns, G = A^T A. Kaufman's approximation drops the second term; that
        # made Gauss-Newton zig-zag for thousands of steps where a faint component is
        # poorly determined. (Both gradients behind one inline dispatcher, like nnls_small,
        # measured 20.6 -> 24.5 us per fit: the closed form stays at the call site.)
        if not (
            n_lin == 2
            and nf == 2
            and coef[0] > 0.0
            and coef[1] > 0.0
            and _gradient_two(cols, dcols, coef, sw, ys, n_row, res, grad, hess)
        ):
            _gradient(cols, dcols, coef, sw, ys, n_row, n_lin, free, nf, res, grad, hess, jac,
                      gram, lmat, lvec, gvec, work, col_idx)  # fmt: skip
        if has_prev:
            # Overshoot check: where the Gauss-Newton model misjudges the curvature (a faint,
            # poorly determined component) the steps zig-zag across the valley. If the slope
            # along the previous step changed sign, go to the secant minimum on that line.
            g1 = 0.0
            for f in range(nf):
                g1 += grad[f] * prev_d[free[f]]
            has_prev = False
            if nf == 2 and n_row > n_lin + nf:
                # Structured secant update (Dennis, Gay & Welsch 1981, doi:10.1145/355958.355965):
                # J^T J lacks the residual's own curvature, which here is large (a faint
                # component: Gauss-Newton steps overshoot by ~2 and zig-zag for ~40
                # evaluations). The slopes at both ends of the last step measure the true
                # curvature along it; a rank-one change makes J^T J + S match it (S never
                # below 0 along the step), and S is kept positive semi-definite (else dropped).
                # Not without degrees of freedom: the residual then vanishes at the optimum and
                # Gauss-Newton needs no help (4 bands, 2T: 100k -> 91k fits/s with it).
                d0 = prev_d[free[0]]
                d1 = prev_d[free[1]]
                dd = d0 * d0 + d1 * d1
                if dd > 0.0:
                    gn = d0 * d0 * hess[0, 0] + 2.0 * d0 * d1 * hess[0, 1] + d1 * d1 * hess[1, 1]
                    has = d0 * d0 * s00 + 2.0 * d0 * d1 * s01 + d1 * d1 * s11
                    u = (max(prev_g0 - g1 - gn, 0.0) - has) / (dd * dd)
                    s00 += u * d0 * d0
                    s01 += u * d0 * d1
                    s11 += u * d1 * d1
                    if not (s00 >= 0.0 and s11 >= 0.0 and s00 * s11 >= s01 * s01):
                        s00 = 0.0
                        s01 = 0.0
                        s11 = 0.0
            if prev_g0 > 0.0 and g1 < 0.0:
                t_line = prev_g0 / (prev_g0 - g1)
                if 0.02 < t_line < 0.98:
                    for j in range(n_comp):
                        trial[j] = min(max(lnt[j] - (1.0 - t_line) * prev_d[j], lnlo[j]), lnhi[j])
                    new = evaluate(prob, trial, t_cols, t_dcols, t_coef, gram, rhs, mat, vec,
                                   work, sub_idx)  # fmt: skip
                    evaluations += 1
                    if new < cost:
                        rel = (cost - new) / max(cost, 1e-300)
                        for j in range(n_comp):
                            lnt[j] = trial[j]
                        # accept the trial point: its areas, columns and derivatives swap in
                        coef, t_coef = t_coef, coef
                        cols, t_cols = t_cols, cols
                        dcols, t_dcols = t_dcols, dcols
                        cost = new
                        if rel < 1e-11:
                            converged = True
                        continue
        if nf == 2:  # the Levenberg-Marquardt model uses J^T J + S
            hess[0, 0] += s00
            hess[0, 1] += s01
            hess[1, 0] += s01
            hess[1, 1] += s11
        improved = False
        while True:
            for f in range(nf):
                proj[f] = grad[f]
                for g2 in range(nf):
                    lmat[f, g2] = hess[f, g2]
                lmat[f, f] = hess[f, f] * (1.0 + lam)
            for f in range(nf):
                jf = free[f]
                pinned = (lnt[jf] <= lnlo[jf] and grad[f] < 0.0) or (
                    lnt[jf] >= lnhi[jf] and grad[f] > 0.0
                )
                if pinned or not hess[f, f] > 0.0:
                    proj[f] = 0.0
                    for g2 in range(nf):
                        lmat[f, g2] = 0.0
                        lmat[g2, f] = 0.0
                    lmat[f, f] = 1.0
            if not solve_spd(lmat, proj, nf, work):
                lam *= 10.0
                if lam > 1e12:
                    break
                continue
            if it >= ABANDON_AFTER and cost > best_final:
                # the quadratic model's reduction from here: if even ABANDON_FACTOR times
                # it cannot reach the best minimum found, this basin is worse
                pred = 0.0
                for f in range(nf):
                    pred += 2.0 * proj[f] * grad[f]
                    for g2 in range(nf):
                        pred -= proj[f] * hess[f, g2] * proj[g2]
                if nf == 2:  # with J^T J alone, without S: the larger, cautious prediction
                    pred += proj[0] * proj[0] * s00 + 2.0 * proj[0] * proj[1] * s01
                    pred += proj[1] * proj[1] * s11
                if cost - ABANDON_FACTOR * pred > best_final:
                    abandon = True
                    break
            longest = 0.0
            for f in range(nf):
                longest = max(longest, abs(proj[f]))
            shrink = min(1.0, MAX_STEP / max(longest, 1e-300))
            for j in range(n_comp):
                trial[j] = lnt[j]
            moved = 0.0
            for f in range(nf):
                j = free[f]
                v = min(max(lnt[j] + shrink * proj[f], lnlo[j]), lnhi[j])
                moved = max(moved, abs(v - lnt[j]))
                trial[j] = v
            if moved < 1e-12:
                converged = True
                break
            new = evaluate(prob, trial, t_cols, t_dcols, t_coef, gram, rhs, mat, vec, work,
                           sub_idx)  # fmt: skip
            evaluations += 1
            # gain ratio of the step taken (after the length cap and the bounds)
            pr = 0.0
            for f in range(nf):
                df = trial[free[f]] - lnt[free[f]]
                pr += 2.0 * df * grad[f]
                for g2 in range(nf):
                    pr -= df * hess[f, g2] * (trial[free[g2]] - lnt[free[g2]])
            rho = (cost - new) / pr if pr > 0.0 else 0.0
            if new <= cost:
                rel = (cost - new) / max(cost, 1e-300)
                prev_g0 = 0.0
                for j in range(n_comp):
                    prev_d[j] = trial[j] - lnt[j]
                for f in range(nf):
                    prev_g0 += grad[f] * prev_d[free[f]]
                has_prev = True
                for j in range(n_comp):
                    lnt[j] = trial[j]
                # accept the trial point: its areas, columns and derivatives swap in
                coef, t_coef = t_coef, coef
                cols, t_cols = t_cols, cols
                dcols, t_dcols = t_dcols, dcols
                cost = new
                # damping update of Nielsen (1999, IMM-REP-1999-05): less where the
                # quadratic model predicted the gain well
                d = 2.0 * rho - 1.0
                lam = max(lam * max(1.0 / 3.0, 1.0 - d * d * d), 1e-9)
                nu = 2.0
                improved = True
                if rel < 1e-11 or moved < 1e-9:
                    converged = True
                if cost >= best_final:
                    # no better than the best minimum and next to it: its basin, stop here
                    same = True
                    for f in range(nf):
                        if abs(lnt[free[f]] - best_lnt[free[f]]) > SAME_BASIN:
                            same = False
                    if same:
                        converged = True
                break
            lam *= nu
            nu *= 2.0
            if lam > 1e12:
                break
        if abandon:
            break
        if not improved and not converged:
            converged = True  # no descent possible from here: a (local) minimum
        if it >= 4 and cost > 1.5 * best_final + 10.0:
            break  # heading for a basin far worse than one already found: abandon
    return cost, converged, evaluations
