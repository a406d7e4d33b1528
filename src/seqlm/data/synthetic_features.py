"""The synthetic language's hidden grammatical state at every token, as probe targets.

The generator of :mod:`seqlm.data.synthetic` is a pushdown automaton whose state
(topic, stack of pending frames) is a function of the prefix: the language is
unambiguous left to right. So the state each token was drawn from is recovered
exactly by running the same automaton (``Grammar.next_distribution``) over the
words — :func:`replay_states`, which the tests hold equal to the states the
generator itself recorded while sampling.

Features of token t are read from the state *before* t, i.e. what the prefix
w_<t determines — the information a language model must hold in h_t (or c_t)
after reading w_{t-1} to predict w_t (seqlm's convention: step t reads w_{t-1},
or the start context ``<eos>``, and predicts w_t):

``topic``           the sentence's topic, ``none`` until its first noun is read.
``subject_number``  the number (``sg``/``pl``) of the innermost subject whose verb
                    has not come yet: the topmost verb frame of the stack with a
                    bound number; ``none`` when no subject is waiting (before the
                    first noun, after the main verb).
``verb_number``     the number of the verbs that may come *next* (``none`` when the
                    next word cannot be a verb). The grammar makes it unique.
``pending_verbs``   how many verbs the sentence still owes: the verb and
                    relative-clause frames on the stack (``4+`` for four or more).
                    Before the main verb it is 1 + the number of open relative
                    clauses: the nesting depth the model must count.

**Attractors.** For the two number features, ``TokenFeatures.attractors`` marks
the tokens where the last noun read has the *other* number (``the dogs near the
cat ___``: the subject is plural, the nearest noun singular) — Linzen et al.
(2016)'s agreement attractors, where tracking the last noun is exactly wrong.

``verb_number`` is linearly decodable from any model whose next-word
distribution is close to the oracle's: where a verb may come, the logits of the
singular and the plural verbs differ by a linear function of h_t whose sign is
the number.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seqlm.data.grammar import TOPICS, Grammar, SyntheticConfig
from seqlm.data.vocab import EOS
from seqlm.errors import SeqlmError

FEATURES = ("topic", "subject_number", "verb_number", "pending_verbs")
NUMBERS = ("none", "sg", "pl")
PENDING = ("0", "1", "2", "3", "4+")
_VERB_NUMBER = {w: n for lex in TOPICS.values() for lem in lex[1] for n, w in enumerate(lem)}
_NOUN_NUMBER = {w: n for lex in TOPICS.values() for lem in lex[0] for n, w in enumerate(lem)}


@dataclass
class TokenFeatures:
    """Per token, the class index of each feature; ``classes[name]`` names the indices."""

    classes: dict[str, tuple[str, ...]]
    values: dict[str, np.ndarray]  # name -> (N,) int64
    # For the number features: the tokens where the last noun read has the other
    # number (an agreement *attractor*, Linzen et al. 2016); name -> (N,) bool.
    attractors: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(next(iter(self.values.values())).size)

    def labels(self, name: str) -> list[str]:
        """The class names of feature ``name``, token by token."""
        return [self.classes[name][i] for i in self.values[name].tolist()]


def feature_classes(grammar: Grammar) -> dict[str, tuple[str, ...]]:
    return {"topic": ("none", *grammar.topics), "subject_number": NUMBERS,
            "verb_number": NUMBERS, "pending_verbs": PENDING}


def state_features(grammar: Grammar, state: tuple) -> tuple[int, int, int, int]:
    """The four class indices (in :data:`FEATURES` order) of one automaton state."""
    topic, stack = state
    subject = next((1 + f[1] for f in reversed(stack) if f[0] == "V" and f[1] is not None), 0)
    numbers = {_VERB_NUMBER[w] for w in grammar.next_distribution(state) if w in _VERB_NUMBER}
    if len(numbers) > 1:  # the grammar guarantees one number; tests check every reachable state
        raise AssertionError(f"verbs of both numbers possible after {state}")
    verb = 1 + numbers.pop() if numbers else 0
    pending = sum(1 for f in stack if f[0] in ("V", "RC"))
    return (0 if topic is None else 1 + grammar.topics.index(topic), subject, verb,
            min(pending, len(PENDING) - 1))


def replay_states(grammar: Grammar, words) -> list[tuple]:
    """The automaton state each word was drawn from (sentences end with ``<eos>``)."""
    out, state = [], grammar.start
    for i, w in enumerate(words):
        dist = grammar.next_distribution(state)
        if w not in dist:
            raise SeqlmError(f"token {i} ({w!r}) cannot follow its prefix in the synthetic language "
                             f"(another corpus, or another SyntheticConfig?)")
        out.append(state)
        state = dist[w][1] or grammar.start  # None after <eos>: the next sentence starts
    return out


def token_features(grammar: Grammar, words) -> TokenFeatures:
    """:data:`FEATURES` of every token of ``words`` (a whole number of sentences), and
    the attractor tokens of the number features."""
    cache: dict = {}
    rows, last, noun = [], [], 0  # noun: number of the last noun read in the sentence (0: none)
    for s, w in zip(replay_states(grammar, words), words):
        f = cache.get(s)
        if f is None:
            f = cache[s] = state_features(grammar, s)
        rows.append(f)
        last.append(noun)
        noun = 0 if w == EOS else 1 + _NOUN_NUMBER[w] if w in _NOUN_NUMBER else noun
    arr = np.array(rows, dtype=np.int64).reshape(-1, len(FEATURES))
    values = {n: arr[:, k].copy() for k, n in enumerate(FEATURES)}
    last_noun = np.array(last, dtype=np.int64)
    attractors = {n: (values[n] > 0) & (last_noun > 0) & (last_noun != values[n])
                  for n in ("subject_number", "verb_number")}
    return TokenFeatures(feature_classes(grammar), values, attractors)


def corpus_features(corpus, split: str) -> TokenFeatures:
    """The features of a split of a synthetic :class:`~seqlm.data.corpus.Corpus`
    (``load_corpus("synthetic", ...)``), aligned with ``corpus.split(split)``."""
    meta = getattr(corpus, "meta", None) or {}
    if meta.get("generator") != "seqlm.synthetic":
        raise SeqlmError(f"{getattr(corpus, 'name', 'this corpus')}: grammatical features exist only "
                         f"for the synthetic corpus (its generator knows them)")
    grammar = Grammar(SyntheticConfig(**meta["config"]))
    words = corpus.vocab.decode(corpus.split(split))
    if words and words[-1] != EOS:
        raise SeqlmError(f"{split}: the split does not end with <eos>")
    return token_features(grammar, words)


__all__ = ["FEATURES", "TokenFeatures", "feature_classes", "state_features", "replay_states",
           "token_features", "corpus_features"]
