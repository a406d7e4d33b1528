"""The chapter's ten exercises: what each is, what it serves, and where its texts are.

Statements and worked solutions are Markdown files (LaTeX math) in
``seqlm/exercises/text/``; starter files in ``seqlm/exercises/starters/``.
Both are package data, read through :mod:`importlib.resources`.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from seqlm.errors import SeqlmError

OBJECTIVES = {
    1: "Describe the forward pass of a vanilla RNN and explain how it processes sequences of "
       "variable length through shared parameters and recurrent hidden states",
    2: "Diagnose the vanishing gradient problem mathematically by analyzing the gradient flow "
       "through time and explain why it prevents learning long-range dependencies",
    3: "Trace the information flow through an LSTM cell, identifying how the forget, input, and "
       "output gates regulate the cell state to preserve gradients over long sequences",
    4: "Train an RNN-based neural language model and compare its perplexity against n-gram "
       "baselines on the same corpus",
}


@dataclass(frozen=True)
class Exercise:
    """One exercise. Programming ones carry their starter file and grading limits."""

    id: str
    kind: str  # "theory" | "programming"
    title: str
    objective: int
    sections: tuple[str, ...]
    minutes: int
    summary: str
    starter: str | None = None  # file name under starters/
    seconds: float = 0.0  # default wall-time limit of one submission (all its cases)
    memory_mb: int = 0  # default address-space limit of the grading process

    def to_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "title": self.title, "objective": self.objective,
                "objective_text": OBJECTIVES[self.objective], "sections": list(self.sections),
                "minutes": self.minutes, "summary": self.summary, "starter": self.starter,
                "time_limit_s": self.seconds or None, "memory_limit_mb": self.memory_mb or None}


def _p(id, title, objective, sections, minutes, summary, starter, seconds, memory_mb):
    return Exercise(id, "programming", title, objective, sections, minutes, summary, starter,
                    seconds, memory_mb)


EXERCISES: dict[str, Exercise] = {e.id: e for e in [
    Exercise("T1", "theory", "The BPTT gradient and its bound", 2, ("5.2.1", "5.2.2"), 40,
             "derive eq. 5.3 and ‖∂L/∂h_k‖ ≤ ‖∂L/∂h_T‖ (γ σ_max(W_hh))^(T−k)"),
    Exercise("T2", "theory", "The LSTM cell-state path", 3, ("5.3.1", "5.3.5"), 40,
             "∂c_t/∂c_{t−1} = diag(f_t) plus the terms through h_{t−1}; why no W_hh product"),
    Exercise("T3", "theory", "Counting parameters: RNN, LSTM, GRU", 3, ("5.1.2", "5.3", "5.4"), 25,
             "parameters as functions of X and H; why a GRU has 3/4 of an LSTM's; PyTorch's two biases"),
    Exercise("T4", "theory", "Perplexity and what makes it comparable", 4, ("5.5.3",), 30,
             "exp(cross-entropy), bits per token, the uniform model, <eos>/<unk>/sentence vs stream"),
    _p("P1", "The vanilla RNN forward pass", 1, ("5.1",), 45,
       "eqs. 5.1–5.2 over a batch of variable-length sequences, in NumPy",
       "p1_rnn_forward.py", 60, 2048),
    _p("P2", "BPTT by hand", 2, ("5.2.1",), 60,
       "the backward pass of the vanilla RNN, against finite differences and the reference",
       "p2_bptt.py", 60, 2048),
    _p("P3", "The vanishing-gradient experiment", 2, ("5.2.2", "5.2.3"), 45,
       "‖∂L/∂h_k‖ against T−k for two spectral radii, and the fitted decay rate",
       "p3_vanishing.py", 90, 2048),
    _p("P4", "An LSTM cell, forward and backward", 3, ("5.3",), 75,
       "eqs. 5.4–5.8 for one step and their gradients, in NumPy",
       "p4_lstm_cell.py", 60, 2048),
    _p("P5", "A GRU cell, and LSTM vs GRU on a long-lag task", 3, ("5.4",), 90,
       "eq. 5.11 exactly as written, in PyTorch; both cells trained on the adding problem",
       "p5_gru.py", 180, 4096),
    _p("P6", "Kneser-Ney vs an LSTM language model", 4, ("5.5",), 120,
       "a Kneser-Ney trigram and a small LSTM LM on the synthetic corpus, compared by perplexity",
       "p6_lm_comparison.py", 180, 4096),
]}


def get(exercise_id: str) -> Exercise:
    """The exercise ``exercise_id`` (case-insensitive), or a one-line SeqlmError."""
    ex = EXERCISES.get(str(exercise_id).strip().upper())
    if ex is None:
        raise SeqlmError(f"unknown exercise {exercise_id!r}; the exercises are "
                         f"{', '.join(EXERCISES)} (seqlm exercises list)")
    return ex


def read_text(*parts: str) -> str:
    """A package-data text file under ``seqlm/exercises/``."""
    node = resources.files("seqlm.exercises")
    for part in parts:
        node = node / part
    return node.read_text(encoding="utf-8")


def header(ex: Exercise) -> str:
    """The Markdown lines every statement starts with."""
    sections = ", ".join(ex.sections)
    return (f"# {ex.id}. {ex.title}\n\n"
            f"*{ex.kind.capitalize()} exercise · Section {sections} · learning objective {ex.objective}: "
            f"{OBJECTIVES[ex.objective]} · about {ex.minutes} minutes*\n\n")


def statement(exercise_id: str) -> str:
    """The statement of an exercise as Markdown (with LaTeX math)."""
    ex = get(exercise_id)
    return header(ex) + read_text("text", f"{ex.id}.md")


def solution(exercise_id: str) -> str:
    """The worked solution of a theory exercise, as Markdown."""
    ex = get(exercise_id)
    if ex.kind != "theory":
        raise SeqlmError(f"{ex.id} is a programming exercise: `seqlm exercises check {ex.id} FILE` "
                         "grades a solution; its reference solution is not shown")
    return f"# {ex.id}. {ex.title}: worked solution\n\n" + read_text("text", f"{ex.id}.solution.md")


def starter_text(exercise_id: str) -> tuple[str, str]:
    """(file name, text) of a programming exercise's starter."""
    ex = get(exercise_id)
    if ex.starter is None:
        raise SeqlmError(f"{ex.id} is a theory exercise: it has no starter file "
                         f"(`seqlm exercises show {ex.id}`, then `seqlm exercises verify {ex.id}`)")
    return ex.starter, read_text("starters", ex.starter)
