"""``ingest``: the operators' CLI (dataset files, table reflection, lineage); imports libs only."""

import libs  # noqa: F401  # first: structlog is imported without rich (libs/__init__.py)
