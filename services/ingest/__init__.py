"""Ingest: the authenticated HTTP front door for wire partners."""
