"""Data: vocabulary, corpora (files, named datasets, the synthetic language) and batching."""
from seqlm.data.batching import (
           batchify,
           lm_batches,
           pack_sentences,
           segments,
           sentence_batches,
           sentences,
)
from seqlm.data.corpus import SPLITS, Corpus
from seqlm.data.spec import corpus_from_directory, corpus_from_file, load_corpus
from seqlm.data.vocab import EOS, UNK, Vocabulary

__all__ = ["Vocabulary", "UNK", "EOS", "batchify", "lm_batches", "segments", "sentences",
           "pack_sentences", "sentence_batches",
           "Corpus", "SPLITS", "load_corpus", "corpus_from_directory", "corpus_from_file"]
