"""P3: gradient norms through time (5.3), spectral radius, decay-rate fit, the experiment."""
from __future__ import annotations

import math

import numpy as np

from seqlm.analysis.theory import fit_decay_rate, sigma_max, spectral_radius
from seqlm.exercises.grading.cases import Case, Fail, Mistake, Tol, compare, get_key
from seqlm.reference import RNN, scale_to_spectral_radius

TOL = Tol(1e-12, 1e-8)
TOL_RATE = Tol(1e-9, 1e-7)

EQ_NORMS = "eq. (5.3), ∂L/∂h_{t-1} = ∂L/∂h_t diag(1 − h_t²) W_hh, from h_T back (norms indexed by the gap)"
EQ_RADIUS = "the spectral radius ρ(W) = max |λ_i(W)| over the eigenvalues of W"
EQ_FIT = "the least-squares slope of ln ‖∂L/∂h‖ against the gap"
EQ_EXPERIMENT = "the three functions chained: rescale W, measure the norms, fit the gaps 1..T"
H_N_DIAG = ("eq. (5.3): your norms are what the product of W_hh alone gives, without the factor "
            "diag(1 − h_t²) at each step back")
H_N_TRANSPOSE = ("eq. (5.3): your norms are what W_hh transposed gives (the gradient is a row vector, "
                 "∂L/∂h_t diag(1 − h_t²) W_hh)")
H_N_ORDER = "your norms are in reverse order: what indexing by k gives, where norms[0] = ‖∂L/∂h_T‖ (gap 0)"
H_N_DIAG_T = ("eq. (5.3): your norms are what the tanh derivative at h_{t-1} gives, where step t's factor "
              "is diag(1 − h_t²)")
H_R_SIGMA = ("your W is what scaling by the largest singular value σ_max (or a norm) gives — a different "
             "number from max |λ_i| unless W is normal")
H_R_REAL = ("your W is what scaling by the largest real part of the eigenvalues gives, where the radius is "
            "their largest modulus |λ| (they are complex in general)")
H_F_LOG = "your rate is what the slope of log10 or log2 ‖·‖ gives, where the rate is per step in ln units"
H_F_SKIP = ("your rate is what a fit that keeps the 0, inf or underflowed norms gives (they have no "
            "finite logarithm)")
H_E_GAP0 = "your rate is what a fit that includes gap 0 gives, where the experiment fits the gaps 1..T"
H_F_LINEAR = "your rate is what fitting ‖·‖ itself gives, where exponential decay is a straight line of ln ‖·‖"
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
        got = ctx.fn("gradient_norms", xs, W_xh, W_hh, b_h, g_T)
        mistakes = [Mistake(lambda: _mistaken(W_hh, h, g_T, diag=False), H_N_DIAG),
                    Mistake(lambda: _mistaken(W_hh, h, g_T, transpose=True), H_N_TRANSPOSE),
                    Mistake(lambda: _mistaken(W_hh, h, g_T, diag_t=False), H_N_DIAG_T),
                    Mistake(want[::-1], H_N_ORDER)]
        err = compare(got, want, "norms", TOL, EQ_NORMS, mistakes)
        return f"T={len(xs)}, H={len(W_hh)}: norms[T] / norms[0] = {want[-1] / want[0]:.3g}; max |Δ| = {err:.2g}"
    return run


def _radius_case(ctx):
    H = int(ctx.rng.integers(4, 9))
    W = ctx.rng.normal(size=(H, H))
    rho = float(ctx.rng.uniform(0.3, 2.0))
    got = ctx.fn("scale_to_spectral_radius", W, rho)
    want = scale_to_spectral_radius(W, rho)
    lam = np.linalg.eigvals(W)
    mistakes = [Mistake(lambda: W * rho / sigma_max(W), H_R_SIGMA),
                Mistake(lambda: W * rho / np.max(lam.real), H_R_REAL),
                Mistake(lambda: W * rho / np.linalg.norm(W), H_R_SIGMA)]
    err = compare(got, want, "W rescaled", TOL, EQ_RADIUS, mistakes)
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
        got = ctx.fn("fit_decay_rate", gaps, norms)
        want = fit_decay_rate(gaps, norms).rate
        with np.errstate(all="ignore"):
            keep = np.isfinite(norms) & (norms > 1e-300)
            mistakes = [Mistake(want / math.log(10), H_F_LOG), Mistake(want / math.log(2), H_F_LOG),
                        Mistake(lambda: np.polyfit(gaps[keep], norms[keep], 1)[0], H_F_LINEAR),
                        Mistake(lambda: np.polyfit(gaps, np.log(norms), 1)[0], H_F_SKIP)]
        if not isinstance(got, (float, int, np.floating)) or isinstance(got, bool):
            raise Fail(f"fit_decay_rate returned {getattr(got, 'name', 'a ' + type(got).__name__)}, expected a "
                       "float", "the docstring says what each function returns, in which type")
        err = compare(np.float64(got), np.float64(want), "rate", TOL_RATE, EQ_FIT, mistakes)
        return f"{n} points{' (3 of them 0, inf, 1e-320)' if dirty else ''}: rate {want:.4f} per step; |Δ| = {err:.2g}"
    return run


def _experiment_case(ctx):
    xs, W_xh, W, b_h, g_T = _problem(ctx.rng, 60)
    radii = (0.5, 1.5)
    got = ctx.fn("vanishing_experiment", xs, W_xh, W, b_h, g_T, radii)
    parts, errs = [], []
    for rho in radii:
        want, _ = _truth(xs, W_xh, scale_to_spectral_radius(W, rho), b_h, g_T)
        gaps = np.arange(want.size)
        rate = fit_decay_rate(gaps[1:], want[1:]).rate
        entry = get_key(got, rho, "vanishing_experiment")
        errs.append(compare(get_key(entry, "norms", f"vanishing_experiment[{rho}]"), want,
                            f"[{rho}]['norms']", TOL, EQ_EXPERIMENT))
        errs.append(compare(np.float64(get_key(entry, "rate", f"vanishing_experiment[{rho}]")),
                            np.float64(rate), f"[{rho}]['rate']", TOL_RATE, EQ_EXPERIMENT,
                            [Mistake(lambda w=want: fit_decay_rate(gaps, w).rate, H_E_GAP0)]))
        parts.append(f"ρ={rho}: rate {rate:+.3f}/step (×{math.exp(rate):.3f})")
    return f"T=60, H={len(W)}: " + ", ".join(parts) + f"; max |Δ| = {max(errs):.2g}"


CASES = [
    Case("gradient norms, T = 1", _norms_case(1), EQ_NORMS, str(TOL)),
    Case(NORMS, _norms_case(0), EQ_NORMS, str(TOL), points=2),
    Case(RADIUS, _radius_case, EQ_RADIUS, str(TOL)),
    Case(FIT, _fit_case(False), EQ_FIT, str(TOL_RATE)),
    Case("decay rate, noise and unusable points", _fit_case(True), EQ_FIT, str(TOL_RATE)),
    Case("the experiment: ρ = 0.5 and 1.5, T = 60", _experiment_case, EQ_EXPERIMENT, str(TOL),
         (NORMS, RADIUS, FIT), points=2),
]
