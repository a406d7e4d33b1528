"""An endless Python loop in the output layer (the forward is right)."""
# base: P1 — the grader tests prepend the reference solution; this file's code follows it.
def rnn_output(hs, W_hy, b_y):
    n = 0
    while True:
        n += 1
