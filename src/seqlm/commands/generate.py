"""`seqlm generate`: sample text from a trained neural language model.

The sample is printed as text: each ``<eos>`` is a line break (a character-level
model writes lines, as its training text had them), word-level tokens are
joined as the model's tokenizer cut them. ``--json`` gives the tokens themselves.

Generation needs no corpus: the checkpoint holds the vocabulary and its
tokenizer. ``--data`` is accepted as on ``eval`` and ``score``: the corpus is
checked against the model (refused in one line when its vocabulary differs).
"""
from __future__ import annotations

import sys

from seqlm.commands import finite_float, seed_int


def register(sub) -> None:
    p = sub.add_parser("generate", help="sample text from a trained neural LM")
    p.add_argument("--checkpoint", required=True, help="a run directory or checkpoint directory")
    p.add_argument("--data", metavar="SOURCE",
                   help="not needed (the run holds its vocabulary); if given, checked as by "
                        "seqlm eval: a corpus with another vocabulary is refused")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--prompt", default="", help="text to continue (default: a new sentence)")
    src.add_argument("--prompt-file", help="read the prompt from a UTF-8 file")
    p.add_argument("--max-tokens", type=int, default=50, help="tokens to generate (default 50); printed as they come")
    p.add_argument("--temperature", type=finite_float, default=1.0, help="softmax temperature; 0 = greedy (default 1.0)")
    p.add_argument("--top-k", type=int, default=None, help="sample among the K likeliest tokens only (default: all)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the sampling (default 0)")
    p.add_argument("--stop-at-eos", action="store_true", help="stop after the first <eos>")
    p.add_argument("--device", default="cpu", help="cpu | cuda | mps | auto (default cpu)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


class Stream:
    """Print a sample as it is drawn, line by line (and every ``CHUNK`` tokens of a long
    line), exactly as ``vocab.detokenize`` would print it whole."""

    CHUNK = 256

    def __init__(self, vocab, prompt_ids: list[int]) -> None:
        self.vocab, self.line, self.last, self.any = vocab, [], None, False
        for w in prompt_ids:
            self(w, flush=False)

    def _emit(self, tokens: list[str], end: str = "") -> None:
        join = self.vocab.tokenizer.join
        if tokens and self.last is not None:  # the space join() would put between the chunks
            a, b = self.last, tokens[0]
            sys.stdout.write(join([a, b])[len(a):len(join([a, b])) - len(b)])
        sys.stdout.write(join(tokens) + end)
        self.any = True
        self.last = None if end else (tokens[-1] if tokens else self.last)

    def __call__(self, w: int, flush: bool = True) -> None:
        if w == self.vocab.eos_id:
            self._emit(self.vocab.decode(self.line), "\n")
            self.line = []
        else:
            self.line.append(w)
            if len(self.line) >= self.CHUNK:
                self._emit(self.vocab.decode(self.line))
                self.line = []
        if flush:
            sys.stdout.flush()

    def close(self) -> None:
        if self.line or self.last is not None or not self.any:  # as print(text) ended it
            self._emit(self.vocab.decode(self.line), "\n")
        sys.stdout.flush()


def run(args) -> int:
    import json

    import torch

    from seqlm.data.corpus import read_lines
    from seqlm.lm.generate import encode_prompt, generate
    from seqlm.train.checkpoint import load_model
    from seqlm.train.devices import resolve_device

    model, vocab = load_model(args.checkpoint)
    if args.data:  # a check only: generation reads nothing from the corpus
        from seqlm.train.run_corpus import checkpoint_config, corpus_for_run
        _, note = corpus_for_run(checkpoint_config(args.checkpoint)[1], vocab, args.checkpoint,
                                 data=args.data)
        if note:
            print(f"seqlm generate: note: {note}", file=sys.stderr)
    model.to(resolve_device(args.device))
    text = "\n".join(read_lines(args.prompt_file)) if args.prompt_file else args.prompt
    prompt_ids, oov = encode_prompt(vocab, text)
    if oov:
        shown = ", ".join(sorted(set(oov))[:10])
        print(f"seqlm generate: warning: {len(oov)} prompt word(s) not in the vocabulary, read as "
              f"<unk>: {shown}", file=sys.stderr)
    gen = torch.Generator().manual_seed(args.seed)
    stream = None if args.json else Stream(vocab, prompt_ids)
    sample = generate(model, prompt_ids, args.max_tokens, args.temperature, args.top_k, gen,
                      args.stop_at_eos, vocab.eos_id, on_token=stream)
    if args.json:
        print(json.dumps({"prompt": vocab.decode(prompt_ids), "tokens": vocab.decode(sample.ids),
                          "ids": sample.ids, "text": vocab.detokenize(prompt_ids + sample.ids),
                          "logprob": sample.logprob, "seed": args.seed,
                          "temperature": args.temperature, "top_k": args.top_k}))
        return 0
    stream.close()
    print(f"log-probability of the {len(sample.ids)} generated tokens: {sample.logprob:.4f} nats",
          file=sys.stderr)
    return 0
