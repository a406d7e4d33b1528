"""The synthetic language's per-token grammatical features: the generator's own states."""
from __future__ import annotations

import numpy as np
import pytest

from seqlm.data import load_corpus
from seqlm.data.synthetic import Grammar, SyntheticConfig, _generate
from seqlm.data.synthetic_features import (FEATURES, corpus_features, replay_states, state_features,
                                           token_features)
from seqlm.errors import SeqlmError

# Each token with the features of the prefix before it (what a model must know to predict it).
HAND = """\
the        none    none none 1
teacher    none    none none 1
that       people  sg   sg   1
the        people  sg   sg   2
children   people  sg   none 2
with       people  pl   pl   2
the        people  pl   none 2
child      people  pl   none 2
help       people  pl   pl   2
helps      people  sg   sg   1
the        people  none none 0
children   people  none none 0
<eos>      people  none none 0
the        none    none none 1
dogs       none    none none 1
near       animals pl   pl   1
the        animals pl   none 1
cat        animals pl   none 1
that       animals pl   pl   1
chases     animals pl   sg   2
see        animals pl   pl   1
<eos>      animals none none 0"""


def test_hand_derived_features():
    """The docs' example sentence, every feature worked out by hand from the grammar."""
    rows = [line.split() for line in HAND.splitlines()]
    f = token_features(Grammar(SyntheticConfig()), [r[0] for r in rows])
    for k, name in enumerate(FEATURES):
        assert f.labels(name) == [r[k + 1] for r in rows], name


def test_replay_is_the_generators_own_state_and_streams_are_unchanged():
    g = Grammar(SyntheticConfig())
    states: list = []
    rec = _generate(g, np.random.default_rng(np.random.SeedSequence([0, 1])), 5000, states)
    plain = _generate(g, np.random.default_rng(np.random.SeedSequence([0, 1])), 5000)
    assert np.array_equal(rec.ids, plain.ids) and np.array_equal(rec.logprobs, plain.logprobs)
    assert replay_states(g, [g.words[i] for i in rec.ids]) == states


def test_verb_number_is_unique_in_every_reachable_state():
    """state_features asserts it; walk every state of the default grammar."""
    g = Grammar(SyntheticConfig())
    seen, todo = set(), [g.start]
    while todo:
        s = todo.pop()
        if s is None or s in seen:
            continue
        seen.add(s)
        state_features(g, s)
        todo += [nxt for _, nxt in g.next_distribution(s).values()]
    assert len(seen) > 3000


def test_corpus_features_align_with_the_split():
    c = load_corpus("synthetic", seed=0, train_tokens=2000, valid_tokens=1500, test_tokens=1500)
    f = corpus_features(c, "valid")
    assert len(f) == c.valid.size
    eos = c.valid == c.vocab.eos_id
    starts = np.concatenate([[True], eos[:-1]])  # the first token of every sentence
    assert (f.values["topic"][starts] == 0).all() and (f.values["pending_verbs"][starts] == 1).all()
    assert (f.values["pending_verbs"][eos] == 0).all()  # <eos> comes once every verb has
    for name in FEATURES:
        assert f.values[name].min() >= 0 and f.values[name].max() < len(f.classes[name])


def test_not_synthetic_is_a_user_error(tmp_path):
    for s in ("train", "valid", "test"):
        (tmp_path / f"{s}.txt").write_text("a b c\n", encoding="utf-8")
    with pytest.raises(SeqlmError, match="only for the synthetic corpus"):
        corpus_features(load_corpus(str(tmp_path)), "valid")
    with pytest.raises(SeqlmError, match="cannot follow its prefix"):
        token_features(Grammar(SyntheticConfig()), ["the", "the"])
