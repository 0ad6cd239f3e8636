"""Publish: route, format and deliver enriched stories to outlets."""
