"""The producer: streams a CSV file into RabbitMQ in batches, resumable from Redis."""

import libs  # noqa: F401  # first: structlog is imported without rich (libs/__init__.py)
