"""P6, reference solution: an interpolated Kneser-Ney trigram and a small LSTM language
model on the same corpus, compared by perplexity with the same conventions."""
import math
from collections import Counter, defaultdict

import numpy as np
import torch
from torch import nn

BOS = -1  # <s>: sentence-start context, never predicted


def _sentences(ids, eos_id):
    s = [BOS]
    for w in ids:
        s.append(int(w))
        if w == eos_id:
            yield s
            s = [BOS]
    if len(s) > 1:                                             # a last sentence without <eos>
        yield s


def _discount(counts):
    n = Counter(c for c in counts if c in (1, 2))
    return n[1] / (n[1] + 2 * n[2]) if n[1] and n[2] else 0.75


def _level(a):
    """Per context: (total, number of continuations); and the discount of this order."""
    total, types = defaultdict(int), defaultdict(int)
    for (*h, _), c in a.items():
        total[tuple(h)] += c
        types[tuple(h)] += 1
    return total, types, _discount(a.values())


def kn_trigram_logprobs(train_ids, test_ids, vocab_size, eos_id):
    tri, bi = Counter(), Counter()
    for s in _sentences(train_ids, eos_id):
        bi.update(zip(s, s[1:]))
        tri.update(zip(s, s[1:], s[2:]))
    a2 = Counter((v, w) for (_, v, w) in tri)                  # continuation counts N1+(• v w) ...
    a2.update({k: c for k, c in bi.items() if k[0] == BOS})    # ... except <s> v: raw counts
    a1 = Counter(w for (_, w) in bi)                           # N1+(• w), <s> included as a left word
    t1, D1 = sum(a1.values()), _discount(a1.values())
    t2, n2, D2 = _level(a2)
    t3, n3, D3 = _level(tri)

    def p1(w):
        return max(a1[w] - D1, 0) / t1 + D1 * len(a1) / t1 / vocab_size

    def p2(v, w):
        if t2[(v,)] == 0:
            return p1(w)
        return max(a2[(v, w)] - D2, 0) / t2[(v,)] + D2 * n2[(v,)] / t2[(v,)] * p1(w)

    def p3(u, v, w):
        if t3[(u, v)] == 0:
            return p2(v, w)
        return max(tri[(u, v, w)] - D3, 0) / t3[(u, v)] + D3 * n3[(u, v)] / t3[(u, v)] * p2(v, w)

    out = []
    for s in _sentences(test_ids, eos_id):
        for k in range(1, len(s)):
            p = p2(s[0], s[1]) if k == 1 else p3(s[k - 2], s[k - 1], s[k])
            out.append(math.log(p))
    return np.array(out)


def perplexity(logprobs):
    lp = np.asarray(logprobs, dtype=np.float64)
    return float(math.exp(-lp.mean())) if np.all(np.isfinite(lp)) else math.inf


class LSTMLM(nn.Module):
    def __init__(self, vocab_size, embed_size=32, hidden_size=64):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.lstm = nn.LSTM(embed_size, hidden_size)
        self.decoder = nn.Linear(hidden_size, vocab_size)

    def init_state(self, batch_size, device=None):
        z = torch.zeros(1, batch_size, self.lstm.hidden_size, device=device)
        return (z, z.clone())

    def forward(self, inputs, state):                          # (T, B) -> (T, B, V)
        out, state = self.lstm(self.embedding(inputs), state)
        return self.decoder(out), state


def train_lm(train_ids, vocab_size, eos_id, seed, epochs=3, batch_size=32, bptt=35):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LSTMLM(vocab_size)
    ids = torch.as_tensor(np.asarray(train_ids), dtype=torch.long)
    inputs = torch.cat([torch.tensor([eos_id]), ids[:-1]])    # <eos> before the first token
    n = len(ids) // batch_size
    X = inputs[:n * batch_size].view(batch_size, n).t()       # (T, B): B contiguous columns
    Y = ids[:n * batch_size].view(batch_size, n).t()          # targets: the next token
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(epochs):
        state = model.init_state(batch_size)
        for s in range(0, n, bptt):
            state = tuple(h.detach() for h in state)          # truncated BPTT
            logits, state = model(X[s:s + bptt], state)
            loss = nn.functional.cross_entropy(logits.reshape(-1, vocab_size), Y[s:s + bptt].reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
    return model


@torch.no_grad()
def lm_logprobs(model, ids, eos_id):
    out = []
    for s in _sentences(ids, eos_id):
        words = torch.tensor(s[1:])
        inputs = torch.cat([torch.tensor([eos_id]), words[:-1]])[:, None]   # (T, 1), fresh state
        logits, _ = model(inputs, model.init_state(1))
        logp = torch.log_softmax(logits[:, 0].double(), dim=-1)
        out.append(logp.gather(1, words[:, None])[:, 0])
    return torch.cat(out).numpy()
