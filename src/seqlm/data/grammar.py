"""The grammar of the built-in corpus with a known answer: a tiny stochastic language.

Every sentence has a *topic* (animals, people, machines, plants) that fixes
the vocabulary of all its nouns and verbs, and a subject whose *number* the
main verb must agree with, however many relative clauses and prepositional
phrases stand between them::

    the teacher that the children with the child help helps the children <eos>
        ^^^^^^^                                       ^^^^^
        singular subject          ...                 singular verb, 8 tokens later

The grammar (probabilities in :class:`SyntheticConfig`, ``d`` = embedding
depth, ``N``/``V`` are nouns/verbs of the sentence topic)::

    S        → NP_subj(0) V_num OBJ(0) <eos>          V agrees with the subject
    NP(d)    → the N_num MOD(num, d)                  num ∈ {sg, pl}, p = 1/2
    MOD(n,d) → ε | that RC(n, d+1) | PREP NP(d+1)     p_rel(d), p_pp(d)
    RC(n,d)  → V_n OBJ(d)                              subject relative, q_subj
             | NP_subj(d) V_m                          object relative (gap), 1 - q_subj
    OBJ(d)   → ε | NP(d+1)                             p_obj(d)

with ``p_rel(d) = p_rel·decay^d`` (zero from ``max_depth`` on), likewise for
``p_pp`` and ``p_obj``. The topic is drawn once per sentence (uniform); a verb
agrees in number with its subject (the head noun of a subject relative, the
inner subject of an object relative).

Generation runs a pushdown automaton whose state (topic, stack of pending
frames) is a function of the prefix: every decision point leads to disjoint
sets of next tokens, so the language is unambiguous left to right. The
automaton therefore knows the exact next-token distribution ``p(w_t | w_<t)``
at every position; :func:`next_distribution` returns it and the generator
records ``log p`` of every token it emits — the *oracle* log-probabilities.
The first token of a sentence is predicted from the sentence-start state
(sentence-start padding), and sentences are independent, so the oracle's
``stream`` and ``sentence`` perplexities coincide.

The corpus and its oracle are drawn from it in :mod:`seqlm.data.synthetic`.
See ``docs/synthetic.md`` for the entropy and the calibration against n-grams.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from seqlm.data.vocab import EOS, Vocabulary
from seqlm.errors import SeqlmError

# topic → (noun lemmas as (singular, plural), verb lemmas as (singular, plural)).
TOPICS: dict[str, tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]] = {
    "animals": ((("dog", "dogs"), ("cat", "cats")), (("chases", "chase"), ("sees", "see"))),
    "people": ((("child", "children"), ("teacher", "teachers")), (("helps", "help"), ("calls", "call"))),
    "machines": ((("robot", "robots"), ("car", "cars")), (("stops", "stop"), ("moves", "move"))),
    "plants": ((("tree", "trees"), ("flower", "flowers")), (("shades", "shade"), ("feeds", "feed"))),
}
PREPS = ("near", "with", "behind")
THE, THAT = "the", "that"
SG, PL = 0, 1

# Stack frames (tuples, so states are hashable and the distribution can be cached):
#   ("EOS",)            emit <eos>
#   ("NP", d, subj)     emit "the"; subj: the noun's number binds the verb frame below
#   ("N", d, subj)      emit a noun of the topic
#   ("MOD", n, d)       modifier of a noun of number n
#   ("RC", n, d)        after "that"
#   ("V", n, d, obj)    emit a verb of number n; obj: may take an object
#   ("OBJ", d)          optional object


@dataclass(frozen=True)
class SyntheticConfig:
    """Grammar probabilities and corpus sizes (tokens per split, ``<eos>`` included)."""

    n_topics: int = 4
    nouns_per_topic: int = 2
    verbs_per_topic: int = 2
    n_preps: int = 3
    p_rel: float = 0.35
    p_pp: float = 0.30
    p_obj: float = 0.5
    q_subj: float = 0.5
    decay: float = 0.5
    max_depth: int = 4
    train_tokens: int = 150_000
    valid_tokens: int = 12_000
    test_tokens: int = 12_000

    def __post_init__(self):
        def bad(msg):
            raise SeqlmError(f"synthetic corpus: {msg}")
        if not 1 <= self.n_topics <= len(TOPICS):
            bad(f"n_topics must be in 1..{len(TOPICS)}, got {self.n_topics}")
        if not 1 <= self.nouns_per_topic <= 2 or not 1 <= self.verbs_per_topic <= 2:
            bad("nouns_per_topic and verbs_per_topic must be 1 or 2")
        if not 1 <= self.n_preps <= len(PREPS):
            bad(f"n_preps must be in 1..{len(PREPS)}, got {self.n_preps}")
        for name in ("p_rel", "p_pp", "p_obj", "q_subj", "decay"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                bad(f"{name} must be a probability, got {getattr(self, name)}")
        if self.p_rel + self.p_pp > 1.0:
            bad("p_rel + p_pp must be <= 1")
        if self.max_depth < 0:
            bad("max_depth must be >= 0")
        for s in ("train", "valid", "test"):
            if getattr(self, f"{s}_tokens") < 1:
                bad(f"{s}_tokens must be >= 1")

    def at_depth(self, p: float, d: int) -> float:
        """A branching probability at embedding depth ``d``."""
        return p * self.decay ** d if d < self.max_depth else 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class Grammar:
    """The lexicon and the pushdown automaton of one :class:`SyntheticConfig`."""

    def __init__(self, config: SyntheticConfig):
        self.config = c = config
        self.topics = list(TOPICS)[: c.n_topics]
        # nouns[topic][number] / verbs[topic][number]: lists of word strings.
        self.nouns = {t: [[lem[n] for lem in TOPICS[t][0][: c.nouns_per_topic]] for n in (SG, PL)]
                      for t in self.topics}
        self.verbs = {t: [[lem[n] for lem in TOPICS[t][1][: c.verbs_per_topic]] for n in (SG, PL)]
                      for t in self.topics}
        self.preps = list(PREPS[: c.n_preps])
        words = [THE, THAT, *self.preps]
        for t in self.topics:
            for n in (SG, PL):
                words += self.nouns[t][n] + self.verbs[t][n]
        self.words: tuple[str, ...] = (EOS, *words)  # every token the language can emit
        self.topic_of = {w: t for t in self.topics for n in (SG, PL) for w in self.nouns[t][n]}
        self._cache: dict = {}

    @property
    def start(self) -> tuple:
        """The sentence-start state: (topic, stack with its top at the end)."""
        return (None, (("EOS",), ("V", None, 0, True), ("NP", 0, True)))

    # -------------------------------------------------------------- automaton
    def _expand(self, topic, stack: tuple, p: float, out: list) -> None:
        """Append ``(prob, word, next_state)`` for every way to emit the next word."""
        c = self.config
        top, rest = stack[-1], stack[:-1]
        kind = top[0]
        if kind == "EOS":
            out.append((p, EOS, None))
        elif kind == "NP":
            out.append((p, THE, (topic, rest + (("N", top[1], top[2]),))))
        elif kind == "N":
            _, d, subj = top
            topics = [topic] if topic is not None else self.topics
            for t in topics:
                p_t = p / len(topics)
                for n in (SG, PL):
                    below = rest
                    if subj:  # bind the number of the verb frame right below
                        v = below[-1]
                        below = below[:-1] + (("V", n, v[2], v[3]),)
                    nxt = (t, below + (("MOD", n, d),))
                    for w in self.nouns[t][n]:
                        out.append((p_t * 0.5 / len(self.nouns[t][n]), w, nxt))
        elif kind == "MOD":
            _, n, d = top
            p_rel, p_pp = c.at_depth(c.p_rel, d), c.at_depth(c.p_pp, d)
            if p_rel > 0:
                out.append((p * p_rel, THAT, (topic, rest + (("RC", n, d + 1),))))
            for w in self.preps:
                if p_pp > 0:
                    out.append((p * p_pp / len(self.preps), w, (topic, rest + (("NP", d + 1, False),))))
            if p_rel + p_pp < 1:
                self._expand(topic, rest, p * (1 - p_rel - p_pp), out)
        elif kind == "RC":
            _, n, d = top
            if c.q_subj > 0:
                self._expand(topic, rest + (("V", n, d, True),), p * c.q_subj, out)
            if c.q_subj < 1:
                self._expand(topic, rest + (("V", None, d, False), ("NP", d, True)), p * (1 - c.q_subj), out)
        elif kind == "V":
            _, n, d, obj = top
            nxt = (topic, rest + (("OBJ", d),) if obj else rest)
            for w in self.verbs[topic][n]:
                out.append((p / len(self.verbs[topic][n]), w, nxt))
        elif kind == "OBJ":
            d = top[1]
            p_obj = c.at_depth(c.p_obj, d)
            if p_obj > 0:
                out.append((p * p_obj, THE, (topic, rest + (("N", d + 1, False),))))
            if p_obj < 1:
                self._expand(topic, rest, p * (1 - p_obj), out)
        else:  # pragma: no cover
            raise AssertionError(f"unknown frame {top}")

    def next_distribution(self, state: tuple) -> dict[str, tuple[float, tuple | None]]:
        """``{word: (p(word | prefix), state after word)}`` for the state of a prefix.

        Raises ``AssertionError`` if two derivations emit the same word, which
        would make the state ambiguous (the grammar is designed so it never is).
        """
        hit = self._cache.get(state)
        if hit is not None:
            return hit
        out: list = []
        self._expand(state[0], state[1], 1.0, out)
        dist: dict = {}
        for p, w, nxt in out:
            if w in dist:
                raise AssertionError(f"ambiguous grammar: {w!r} reachable twice from {state}")
            dist[w] = (p, nxt)
        self._cache[state] = dist
        return dist

    def entropy(self) -> dict:
        """The language's exact per-token entropy (the oracle's expected perplexity).

        Within a sentence the automaton never revisits a state (every step
        advances a frame or pops one), so the expected sentence length ``L``
        and entropy ``H`` follow from one memoised recursion over the states:
        ``L(s) = 1 + Σ_w p(w|s) L(s_w)``, ``H(s) = -Σ_w p(w|s) log p(w|s) + Σ_w p(w|s) H(s_w)``.
        The entropy rate is ``H / L`` nats per token (sentences are i.i.d.).
        """
        memo: dict = {}

        def visit(state):
            if state is None:
                return 0.0, 0.0
            hit = memo.get(state)
            if hit is not None:
                return hit
            length, ent = 1.0, 0.0
            for p, nxt in self.next_distribution(state).values():
                sub_len, sub_ent = visit(nxt)
                length += p * sub_len
                ent += p * (sub_ent - math.log(p))
            memo[state] = (length, ent)
            return length, ent

        length, ent = visit(self.start)
        return {"tokens_per_sentence": length, "nats_per_sentence": ent,
                "nats_per_token": ent / length, "bits_per_token": ent / length / math.log(2),
                "perplexity": math.exp(ent / length), "states": len(memo)}

    def sentence_logprobs(self, words) -> np.ndarray:
        """Oracle natural-log probability of each word of one sentence (ending in ``<eos>``)."""
        state, lps = self.start, []
        for w in words:
            if state is None:
                raise SeqlmError("words after <eos> in one sentence")
            dist = self.next_distribution(state)
            if w not in dist:
                lps.append(-math.inf)
                break
            p, state = dist[w]
            lps.append(math.log(p))
        return np.array(lps, dtype=np.float64)


def agreement_distances(ids, vocab: Vocabulary) -> np.ndarray:
    """For every token, how far back the noun is that it must agree with (0: not a verb).

    The diagnostic of long-range dependency: a model that has learnt agreement
    predicts verbs equally well at every distance; an n-gram of order n only up
    to distance n - 1. Rules from the grammar: a verb right after ``that`` is a
    subject relative and agrees with the noun before ``that`` (distance 2); any
    other verb agrees with the most recent subject noun not yet matched (a stack,
    since embeddings nest); a subject noun is the noun of a ``the`` at sentence
    start or right after ``that``.
    """
    ids = np.asarray(ids)
    words = vocab.decode(ids)
    nouns = {w for lex in TOPICS.values() for lem in lex[0] for w in lem}
    verbs = {w for lex in TOPICS.values() for lem in lex[1] for w in lem}
    out = np.zeros(len(words), dtype=np.int64)
    start, subjects = 0, []
    for i, w in enumerate(words):
        if w == EOS:
            start, subjects = i + 1, []
        elif w in nouns:
            if i >= 1 and words[i - 1] == THE and (i - 1 == start or (i >= 2 and words[i - 2] == THAT)):
                subjects.append(i)
        elif w in verbs:
            if i >= 1 and words[i - 1] == THAT:
                out[i] = 2
            elif subjects:
                out[i] = i - subjects.pop()
    return out
