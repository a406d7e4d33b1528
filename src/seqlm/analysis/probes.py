"""Linear probes (diagnostic classifiers): what a trained cell's state holds, linearly.

For every layer, state (h_t; c_t too for the LSTM) and feature of the synthetic
language (:mod:`seqlm.data.synthetic_features`: topic, number of the waiting
subject, number of a verb that may come next, pending verbs), a multinomial
logistic regression is fitted on one held-out split (default ``valid``) and
scored on another (``test``): its accuracy is set against the **majority
baseline** (always the fit split's most frequent class). A probe far above the
baseline says the feature is linearly readable from the state (Alain & Bengio
2016; Hupkes et al. 2018's diagnostic classifiers).

**Single units.** For every unit alone, a one-dimensional linear classifier —
linear discriminant analysis with a shared variance, which in 1-D *is* a
linear classifier, fitted in closed form — is scored the same way; the unit
with the best held-out accuracy is named, with its mean activation per class
(Karpathy et al. 2015's "interpretable cells", Linzen et al. 2016's number).

**Control.** The same probes on the same model before training (its initial
weights: ``build_model(config, seed)``, what the trainer starts from) tell how
much a random recurrent map already exposes — a random LSTM's c_t is a leaky
sum of the input embeddings, from which "which nouns were read" (the topic) is
nearly linear — so that a trained probe's accuracy can be read as learnt
(Hewitt & Liang 2019 make the same point with control tasks).

Determinism: features are standardised with the fit split's statistics, the
regression is a full-batch L-BFGS (float32) from zero weights: no randomness.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from seqlm.errors import SeqlmError
from seqlm.reference.layout import with_variant

L2 = 1e-4  # ridge on the (standardised) weights: keeps separable classes finite
# L-BFGS iterations (all of a model's probes at once). 60 reach the accuracies of 200
# to within 0.0003 on the demo's LSTM, in a third of the time.
MAX_ITER = 60


@dataclass
class ProbeScore:
    """One (layer, state, feature) probe, scored on the evaluation split."""

    feature: str
    layer: int  # 1 = bottom
    state: str  # "h" or "c"
    classes: tuple[str, ...]
    accuracy: float  # the linear probe over all units
    majority: float  # always the fit split's most frequent class
    majority_class: str
    unit: int  # the single unit that separates the classes best (0-based)
    unit_accuracy: float
    unit_means: dict[str, float]  # that unit's mean activation per class (evaluation split)
    n_fit: int
    n_eval: int
    # Number features only: the probe on the attractor tokens (the last noun read has the
    # other number; seqlm.data.synthetic_features), and how many there are.
    attractor_accuracy: float | None = None
    n_attractors: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["classes"] = list(self.classes)
        return d


@dataclass
class ProbeResult:
    """Every probe of one model (and of its untrained control, if run)."""

    name: str  # the model's name, e.g. "lstm"
    cell: str
    scores: list[ProbeScore]
    control: list[ProbeScore] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    variant: str | None = None  # the GRU's ("cho" or "reset_after"); None for other cells

    def to_dict(self) -> dict:
        return {"name": self.name, "cell": self.cell, "variant": self.variant, "settings": self.settings,
                "scores": [s.to_dict() for s in self.scores],
                "control": [s.to_dict() for s in self.control]}


def standardise(fit: np.ndarray, other: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Both (N, D), centred and scaled by the fit split's mean and std (computed in
    float64; a dead unit, std 0, is only centred), as float32 tensors: the fit in
    float32 is 4× faster than in float64 and moves no accuracy by more than 0.0005
    (measured on the demo's LSTM)."""
    fit, other = fit.astype(np.float64), other.astype(np.float64)
    mu, sd = fit.mean(0), fit.std(0)
    sd = np.where(sd > 1e-8, sd, 1.0)
    return (torch.from_numpy((fit - mu) / sd).float(), torch.from_numpy((other - mu) / sd).float())


def fit_softmax(problems: list[tuple[torch.Tensor, torch.Tensor, int]], l2: float = L2,
                max_iter: int = MAX_ITER) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Multinomial logistic regressions, one per ``(X (N, D), y (N,), K)``: ``W (D, K),
    b (K,)`` minimising the mean cross-entropy + ``l2``·‖W‖², from zero.

    The problems share no parameter, so the sum of their losses is minimised by
    minimising each: one full-batch L-BFGS runs them all at once (a probe is
    cheap; the optimiser's per-step overhead is not). Deterministic.
    """
    Ws = [torch.zeros(X.shape[1], K, dtype=X.dtype, requires_grad=True) for X, _, K in problems]
    bs = [torch.zeros(K, dtype=X.dtype, requires_grad=True) for X, _, K in problems]
    opt = torch.optim.LBFGS([*Ws, *bs], lr=1.0, max_iter=max_iter, history_size=20,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-6, tolerance_change=1e-10)

    def closure():
        opt.zero_grad()
        loss = sum(torch.nn.functional.cross_entropy(X @ W + b, y) + l2 * (W * W).sum()
                   for (X, y, _), W, b in zip(problems, Ws, bs))
        loss.backward()
        return loss

    opt.step(closure)
    return [(W.detach(), b.detach()) for W, b in zip(Ws, bs)]


def unit_classifiers(X: np.ndarray, y: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per unit, a 1-D linear discriminant fitted on ``X (N, H)``, ``y (N,)``: class
    means ``(H, K)``, pooled variance ``(H,)`` and log priors ``(K,)`` (−inf for a
    class absent from the fit split, which is then never predicted)."""
    counts = np.bincount(y, minlength=K).astype(np.float64)
    onehot = np.zeros((y.size, K))
    onehot[np.arange(y.size), y] = 1.0
    means = (X.T @ onehot) / np.maximum(counts, 1.0)  # (H, K)
    var = ((X - (onehot @ means.T)) ** 2).mean(0)  # (H,) within-class, pooled
    with np.errstate(divide="ignore"):
        log_prior = np.log(counts / counts.sum())
    return means, np.maximum(var, 1e-12), log_prior


def unit_predict(X: np.ndarray, means: np.ndarray, var: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
    """(N, H) predicted class of every token by every unit's own discriminant."""
    # δ_k(x) = x·μ_k/σ² − μ_k²/(2σ²) + log π_k: linear in x, one line per class. One
    # (N, H) pass per class with a running argmax: an (N, H, K) array would be 5× the memory.
    X = np.asarray(X, dtype=np.float32)
    slope, offset = (means / var[:, None]).astype(np.float32), -0.5 * means ** 2 / var[:, None] + log_prior
    best = np.full(X.shape, -np.inf, dtype=np.float32)
    pred = np.zeros(X.shape, dtype=np.int64)
    for k in range(means.shape[1]):
        if not np.isfinite(log_prior[k]):  # absent from the fit split: never predicted
            continue
        score = X * slope[:, k] + offset[:, k].astype(np.float32)  # (N, H)
        better = score > best
        best = np.where(better, score, best)
        pred[better] = k
    return pred


def _score(feature: str, classes: tuple[str, ...], layer: int, state: str, Xf: torch.Tensor,
           Xe: torch.Tensor, raw_eval: np.ndarray, y_fit: np.ndarray, y_eval: np.ndarray,
           W: torch.Tensor, b: torch.Tensor, attractors: np.ndarray | None) -> ProbeScore:
    """Score one fitted probe, the majority baseline and every single unit on the
    evaluation split (``Xf``/``Xe`` standardised, ``raw_eval`` as recorded)."""
    K = len(classes)
    majority = int(np.bincount(y_fit, minlength=K).argmax())
    hit = (Xe @ W + b).argmax(1).numpy() == y_eval
    acc = float(hit.mean())
    n_attr = int(attractors.sum()) if attractors is not None else 0
    attr = float(hit[attractors].mean()) if n_attr else None
    means, var, log_prior = unit_classifiers(Xf.numpy(), y_fit, K)
    unit_acc = (unit_predict(Xe.numpy(), means, var, log_prior) == y_eval[:, None]).mean(0)  # (H,)
    best = int(unit_acc.argmax())
    col = raw_eval[:, best].astype(np.float64)
    unit_means = {classes[k]: float(col[y_eval == k].mean()) for k in range(K) if (y_eval == k).any()}
    return ProbeScore(feature, layer, state, tuple(classes), acc, float((y_eval == majority).mean()),
                      classes[majority], best, float(unit_acc[best]), unit_means,
                      int(y_fit.size), int(y_eval.size), attr, n_attr)


def probe_states(fit_states: list[dict[str, np.ndarray]], eval_states: list[dict[str, np.ndarray]],
                 fit_feats, eval_feats, features=None) -> list[ProbeScore]:
    """Every (layer, state, feature) probe: fit on the fit split, scored on the
    evaluation split. ``*_states``: per layer, name -> (N, H) (``h``, and ``c`` for
    an LSTM); ``*_feats``: ``TokenFeatures`` aligned with N."""
    names = list(features or fit_feats.classes)
    if len(fit_feats) == 0 or len(eval_feats) == 0:
        raise SeqlmError("probes: no tokens to fit or to score")
    jobs = []  # (feature, layer, state, Xf, Xe, raw eval)
    for layer, (fs, es) in enumerate(zip(fit_states, eval_states), 1):
        for state in ("h", "c"):
            if state in fs:
                Xf, Xe = standardise(fs[state], es[state])
                jobs += [(f, layer, state, Xf, Xe, es[state]) for f in names]
    fitted = fit_softmax([(Xf, torch.from_numpy(fit_feats.values[f]), len(fit_feats.classes[f]))
                          for f, _, _, Xf, _, _ in jobs])
    return [_score(f, fit_feats.classes[f], layer, state, Xf, Xe, raw, fit_feats.values[f],
                   eval_feats.values[f], W, b, eval_feats.attractors.get(f))
            for (f, layer, state, Xf, Xe, raw), (W, b) in zip(jobs, fitted)]


def record_states(model, ids: np.ndarray, mode: str = "sentence") -> list[dict[str, np.ndarray]]:
    """Per layer, ``h`` (and ``c`` for an LSTM) ``(N, H)`` at every step of ``ids``:
    step t has read w_{t-1} (the start context for the first) and predicts w_t
    (``seqlm.analysis.inspect.record``; either backend)."""
    from seqlm.analysis.inspect import record, recurrent_parts

    stack = recurrent_parts(model)[1]
    keep = ("h", "c") if stack.cell == "lstm" else ("h",)
    rec = record(model, ids, mode=mode, keep=keep, next_word=False)
    return [{k: layer[k] for k in keep} for layer in rec.layers]


def probe_model(model, corpus, name: str | None = None, fit_split: str = "valid",
                eval_split: str = "test", mode: str = "sentence", control_seed: int | None = 0,
                features=None) -> ProbeResult:
    """Probe a recurrent LM trained on the synthetic corpus ``corpus``: record its
    states over ``fit_split`` and ``eval_split``, fit on the first, score on the
    second. ``control_seed``: also probe the same architecture untrained, its
    weights drawn with this seed (``None``: no control)."""
    from seqlm.analysis.inspect import recurrent_parts
    from seqlm.data.synthetic_features import corpus_features

    if fit_split == eval_split:
        raise SeqlmError(f"fit and evaluation splits must differ (both {fit_split!r})")
    stack = recurrent_parts(model)[1]
    cell = stack.cell
    feats = {s: corpus_features(corpus, s) for s in (fit_split, eval_split)}
    ids = {s: np.asarray(corpus.split(s)) for s in (fit_split, eval_split)}

    def run(m) -> list[ProbeScore]:
        st = {s: record_states(m, ids[s], mode) for s in ids}
        return probe_states(st[fit_split], st[eval_split], feats[fit_split], feats[eval_split], features)

    control = []
    if control_seed is not None:
        from seqlm.lm.build import build_model
        control = run(build_model(model.config, seed=control_seed).eval())
    settings = {"fit_split": fit_split, "eval_split": eval_split, "mode": mode, "l2": L2,
                "max_iter": MAX_ITER, "control_seed": control_seed,
                "fit_tokens": int(ids[fit_split].size), "eval_tokens": int(ids[eval_split].size)}
    return ProbeResult(name or cell, cell, run(model), control, settings, stack.variant)


def summary_rows(results: list[ProbeResult]) -> list[dict]:
    """One row per (model, feature): the best layer/state's probe and, at the same
    layer and state, the untrained control; the best single unit of the trained
    model and of the control — the table of ``seqlm probe`` and the compare report."""
    rows = []
    for r in results:
        for f in dict.fromkeys(s.feature for s in r.scores):
            mine = [s for s in r.scores if s.feature == f]
            best = max(mine, key=lambda s: (s.accuracy, -s.layer))
            ctl = next((s for s in r.control if (s.feature, s.layer, s.state) ==
                        (f, best.layer, best.state)), None)
            unit = max(mine, key=lambda s: s.unit_accuracy)
            ctl_unit = max((s.unit_accuracy for s in r.control if s.feature == f), default=None)
            rows.append({"model": r.name, "cell": r.cell, "variant": r.variant, "feature": f, "layer": best.layer,
                         "state": best.state, "accuracy": best.accuracy, "majority": best.majority,
                         "majority_class": best.majority_class,
                         "control": ctl.accuracy if ctl else None,
                         "attractor_accuracy": best.attractor_accuracy, "n_attractors": best.n_attractors,
                         "control_attractor_accuracy": ctl.attractor_accuracy if ctl else None,
                         "unit": f"{unit.state}[{unit.layer}]#{unit.unit}",
                         "unit_accuracy": unit.unit_accuracy, "unit_means": unit.unit_means,
                         "control_unit_accuracy": ctl_unit})
    return rows


def _f(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def summary_table(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the summary (markdown and the HTML report share them)."""
    header = ["model", "feature", "majority", "probe (layer, state)", "untrained",
              "attractors: probe / untrained", "best unit", "unit acc (untrained's best)"]
    cells = [[with_variant(w["model"], w.get("variant")), w["feature"], _f(w["majority"]),
              f"{w['accuracy']:.3f} ({w['layer']}, {w['state']})", _f(w["control"]),
              "–" if w["attractor_accuracy"] is None else
              f"{w['attractor_accuracy']:.3f} / {_f(w['control_attractor_accuracy'])} "
              f"(n = {w['n_attractors']})",
              w["unit"], f"{w['unit_accuracy']:.3f} ({_f(w['control_unit_accuracy'])})"]
             for w in rows]
    return header, cells


def summary_markdown(results: list[ProbeResult]) -> str:
    """The summary table (see :func:`summary_rows`) as markdown, then each best unit's
    mean activation per class."""
    rows = summary_rows(results)
    if not rows:
        return ""
    header, cells = summary_table(rows)
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    lines += ["| " + " | ".join(c) + " |" for c in cells]
    lines += ["", "Mean activation of each best unit per class (evaluation split):", ""]
    lines += [f"- {w['model']} {w['feature']}, {w['unit']}: "
              + ", ".join(f"{k} {v:+.2f}" for k, v in w["unit_means"].items()) for w in rows]
    return "\n".join(lines) + "\n"


def scores_csv(results: list[ProbeResult]) -> str:
    """Every probe of every model (and control): one row each."""
    lines = ["model,cell,trained,feature,layer,state,accuracy,majority,attractor_accuracy,n_attractors,"
             "unit,unit_accuracy,n_fit,n_eval"]
    for r in results:
        for trained, scores in (("yes", r.scores), ("no", r.control)):
            lines += [f"{r.name},{r.cell},{trained},{s.feature},{s.layer},{s.state},{s.accuracy:.6f},"
                      f"{s.majority:.6f},{'' if s.attractor_accuracy is None else f'{s.attractor_accuracy:.6f}'},"
                      f"{s.n_attractors},{s.unit},{s.unit_accuracy:.6f},{s.n_fit},{s.n_eval}" for s in scores]
    return "\n".join(lines) + "\n"
