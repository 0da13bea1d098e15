"""Ingestion of log files into the warehouse: read, validate, quarantine, deduplicate."""

from experiments.ingest.files import ingest_files

__all__ = ["ingest_files"]
