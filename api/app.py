"""``create_app(settings)``: the FastAPI app of ``ingest api``.

Routes: ``/v1/jobs`` (api.jobs), ``/healthz``, ``/readyz``, ``/metrics`` (api.health), ``/``
(api.web), ``/openapi.json``. Every route but the two probes requires the bearer token when one
is set (api.auth); every error is a problem document (api.problems).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from fastapi import Depends, FastAPI, Request

from api import health, jobs, problems, web
from api.auth import require_token
from api.children import Children
from api.idempotency import InFlight
from api.metrics import Metrics, MetricsMiddleware
from api.submit import Uploads
from libs import db
from libs.settings import ApiSettings, redact_text

POOL_SIZE: Final = 10
SHUTDOWN_WAIT_S: Final = 30.0  # for the producers still registering or publishing
APPLICATION_NAME: Final = "csv-ingest-api"


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: ApiSettings = app.state.settings
    # min_size 0: the app starts while PostgreSQL is down (/readyz says so).
    app.state.pool = await db.create_pool(settings.postgres, POOL_SIZE, min_size=0,
                                          application_name=APPLICATION_NAME)
    app.state.children.pool = app.state.pool
    try:
        yield
    finally:
        await app.state.children.close(SHUTDOWN_WAIT_S)
        await app.state.pool.close()


def create_app(settings: ApiSettings) -> FastAPI:
    """The app; its lifespan opens the PostgreSQL pool and, at shutdown, waits a while for
    the producers it started."""
    app = FastAPI(title="csv-ingest", version="1", lifespan=_lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None,
                  description="Load CSV files into PostgreSQL: submit a file, follow its job.")
    urls = (settings.postgres.url, settings.amqp.url, settings.redis.url)
    app.state.settings = settings
    app.state.redact = lambda text: redact_text(text, *urls)
    app.state.children = Children(settings)
    app.state.uploads = Uploads()
    app.state.inflight = InFlight()
    app.state.metrics = Metrics()
    problems.install(app)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    token = [Depends(require_token(settings.token))]
    app.include_router(health.probes)
    app.include_router(health.metrics, dependencies=token)
    app.include_router(jobs.router, dependencies=token)
    app.include_router(web.router)  # the page and its files: public, they hold no data
    app.include_router(web.datasets_router, dependencies=token)

    @app.get("/openapi.json", include_in_schema=False, dependencies=token)
    async def openapi(request: Request) -> dict[str, Any]:
        schema: dict[str, Any] = request.app.openapi()
        return schema

    return app
