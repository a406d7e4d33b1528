"""The synthetic corpus: determinism, and its oracle against an independent computation.

The independent reference below enumerates the whole (finite) language of a
tiny configuration straight from the grammar rules in the module docstring —
recursive functions over derivations, sharing no code with the pushdown
automaton — and derives every conditional ``p(w_t | w_<t)`` as a ratio of
prefix probabilities ``P(w_≤t) / P(w_<t)``.
"""
from __future__ import annotations

import math
import subprocess
import sys
from collections import defaultdict

import numpy as np
import pytest

from seqlm.data import load_corpus, sentences
from seqlm.data.synthetic import Grammar, SyntheticConfig, generate, synthetic_corpus, write_corpus
from seqlm.errors import SeqlmError

TINY = dict(n_topics=2, nouns_per_topic=1, verbs_per_topic=2, n_preps=1, max_depth=2,
            p_rel=0.3, p_pp=0.25, p_obj=0.4, q_subj=0.6, decay=0.5,
            train_tokens=3000, valid_tokens=500, test_tokens=500)


# ------------------------------------------------------------ the reference
def enumerate_language(cfg: SyntheticConfig, g: Grammar) -> dict[tuple, float]:
    """Every sentence of the language with its probability, by summing over derivations."""
    def at(p, d):
        return p * cfg.decay ** d if d < cfg.max_depth else 0.0

    def NP(d, t):  # → [(words, prob, number)]
        out = []
        for num in (0, 1):
            for noun in g.nouns[t][num]:
                p = 0.5 / len(g.nouns[t][num])
                out += [(("the", noun) + mw, p * mp, num) for mw, mp in MOD(num, d, t)]
        return out

    def MOD(num, d, t):
        p_rel, p_pp = at(cfg.p_rel, d), at(cfg.p_pp, d)
        out = [((), 1.0 - p_rel - p_pp)]
        if p_rel:
            out += [(("that",) + rw, p_rel * rp) for rw, rp in RC(num, d + 1, t)]
        if p_pp:
            for prep in g.preps:
                out += [((prep,) + nw, p_pp / len(g.preps) * np_) for nw, np_, _ in NP(d + 1, t)]
        return out

    def RC(num, d, t):
        out = []
        for v in g.verbs[t][num]:  # subject relative: the verb agrees with the head noun
            out += [((v,) + ow, cfg.q_subj / len(g.verbs[t][num]) * op) for ow, op in OBJ(d, t)]
        for nw, np_, m in NP(d, t):  # object relative: the verb agrees with the inner subject
            for v in g.verbs[t][m]:
                out.append((nw + (v,), (1 - cfg.q_subj) * np_ / len(g.verbs[t][m])))
        return out

    def OBJ(d, t):
        p = at(cfg.p_obj, d)
        out = [((), 1.0 - p)]
        if p:
            out += [(nw, p * np_) for nw, np_, _ in NP(d + 1, t)]
        return out

    lang: dict[tuple, float] = defaultdict(float)
    for t in g.topics:
        for nw, np_, num in NP(0, t):
            for v in g.verbs[t][num]:
                for ow, op in OBJ(0, t):
                    lang[nw + (v,) + ow + ("<eos>",)] += np_ / len(g.topics) / len(g.verbs[t][num]) * op
    return {w: p for w, p in lang.items() if p > 0}


@pytest.fixture(scope="module")
def tiny():
    cfg = SyntheticConfig(**TINY)
    g = Grammar(cfg)
    lang = enumerate_language(cfg, g)
    prefix: dict[tuple, float] = defaultdict(float)
    for words, p in lang.items():
        for k in range(len(words) + 1):
            prefix[words[:k]] += p
    return cfg, g, lang, prefix


def test_reference_language_is_normalised(tiny):
    _, _, lang, _ = tiny
    assert 100 < len(lang) < 200_000
    assert math.isclose(sum(lang.values()), 1.0, rel_tol=0, abs_tol=1e-12)


def test_sentence_logprob_equals_sum_over_derivations(tiny):
    _, g, lang, _ = tiny
    for words, p in lang.items():
        lp = g.sentence_logprobs(words)
        assert lp.shape == (len(words),)
        assert lp.sum() == pytest.approx(math.log(p), abs=1e-9)


def test_every_next_token_distribution_sums_to_one_and_matches_prefix_ratios(tiny):
    _, g, _, prefix = tiny
    checked = 0
    for pre, p_pre in prefix.items():
        if pre and pre[-1] == "<eos>":
            continue
        state = g.start
        for w in pre:
            state = g.next_distribution(state)[w][1]
        dist = g.next_distribution(state)
        assert math.fsum(p for p, _ in dist.values()) == pytest.approx(1.0, abs=1e-12)
        for w, (p, _) in dist.items():
            assert p == pytest.approx(prefix[pre + (w,)] / p_pre, rel=1e-9)
        checked += 1
    assert checked > 100


def test_generated_oracle_logprobs_match_the_reference(tiny):
    cfg, g, lang, prefix = tiny
    corpus = synthetic_corpus(seed=7, config=cfg)
    for split in ("train", "valid", "test"):
        ids, lp = corpus.split(split), corpus.oracle_logprobs[split]
        assert ids.shape == lp.shape and ids[-1] == corpus.vocab.eos_id
        pos = 0
        for sent in sentences(ids, corpus.vocab.eos_id):
            words = tuple(corpus.vocab.decode(sent))
            assert words in lang  # every generated sentence is in the language
            for k in range(len(words)):
                want = math.log(prefix[words[:k + 1]] / prefix[words[:k]])
                assert lp[pos + k] == pytest.approx(want, abs=1e-9)
            pos += len(words)
        assert pos == ids.size


def test_exact_entropy_matches_reference(tiny):
    _, g, lang, _ = tiny
    h = g.entropy()
    ent = -sum(p * math.log(p) for p in lang.values())
    length = sum(p * len(w) for w, p in lang.items())
    assert h["nats_per_sentence"] == pytest.approx(ent, rel=1e-9)
    assert h["tokens_per_sentence"] == pytest.approx(length, rel=1e-9)
    assert h["perplexity"] == pytest.approx(math.exp(ent / length), rel=1e-9)


# -------------------------------------------------------- the default corpus
@pytest.fixture(scope="module")
def default():
    return load_corpus("synthetic", seed=0)


def test_default_corpus_shape_and_oracle(default):
    c = default
    assert 25 <= len(c.vocab) <= 45
    assert c.split("train").size >= 100_000 and c.split("valid").size >= 10_000
    for s in ("train", "valid", "test"):
        ids = c.split(s)
        assert ids.dtype == np.int64 and ids[-1] == c.vocab.eos_id
        assert c.oracle_logprobs[s].shape == ids.shape
        assert np.all(c.oracle_logprobs[s] <= 0) and np.all(np.isfinite(c.oracle_logprobs[s]))
        assert c.oov[s] == 0 and c.chars[s] > ids.size
    # The sample oracle perplexity is close to the exact entropy rate of the language.
    exact = Grammar(SyntheticConfig()).entropy()["perplexity"]
    assert c.oracle_ppl("train") == pytest.approx(exact, rel=0.01)
    assert c.oracle_ppl("valid") == pytest.approx(exact, rel=0.03)
    info = c.info()
    assert info["oracle_valid_ppl"] == pytest.approx(c.oracle_ppl("valid"))


def test_default_distributions_are_normalised(default):
    g = Grammar(SyntheticConfig())
    g.entropy()  # visits every reachable state
    assert len(g._cache) > 100
    for dist in g._cache.values():
        assert math.fsum(p for p, _ in dist.values()) == pytest.approx(1.0, abs=1e-12)


def test_same_seed_is_bitwise_identical_and_seeds_differ():
    cfg = SyntheticConfig(train_tokens=5000, valid_tokens=1000, test_tokens=1000)
    a, b, c = generate(3, cfg), generate(3, cfg), generate(4, cfg)
    for s in ("train", "valid", "test"):
        assert a.splits[s].ids.tobytes() == b.splits[s].ids.tobytes()
        assert a.splits[s].logprobs.tobytes() == b.splits[s].logprobs.tobytes()
        assert a.splits[s].ids.tobytes() != c.splits[s].ids.tobytes()
    # valid/test do not depend on the training size
    d = generate(3, SyntheticConfig(train_tokens=8000, valid_tokens=1000, test_tokens=1000))
    assert d.splits["valid"].ids.tobytes() == a.splits["valid"].ids.tobytes()


def test_synth_files_identical_across_processes(tmp_path):
    outs = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        r = subprocess.run([sys.executable, "-m", "seqlm", "data", "synth", "--out", str(out),
                            "--seed", "5"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        outs.append({f: (out / f).read_bytes() for f in ("train.txt", "valid.txt", "test.txt",
                                                          "oracle.json")})
    assert outs[0] == outs[1]
    # The files read back as the same token streams.
    back = load_corpus(tmp_path / "run0")
    mem = synthetic_corpus(seed=5)
    for s in ("train", "valid", "test"):
        assert back.vocab.decode(back.split(s)) == mem.vocab.decode(mem.split(s))


def test_write_corpus_oracle_json(tmp_path):
    import json
    cfg = SyntheticConfig(train_tokens=2000, valid_tokens=500, test_tokens=500)
    write_corpus(tmp_path, seed=1, config=cfg)
    o = json.loads((tmp_path / "oracle.json").read_text())
    c = synthetic_corpus(seed=1, config=cfg)
    assert o["schema_version"] == 1 and o["seed"] == 1 and o["config"]["train_tokens"] == 2000
    for s in ("train", "valid", "test"):
        assert o["splits"][s]["tokens"] == c.split(s).size
        assert o["splits"][s]["ppl"] == pytest.approx(c.oracle_ppl(s), rel=1e-12)


def test_bad_options():
    with pytest.raises(SeqlmError, match="unknown option"):
        load_corpus("synthetic", train_tokenz=5)
    with pytest.raises(SeqlmError, match="probability"):
        load_corpus("synthetic", p_rel=1.5)
    with pytest.raises(SeqlmError, match="word level"):
        load_corpus("synthetic", level="char")


def test_agreement_distances_point_at_the_agreeing_noun(tiny, default):
    from seqlm.data.synthetic import TOPICS, agreement_distances
    number = {w: n for lex in TOPICS.values() for group in lex for lem in group
              for n, w in enumerate(lem)}
    topic = {w: t for t, lex in TOPICS.items() for group in lex for lem in group for w in lem}
    verbs = {w for lex in TOPICS.values() for lem in lex[1] for w in lem}
    cfg, _, lang, _ = tiny
    small = synthetic_corpus(seed=11, config=cfg)
    for c in (small, default):
        for split in ("train", "valid"):
            ids = c.split(split)
            words = c.vocab.decode(ids)
            d = agreement_distances(ids, c.vocab)
            is_verb = np.array([w in verbs for w in words])
            assert np.all((d > 0) == is_verb)  # every verb has a controller, nothing else does
            for i in np.flatnonzero(d):
                noun = words[i - d[i]]
                assert number[noun] == number[words[i]] and topic[noun] == topic[words[i]]
    dd = agreement_distances(default.valid, default.vocab)
    assert dd.max() >= 8 and (dd >= 5).sum() > 200  # long-range agreement is common
