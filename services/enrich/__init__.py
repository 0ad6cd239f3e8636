"""Enrich: tags, related links and age flags for every received story."""
