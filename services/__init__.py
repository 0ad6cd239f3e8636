"""The newsroom services: ingest, enrich, publish, and the `newsroom` command."""
