"""Serve the app with uvicorn (``ingest api``)."""

from __future__ import annotations

import structlog
import uvicorn

from api.app import create_app
from libs.settings import ApiSettings

log = structlog.get_logger("api")


def serve(settings: ApiSettings) -> None:
    """Listen on ``settings.host:port`` until SIGINT/SIGTERM. Without a token the settings
    allow 127.0.0.1 only (ApiSettings refuses another host); this says so at start."""
    if settings.token is None:
        log.warning("INGEST_API_TOKEN is not set: serving 127.0.0.1 only, without "
                    "authentication", host=settings.host, port=settings.port)
    log.info("API listening", url=f"http://{settings.host}:{settings.port}",
             token_required=settings.token is not None,
             uploads_dir=str(settings.uploads_dir), max_upload_bytes=settings.max_upload_bytes,
             url_allow=list(settings.url_allow), database=settings.postgres.safe_url,
             amqp=settings.amqp.safe_url, queue=settings.amqp.queue,
             redis=settings.redis.safe_url)
    config = uvicorn.Config(create_app(settings), host=settings.host, port=settings.port,
                            log_config=None, access_log=False, server_header=False,
                            lifespan="on")
    uvicorn.Server(config).run()
