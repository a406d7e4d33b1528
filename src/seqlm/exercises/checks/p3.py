"""P3: gradient norms through time (5.3), spectral radius, decay-rate fit, the experiment."""
from __future__ import annotations

import math

import numpy as np

from seqlm.analysis.theory import fit_decay_rate, sigma_max, spectral_radius
from seqlm.exercises.grading.cases import Case, Fail, Mistake, Tol, compare, get_key
from seqlm.reference import RNN, scale_to_spectral_radius

TOL = Tol(1e-12, 1e-8)
TOL_RATE = Tol(1e-9, 1e-7)

H_NORMS = "eq. (5.3): ∂L/∂h_{t-1} = ∂L/∂h_t diag(1 − h_t²) W_hh, one step at a time back from h_T"
H_N_DIAG = ("eq. (5.3): each step back multiplies by diag(1 − h_t²) before W_hh; your norms match "
            "the product of W_hh alone")
H_N_TRANSPOSE = ("eq. (5.3): the gradient is a row vector, ∂L/∂h_t diag(1 − h_t²) W_hh; your norms "
                 "match W_hh transposed")
H_N_ORDER = "norms is indexed by the gap T − k (norms[0] = ‖∂L/∂h_T‖), not by k"
H_N_DIAG_T = "eq. (5.3): the factor of step t is diag(1 − h_t²), at the state h_t that step produced"
H_RADIUS = "the spectral radius is max |λ_i(W)| over the eigenvalues of W (complex in general)"
H_R_SIGMA = ("the spectral radius max |λ_i| is not the largest singular value σ_max (they agree only "
             "for normal matrices)")
H_R_REAL = ("the eigenvalues of a non-symmetric matrix are complex: the radius is their largest "
            "modulus |λ|, not their largest real part")
H_FIT = "the decay rate is the slope of the least-squares line through (gap, ln ‖∂L/∂h‖)"
H_F_LOG = "the rate is per step in natural-log units: the slope of ln ‖·‖, not of log10 or log2"
H_F_SKIP = ("norms that are 0, inf or NaN (or ≤ 1e-300, underflowed) have no logarithm: leave them "
            "out of the fit")
H_F_LINEAR = "exponential decay is a straight line of ln ‖·‖ against the gap: fit ln ‖·‖, not ‖·‖"
H_EXPERIMENT = "the experiment chains the three functions: rescale W, measure the norms, fit the gaps 1..T"
NORMS, RADIUS, FIT = "gradient norms, a long sequence", "spectral radius, a non-symmetric W", "decay rate, a clean exponential"


def _truth(xs, W_xh, W_hh, b_h, g_T):
    """norms[gap] from the reference BPTT: the loss gradient enters at h_T only."""
    ref = RNN({"W_hh": W_hh, "W_xh": W_xh, "b_h": b_h})
    hs, cache = ref.forward(xs[:, None, :])
    g = ref.backward(np.zeros_like(hs), cache, g_T[None])
    return np.linalg.norm(g.dh[:, 0], axis=-1)[::-1].copy(), cache["h"][:, 0]


def _mistaken(W_hh, h, g_T, *, diag=True, transpose=False, diag_t=True):
    T = len(h) - 1
    g, out = g_T.copy(), [np.linalg.norm(g_T)]
    for gap in range(1, T + 1):
        t = T - gap + 1
        d = (1 - (h[t] if diag_t else h[t - 1]) ** 2) if diag else 1.0
        g = (g * d) @ (W_hh.T if transpose else W_hh)
        out.append(np.linalg.norm(g))
    return np.array(out)


def _problem(rng, T, rho=None):
    I, H = int(rng.integers(1, 5)), int(rng.integers(3, 9))
    W = rng.normal(0, 1 / math.sqrt(H), (H, H))
    W_hh = W if rho is None else scale_to_spectral_radius(W, rho)
    return (rng.normal(size=(T, I)), rng.normal(0, 1 / math.sqrt(I), (H, I)), W_hh,
            rng.normal(0, 0.2, H), rng.normal(size=H))


def _norms_case(T):
    def run(ctx):
        xs, W_xh, W_hh, b_h, g_T = _problem(ctx.rng, T or int(ctx.rng.integers(20, 40)), 0.9)
        want, h = _truth(xs, W_xh, W_hh, b_h, g_T)
        got = ctx.fn("gradient_norms")(xs.copy(), W_xh.copy(), W_hh.copy(), b_h.copy(), g_T.copy())
        mistakes = [Mistake(lambda: _mistaken(W_hh, h, g_T, diag=False), H_N_DIAG),
                    Mistake(lambda: _mistaken(W_hh, h, g_T, transpose=True), H_N_TRANSPOSE),
                    Mistake(lambda: _mistaken(W_hh, h, g_T, diag_t=False), H_N_DIAG_T),
                    Mistake(want[::-1], H_N_ORDER)]
        err = compare(got, want, "norms", TOL, H_NORMS, mistakes)
        return f"T={len(xs)}, H={len(W_hh)}: norms[T] / norms[0] = {want[-1] / want[0]:.3g}; max |Δ| = {err:.2g}"
    return run


def _radius_case(ctx):
    H = int(ctx.rng.integers(4, 9))
    W = ctx.rng.normal(size=(H, H))
    rho = float(ctx.rng.uniform(0.3, 2.0))
    got = ctx.fn("scale_to_spectral_radius")(W.copy(), rho)
    want = scale_to_spectral_radius(W, rho)
    lam = np.linalg.eigvals(W)
    mistakes = [Mistake(lambda: W * rho / sigma_max(W), H_R_SIGMA),
                Mistake(lambda: W * rho / np.max(lam.real), H_R_REAL),
                Mistake(lambda: W * rho / np.linalg.norm(W), H_R_SIGMA)]
    err = compare(got, want, "W rescaled", TOL, H_RADIUS, mistakes)
    return (f"H={H}, ρ={rho:.3f}: spectral radius {spectral_radius(np.asarray(got)):.6f} "
            f"(σ_max {sigma_max(np.asarray(got)):.3f}); max |Δ| = {err:.2g}")


def _fit_case(dirty):
    def run(ctx):
        rng = ctx.rng
        n = int(rng.integers(8, 30))
        gaps = np.arange(1, n + 1, dtype=np.float64)
        rate = float(rng.uniform(-1.5, -0.05))
        norms = np.exp(0.3 + rate * gaps + (rng.normal(0, 0.2, n) if dirty else 0.0))
        if dirty:
            norms[rng.choice(n, 3, replace=False)] = (0.0, np.inf, 1e-320)
        got = ctx.fn("fit_decay_rate")(gaps.copy(), norms.copy())
        want = fit_decay_rate(gaps, norms).rate
        with np.errstate(all="ignore"):
            keep = np.isfinite(norms) & (norms > 1e-300)
            mistakes = [Mistake(want / math.log(10), H_F_LOG), Mistake(want / math.log(2), H_F_LOG),
                        Mistake(lambda: np.polyfit(gaps[keep], norms[keep], 1)[0], H_F_LINEAR),
                        Mistake(lambda: np.polyfit(gaps, np.log(norms), 1)[0], H_F_SKIP)]
        if not isinstance(got, (float, int, np.floating)) or isinstance(got, bool):
            raise Fail(f"fit_decay_rate returned a {type(got).__name__}, expected a float", H_FIT)
        err = compare(np.float64(got), np.float64(want), "rate", TOL_RATE,
                      H_F_SKIP if dirty else H_FIT, mistakes)
        return f"{n} points{' (3 of them 0, inf, 1e-320)' if dirty else ''}: rate {want:.4f} per step; |Δ| = {err:.2g}"
    return run


def _experiment_case(ctx):
    xs, W_xh, W, b_h, g_T = _problem(ctx.rng, 60)
    radii = (0.5, 1.5)
    got = ctx.fn("vanishing_experiment")(xs.copy(), W_xh.copy(), W.copy(), b_h.copy(), g_T.copy(), radii)
    parts, errs = [], []
    for rho in radii:
        want, _ = _truth(xs, W_xh, scale_to_spectral_radius(W, rho), b_h, g_T)
        gaps = np.arange(want.size)
        rate = fit_decay_rate(gaps[1:], want[1:]).rate
        entry = get_key(got, rho, "vanishing_experiment")
        errs.append(compare(get_key(entry, "norms", f"vanishing_experiment[{rho}]"), want,
                            f"[{rho}]['norms']", TOL, H_EXPERIMENT))
        errs.append(compare(np.float64(get_key(entry, "rate", f"vanishing_experiment[{rho}]")),
                            np.float64(rate), f"[{rho}]['rate']", TOL_RATE, H_EXPERIMENT,
                            [Mistake(lambda w=want: fit_decay_rate(gaps, w).rate, H_EXPERIMENT)]))
        parts.append(f"ρ={rho}: rate {rate:+.3f}/step (×{math.exp(rate):.3f})")
    return f"T=60, H={len(W)}: " + ", ".join(parts) + f"; max |Δ| = {max(errs):.2g}"


CASES = [
    Case("gradient norms, T = 1", _norms_case(1), H_NORMS, str(TOL)),
    Case(NORMS, _norms_case(0), H_NORMS, str(TOL)),
    Case(RADIUS, _radius_case, H_RADIUS, str(TOL)),
    Case(FIT, _fit_case(False), H_FIT, str(TOL_RATE)),
    Case("decay rate, noise and unusable points", _fit_case(True), H_F_SKIP, str(TOL_RATE)),
    Case("the experiment: ρ = 0.5 and 1.5, T = 60", _experiment_case, H_EXPERIMENT, str(TOL),
         (NORMS, RADIUS, FIT)),
]
