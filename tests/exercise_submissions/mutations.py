"""Typical wrong solutions: (exercise, name, text in the reference solution, its replacement,
the hint constant of seqlm.exercises.checks.pN the grader must give, cases to grade)."""

MUTATIONS = [
    # P1: eq. (5.1)
    ("P1", "tanh left out", "np.tanh(h @ W_hh.T + xs[t] @ W_xh.T + b_h)",
     "(h @ W_hh.T + xs[t] @ W_xh.T + b_h)", "H_TANH", ()),
    ("P1", "W_hh transposed", "h @ W_hh.T", "h @ W_hh", "H_TRANSPOSE", ()),
    ("P1", "padding run as input", "h = np.where(alive, h_new, h)", "h = h_new", "H_LENGTHS", ()),
    ("P1", "softmax over the batch axis", "e.sum(axis=-1, keepdims=True)", "e.sum(axis=1, keepdims=True)",
     "H_AXIS", ()),
    ("P1", "softmax without the shift", "z = z - z.max(axis=-1, keepdims=True)", "z = z", "H_OVERFLOW", ()),
    # P2: eq. (5.3)
    ("P2", "diag(1 - h^2) left out", "da = dh * (1.0 - hs[t] ** 2)", "da = dh", "H_DIAG", ()),
    ("P2", "not accumulated over time", "dW_hh += da.T @ h_prev[t]", "dW_hh = da.T @ h_prev[t]", "H_ACCUM", ()),
    ("P2", "no flow back through time", "dh = dhs[t] + dh_next", "dh = dhs[t]", "H_BACKFLOW", ()),
    ("P2", "W_hh not transposed", "dh_next = da @ W_hh ", "dh_next = da @ W_hh.T ", "H_TRANSPOSE", ()),
    # P3
    ("P3", "largest singular value for the spectral radius", "np.max(np.abs(np.linalg.eigvals(W)))",
     "np.linalg.norm(W, 2)", "H_R_SIGMA", ()),
    ("P3", "diag(1 - h^2) left out", "g = (g * (1.0 - h[t] ** 2)) @ W_hh ", "g = g @ W_hh ", "H_N_DIAG", ()),
    ("P3", "log10 in the fit", "np.log(norms[keep])", "np.log10(norms[keep])", "H_F_LOG", ()),
    ("P3", "norms indexed by k", "    return norms\n", "    return norms[::-1]\n", "H_N_ORDER", ()),
    # P4: eqs. (5.4)-(5.8)
    ("P4", "o_t where f_t belongs", "c_t = f * c_prev + i * c_tilde",
     "c_t = _sigmoid(hx @ p[\"W_o\"].T + p[\"b_o\"]) * c_prev + i * c_tilde", "H_FORGET", ()),
    ("P4", "h_t = o_t * c_t without tanh", "h_t = o * tanh_c ", "h_t = o * c_t ", "H_H_TANH", ()),
    ("P4", "[x_t, h_t-1] instead of [h_t-1, x_t]", "hx = np.concatenate([h_prev, x_t], axis=1)",
     "hx = np.concatenate([x_t, h_prev], axis=1)", "H_CONCAT", ()),
    ("P4", "backward without the forget gate on c_t-1", "grads[\"c_prev\"] = dc * f ",
     "grads[\"c_prev\"] = dc ", "H_B_FORGET", ()),
    ("P4", "backward without tanh' of c_t", "dc = dc_t + dh_t * o * (1.0 - tanh_c ** 2)",
     "dc = dc_t + dh_t * o", "H_B_TANH", ()),
    # P5: eq. (5.11)
    ("P5", "PyTorch's z convention", "return (1 - z) * h_prev + z * cand", "return z * h_prev + (1 - z) * cand",
     "H_Z", ("GRU cell",)),
    ("P5", "reset after the matrix product",
     "cand = torch.tanh(torch.cat([r * h_prev, x_t], dim=1) @ self.W_h.T + self.b_h)",
     "H = h_prev.shape[1]; cand = torch.tanh(x_t @ self.W_h[:, H:].T + r * (h_prev @ self.W_h[:, :H].T) + self.b_h)",
     "H_RESET", ("GRU cell",)),
    ("P5", "update and reset gates swapped",
     "z = torch.sigmoid(hx @ self.W_z.T + self.b_z)          # (5.9)\n        r = torch.sigmoid(",
     "r = torch.sigmoid(hx @ self.W_z.T + self.b_z)          # (5.9)\n        z = torch.sigmoid(",
     "H_RZ", ("GRU cell",)),
    # P6
    ("P6", "perplexity with 2 as the base", "float(math.exp(-lp.mean()))", "float(2 ** (-lp.mean()))",
     "H_PPL_BASE", ("perplexity",)),
    ("P6", "n-grams across sentence boundaries", "        if w == eos_id:\n", "        if False:\n",
     "H_KN_SENTENCE", ("Kneser-Ney",)),
    ("P6", "the LSTM trained to predict its own input", "Y = ids[:n * batch_size]", "Y = inputs[:n * batch_size]",
     "H_TRAIN", ("LSTMLM", "scoring", "beats")),
]
