"""The graded cases of P1–P6, one module each (``CASES``), run in the grader's process; the learner's code runs in its own (see grading/grader.py).

Ground truth always comes from seqlm itself: the NumPy reference with its
hand-written BPTT (``seqlm.reference``), the gradient lab's theory helpers
(``seqlm.analysis.theory``), the n-gram models, the evaluation seam and the
synthetic corpus with its oracle. The only formulas written here are the
*mistakes*: what a known misconception computes, used to pick the hint.
"""
