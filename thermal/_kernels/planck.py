"""Planck-function kernels: scalar float64 functions and the loops the public API calls.

The scalar functions (``b_lambda``, ``b_lambda_dt``, ...) are what other kernels (fits, cooling
models) call inside their own loops. They assume valid input (wavelength > 0, T > 0); the loops
below validate and count bad values so that the Python wrappers can raise one clear error.

Numerics (docs/physics.md, "Numerical behaviour"): ``pref / (exp(x) - 1)`` is evaluated as

* ``pref / expm1(x)`` for x < 0.5 (Rayleigh-Jeans side: no cancellation),
* ``pref * e / (1 - e)`` with ``e = exp(-x)`` for 0.5 <= x < 700 (one ``exp``, no overflow),
* ``exp(log(pref) - x)`` beyond, so the result stays accurate down to the smallest normal
  float64 and then becomes subnormal and finally an exact 0, never inf, NaN or a warning.
"""

import math

import numpy as np

from thermal._kernels import jit, kernel
from thermal._kernels.exp import exp_reduced
from thermal.constants import (
    C1,
    C1_WAVENUMBER,
    C2,
    C2_WAVENUMBER,
    PHOTON_ENERGY_UM,
)

_X_SMALL = 0.5
_X_TAIL = 700.0


@jit
def bose(pref, x):
    """``pref / (exp(x) - 1)`` for pref > 0, x > 0, exact from x -> 0 to underflow."""
    if x < _X_SMALL:
        return pref / math.expm1(x)
    if x < _X_TAIL:
        e = exp_reduced(-x)
        return pref * e / (1.0 - e)
    return math.exp(math.log(pref) - x)


@jit
def b_lambda(lam, t):
    """Spectral radiance B_lambda [W m-2 sr-1 um-1] at wavelength lam [um], temperature t [K]."""
    lam2 = lam * lam
    return bose(C1 / (lam2 * lam2 * lam), C2 / (lam * t))


@jit(inline="always")
def pow4(t):
    """``t**4`` as ``(t * t) * (t * t)``, in the caller's float flags.

    Kernels never apply ``**`` to floats: numba compiles one shared implementation of it per
    process, with the ``fastmath`` flags of whichever kernel used it first, so a kernel's last
    bits would depend on what else ran before it (a fit after a cooling model and the same
    fit alone gave different results)."""
    t2 = t * t
    return t2 * t2


@jit
def b_lambda_dt(lam, t):
    """(B_lambda, dB_lambda/dT) [W m-2 sr-1 um-1, W m-2 sr-1 um-1 K-1]."""
    x = C2 / (lam * t)
    lam2 = lam * lam
    pref = C1 / (lam2 * lam2 * lam)
    b = bose(pref, x)
    # dB/dT = B (x / T) / (1 - exp(-x)); 1 - exp(-x) = -expm1(-x) stays exact for small x.
    # In the deep tail B may be subnormal while dB/dT is not: keep x / T inside the exponent.
    if x < _X_TAIL:
        return b, b * (x / t) / (-math.expm1(-x))
    return b, bose(pref * (x / t), x)


@jit
def b_wavenumber(nu, t):
    """Spectral radiance per wavenumber [W m-2 sr-1 (cm-1)-1] at nu [cm-1], t [K]."""
    return bose(C1_WAVENUMBER * nu * nu * nu, C2_WAVENUMBER * nu / t)


@jit
def photon_lambda(lam, t):
    """Photon spectral radiance [photons s-1 m-2 sr-1 um-1]: B_lambda lam / (h c)."""
    lam2 = lam * lam
    return bose(C1 / (lam2 * lam2 * PHOTON_ENERGY_UM), C2 / (lam * t))


@jit
def t_brightness(lam, radiance):
    """Exact inverse of :func:`b_lambda`: temperature [K] for radiance >= 0 at lam [um]."""
    if radiance == 0.0:
        return 0.0
    lam2 = lam * lam
    q = C1 / (lam2 * lam2 * lam)
    # x = ln(1 + q / L); for q / L beyond 4e15 (or beyond the float range) it is ln q - ln L
    ln_ratio = math.log(q) - math.log(radiance)
    x = ln_ratio if ln_ratio > 36.0 else math.log1p(q / radiance)
    return C2 / (lam * x)


# Function codes of the elementwise loops (one body, so validation lives in one place).
B_LAMBDA = 0
B_WAVENUMBER = 1
PHOTON = 2
DB_DT = 3
T_BRIGHTNESS = 4


@jit
def _evaluate(code, a, b):
    if code == B_LAMBDA:
        return b_lambda(a, b)
    if code == B_WAVENUMBER:
        return b_wavenumber(a, b)
    if code == PHOTON:
        return photon_lambda(a, b)
    if code == DB_DT:
        return b_lambda_dt(a, b)[1]
    return t_brightness(a, b)


@jit
def _fast_path(code, a, b):
    """(value, ok): branch-free evaluation, exact where ok (valid input, 0.5 <= x < 700).

    Two divisions per value (the slowest vector instruction here): r = 1 / (a b) gives both
    x = c2 r and 1 / lambda = b r, and d = 1 / (1 - e) serves B and dB/dT.
    """
    if code == B_WAVENUMBER:
        pref = C1_WAVENUMBER * a * a * a
        r = 1.0 / b
        x = C2_WAVENUMBER * a * r
        inv_b = r
    else:
        r = 1.0 / (a * b)
        x = C2 * r
        inv_a = b * r
        inv_a2 = inv_a * inv_a
        pref = C1 * (inv_a2 * inv_a2 * inv_a)
        inv_b = a * r
    e = exp_reduced(-min(max(x, _X_SMALL), _X_TAIL))
    d = 1.0 / (1.0 - e)
    v = pref * e * d
    if code == PHOTON:
        v = v * a * (1.0 / PHOTON_ENERGY_UM)
    elif code == DB_DT:
        v = v * (x * inv_b) * d
    # a > 0 and x in range imply valid input: NaN, b <= 0 or an infinity gives x NaN, <= 0 or
    # inf (for wavenumber, x = c2 a / b), all outside the range
    ok = (a > 0.0) & (x >= _X_SMALL) & (x < _X_TAIL)
    return v, ok


@kernel(rows="a", inputs=("a", "b"))
def elementwise_fast(first, last, code, a, b, out):
    """Branch-free, SIMD-friendly pass of the forward functions over ``first`` to ``last - 1``;
    returns the count of values it could not settle (invalid input, NaN or x outside
    [0.5, 700)), left for :func:`elementwise`."""
    unsettled = 0
    for i in range(first, last):
        v, ok = _fast_path(code, a[i], b[i])
        out[i] = v
        unsettled += not ok
    return unsettled


@kernel(rows="a", inputs=("a", "b"))
def elementwise(first, last, code, a, b, out, unsettled_only):
    """out[i] = f(a[i], b[i]) for the function ``code``; NaN in gives NaN out.

    ``a`` must be finite and > 0; ``b`` must be finite and > 0 (>= 0 for ``T_BRIGHTNESS``).
    With ``unsettled_only`` the values :func:`elementwise_fast` settled are left as they are.
    Returns the counts of invalid ``a`` and ``b`` (those outputs are NaN).
    """
    bad_a = 0
    bad_b = 0
    b_min_open = code != T_BRIGHTNESS
    for i in range(first, last):
        ai = a[i]
        bi = b[i]
        if unsettled_only and _fast_path(code, ai, bi)[1]:
            continue
        if ai != ai or bi != bi:
            out[i] = np.nan
        elif not (0.0 < ai < np.inf):
            bad_a += 1
            out[i] = np.nan
        elif not (bi < np.inf and (bi > 0.0 or (bi == 0.0 and not b_min_open))):
            bad_b += 1
            out[i] = np.nan
        else:
            out[i] = _evaluate(code, ai, bi)
    return bad_a, bad_b


@jit
def band_mean(nodes, weights, t):
    """Response-weighted mean B_lambda over quadrature ``nodes`` [um] (weights sum to 1)."""
    s = 0.0
    for k in range(nodes.size):
        s += weights[k] * b_lambda(nodes[k], t)
    return s


@jit
def band_mean_dt(nodes, weights, t):
    """(band mean of B_lambda, its derivative in T)."""
    s = 0.0
    d = 0.0
    for k in range(nodes.size):
        bk, dk = b_lambda_dt(nodes[k], t)
        s += weights[k] * bk
        d += weights[k] * dk
    return s, d


@jit
def band_inverse(nodes, weights, centre, radiance):
    """Temperature [K] whose band-mean radiance equals ``radiance`` (Newton in ln T, bracketed)."""
    if radiance == 0.0:
        return 0.0
    t = t_brightness(centre, radiance)
    lo = 0.0
    hi = np.inf
    target = math.log(radiance)
    for _ in range(100):
        s, d = band_mean_dt(nodes, weights, t)
        if s <= 0.0:  # underflow: far too cold, move up
            lo = t
            t = 2.0 * t if hi == np.inf else 0.5 * (lo + hi)
            continue
        f = math.log(s) - target
        if f > 0.0:
            hi = t
        else:
            lo = t
        step = f * s / (d * t)  # Newton step in ln T
        t_new = t * math.exp(-step)
        if not (lo < t_new < hi):
            t_new = 2.0 * t if hi == np.inf else 0.5 * (lo + hi)
        if abs(t_new - t) <= 1e-14 * t:
            return t_new
        t = t_new
    return t


@kernel(rows="values", inputs=("nodes", "weights", "values"))
def band_loop(first, last, nodes, weights, centre, inverse, values, out):
    """Band mean radiance of each temperature (or, with ``inverse``, the inverse).

    Returns the count of invalid values (T <= 0 or radiance < 0, or non-finite); NaN gives NaN.
    """
    bad = 0
    for i in range(first, last):
        v = values[i]
        if v != v:
            out[i] = np.nan
        elif not (v < np.inf and (v > 0.0 or (inverse and v == 0.0))):
            bad += 1
            out[i] = np.nan
        elif inverse:
            out[i] = band_inverse(nodes, weights, centre, v)
        else:
            out[i] = band_mean(nodes, weights, v)
    return bad
