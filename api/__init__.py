"""The HTTP API (``ingest api``): FastAPI over libs; a third process, importing libs only."""

import libs  # noqa: F401  # first: structlog is imported without rich (libs/__init__.py)
