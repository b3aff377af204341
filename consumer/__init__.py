"""The consumer: validates batches and loads them into PostgreSQL with exactly-once effect."""

import libs  # noqa: F401  # first: structlog is imported without rich (libs/__init__.py)
