"""Ingest: read the agencies exports as they are and map them to the canonical schema."""
