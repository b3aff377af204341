"""The HTTP API (``ingest api``): FastAPI over libs; a third process, importing libs only."""
