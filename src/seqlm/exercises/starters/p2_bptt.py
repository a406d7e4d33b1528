"""P2 — backpropagation through time for the vanilla RNN, by hand (Section 5.2.1).

The forward pass is eq. (5.1), h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h), run
over a batch (rows are batch elements: xs[t - 1] is x_t for every sequence).
A loss L depends on the states; you are given its *direct* gradients
dhs[t - 1] = ∂L/∂h_t (the part that does not flow through later steps) and
must return the gradient of L with respect to every input of the forward.
The grader checks you against seqlm's reference BPTT and against finite
differences of L = Σ_t Σ_b <dhs[t - 1, b], h_t[b]>.

Eq. (5.3):  ∂L/∂h_k = ∂L/∂h_T ∏_{t=k+1}^{T} diag(1 - h_t²) W_hh

Check your work:   seqlm exercises check P2 p2_bptt.py
"""
import numpy as np


def rnn_backward(xs, hs, h0, dhs, W_xh, W_hh):
    """Gradients of L through the whole sequence.

    xs   (T, B, I)  inputs x_1..x_T
    hs   (T, B, H)  states h_1..h_T computed by the forward pass
    h0   (B, H)     the initial state
    dhs  (T, B, H)  direct gradients ∂L/∂h_t
    W_xh (H, I), W_hh (H, H)

    Returns a dict of NumPy arrays:
      "W_xh" (H, I), "W_hh" (H, H), "b_h" (H,)   parameter gradients
      "h0"   (B, H)                               ∂L/∂h_0
      "xs"   (T, B, I)                            ∂L/∂x_t for every t
    """
    raise NotImplementedError
