"""schemathesis against the live API's /openapi.json: no 5xx, and every answer as documented
(status, content type, body schema). Bounded: a few examples per operation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.apiserver import TOKEN, Api, start_api

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance]
EXAMPLES = 15


@pytest.fixture
def api(tmp_path: Path, service_env: dict[str, str], clean_tables: None) -> Iterator[Api]:
    server = start_api(tmp_path, service_env)
    yield server
    server.stop()


def test_openapi_conformance(api: Api) -> None:
    schema = schemathesis.openapi.from_url(api.url + "/openapi.json", headers=AUTH)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "POST /v1/jobs", "GET /v1/jobs", "GET /v1/jobs/{job_id}",
        "GET /v1/jobs/{job_id}/rejects", "POST /v1/jobs/{job_id}/abort", "GET /healthz",
        "GET /readyz", "GET /metrics"}
    for operation in operations:

        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=api.url, headers=AUTH, checks=CHECKS)

        call()
