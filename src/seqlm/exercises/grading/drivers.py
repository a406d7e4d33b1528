"""What the learner's process does on the grader's request: call a function, run a cell,
train a model and answer one step at a time. Standalone (NumPy and torch only).

Every driver takes the learner's module, a per-case ``store`` (what one call leaves for
the next call of the same case, such as a trained model) and the request's arguments,
and returns plain data — arrays, tensors, numbers, names. It never receives an expected
value: the grader keeps those. Whatever a submission does to these functions, it can
only change its own answers.
"""
from __future__ import annotations

import numpy as np


class Missing(Exception):
    """The submission does not define what the exercise asks for."""


def _attr(module, name: str):
    obj = getattr(module, name, None)
    if obj is None:
        raise Missing(f"defines no `{name}`")
    if not callable(obj):
        raise Missing(f"`{name}` is a {type(obj).__name__}, not a function or class")
    return obj


def call(module, store, name, args=(), kwargs=None):
    """``module.name(*args, **kwargs)``: the NumPy exercises."""
    return _attr(module, name)(*args, **(kwargs or {}))


def forward_backward(module, store, x, h, c, p, dh, dc):
    """P4: lstm_cell_forward, then lstm_cell_backward on the cache it returned (the cache
    stays here: it is the learner's own object)."""
    fwd = _attr(module, "lstm_cell_forward")(x, h, c, p)
    if not isinstance(fwd, (tuple, list)) or len(fwd) != 3:
        return {"forward": fwd}
    backward = _attr(module, "lstm_cell_backward")
    return {"forward": tuple(fwd[:2]) + (None,), "grads": backward(dh, dc, fwd[2])}


# ---------------------------------------------------------------------------- P5

def _torch():
    import torch
    return torch


def _named(model) -> dict:
    return {n: p.detach().double().numpy().copy() for n, p in model.named_parameters()}


def gru_cell(module, store, I, H, params, x, h, g=None):
    """Build GRUCell(I, H) in float64 with the given parameters and run one step; with
    ``g``, back-propagate ⟨g, h_t⟩ and return every gradient autograd reached."""
    torch = _torch()
    cell = _attr(module, "GRUCell")(I, H).double()
    named = dict(cell.named_parameters())
    shapes = {k: list(v.shape) for k, v in named.items()}
    if any(k not in named or tuple(named[k].shape) != np.shape(v) for k, v in params.items()):
        return {"parameters": shapes}
    with torch.no_grad():
        for k, v in params.items():
            named[k].copy_(torch.from_numpy(np.asarray(v)))
    xt, ht = torch.from_numpy(x.copy()), torch.from_numpy(h.copy())
    if g is None:
        with torch.no_grad():
            return {"h_t": cell(xt, ht)}
    xt.requires_grad_(), ht.requires_grad_()
    out = cell(xt, ht)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        return {"h_t": out, "graph": False}
    (out * torch.from_numpy(g)).sum().backward()
    return {"h_t": out, "graph": True, "x_t": xt.grad, "h_prev": ht.grad,
            **{f"d{k}": named[k].grad for k in params}}


def _model_report(module, model, x):
    torch = _torch()
    if not isinstance(model, torch.nn.Module):
        return {"type": type(model).__name__}
    cell_cls = getattr(module, "GRUCell", None)
    model.eval()
    with torch.no_grad():
        y = model(torch.from_numpy(x).float())
    return {"type": "Module", "y": y, "parameters": _named(model),
            "modules": [type(m).__name__ for m in model.modules()],
            "uses_cell": bool(isinstance(cell_cls, type) and any(isinstance(m, cell_cls) for m in model.modules()))}


def adding_model(module, store, cell, x, seed):
    """AddingModel(cell), untrained (torch seeded with ``seed``), on the grader's ``x``."""
    torch = _torch()
    torch.manual_seed(seed)
    return _model_report(module, _attr(module, "AddingModel")(cell), x)


def adding_train(module, store, cell, T, steps, seed, x):
    """train_adding(cell, T, steps, seed), then the trained model on the grader's ``x``."""
    return _model_report(module, _attr(module, "train_adding")(cell, T, steps, seed), x)


# ---------------------------------------------------------------------------- P6

def protocol_lm(V: int, E: int, H: int, params: dict):
    """A small LM that follows the exercise's protocol (init_state, forward), with the
    grader's parameters: what ``lm_logprobs`` is asked to score. The grader builds
    the same model on its side and scores it with seqlm."""
    torch = _torch()
    nn = torch.nn

    class ProtocolLM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(V, E)
            self.lstm = nn.LSTM(E, H)
            self.decoder = nn.Linear(H, V)

        def init_state(self, batch_size, device=None):
            z = torch.zeros(1, batch_size, H, device=device)
            return (z, z.clone())

        def forward(self, inputs, state):  # (T, B) -> (T, B, V)
            out, state = self.lstm(self.embedding(inputs), state)
            return self.decoder(out), state

    model = ProtocolLM()
    with torch.no_grad():
        for k, p in model.named_parameters():
            p.copy_(torch.from_numpy(np.asarray(params[k], dtype=np.float32)))
    return model.eval()


def lm_interface(module, store, V, shapes, seed):
    """LSTMLM(V) on random inputs of each (T, B): what forward returns."""
    torch = _torch()
    torch.manual_seed(seed)
    model = _attr(module, "LSTMLM")(V)
    gen = torch.Generator().manual_seed(seed)
    out = []
    for T, B in shapes:
        state = model.init_state(B)
        with torch.no_grad():
            out.append(model(torch.randint(0, V, (T, B), generator=gen), state))
    return out


def lm_score(module, store, V, E, H, params, ids, eos_id):
    """The learner's lm_logprobs on the grader's model."""
    return _attr(module, "lm_logprobs")(protocol_lm(V, E, H, params), ids, eos_id)


def lm_train(module, store, train_ids, V, eos_id, seed):
    """train_lm(...); the model stays here for :func:`lm_step`."""
    torch = _torch()
    model = _attr(module, "train_lm")(train_ids, V, eos_id, seed)
    if not isinstance(model, torch.nn.Module):
        return {"type": type(model).__name__}
    model.eval()
    store["model"] = model
    return {"type": "Module", "parameters": int(sum(p.numel() for p in model.parameters()))}


def lm_step(module, store, inputs, reset):
    """One step of the trained model on the grader's tokens (B,): the logits (B, V).
    The grader sends a sentence's tokens one step at a time, so the model never sees a
    token before it has been scored."""
    torch = _torch()
    model = store["model"]
    x = torch.as_tensor(np.asarray(inputs), dtype=torch.long)[None]  # (1, B)
    if reset:
        store["state"] = model.init_state(x.shape[1])
    with torch.no_grad():
        logits, store["state"] = model(x, store["state"])
    return logits[0]


DRIVERS = {f.__name__: f for f in (call, forward_backward, gru_cell, adding_model, adding_train, lm_interface, lm_score,
                                   lm_train, lm_step)}
