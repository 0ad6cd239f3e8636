"""Entity tags: people, organisations, places and events linked to a knowledge base (see tagger.py)."""

from services.enrich.tagging.tagger import Tagger, Tags, TextItem

__all__ = ["Tagger", "Tags", "TextItem"]
