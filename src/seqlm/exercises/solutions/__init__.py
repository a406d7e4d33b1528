"""Reference solutions of P1–P6, graded by the tests like any submission.

They live in the package so that a teacher finds them and the test suite can
hold the grader to them; ``seqlm exercises start`` never writes them.
"""
