# The producer, consumer and ingest image: runtime dependencies only (no test or dev extras).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY libs ./libs
COPY producer ./producer
COPY consumer ./consumer
# The bundled dataset files (INGEST_DATASETS_DIR in env/docker.env).
COPY datasets ./datasets
COPY ingest ./ingest
COPY api ./api
RUN pip install . \
    && useradd --create-home --uid 10001 ingest

USER ingest
# Files to publish are mounted under /app/data (see docker-compose.yml).
CMD ["consumer"]
