"""Data: vocabulary, corpora and batching for truncated BPTT."""
from seqlm.data.batching import batchify, lm_batches, segments, sentences
from seqlm.data.vocab import EOS, UNK, Vocabulary

__all__ = ["Vocabulary", "UNK", "EOS", "batchify", "lm_batches", "segments", "sentences"]
