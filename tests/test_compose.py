"""docker-compose.yml cannot run here (no Docker engine): check its shape instead."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
INFRA = ("rabbitmq", "postgres", "redis")
SERVICES = (*INFRA, "migrate", "consumer", "producer", "api")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    found: dict[str, Any] = compose["services"]
    return found


def _flat(value: Any) -> str:
    """A compose command or test (string or list) as one string."""
    return " ".join(value) if isinstance(value, list) else str(value)


def _env_files(service: dict[str, Any]) -> list[str]:
    value = service.get("env_file", [])
    items = [value] if isinstance(value, str | dict) else value
    return [item["path"] if isinstance(item, dict) else item for item in items]


def test_all_services_exist(services: dict[str, Any]) -> None:
    assert set(SERVICES) <= set(services)


@pytest.mark.parametrize(("name", "probe"), [
    ("rabbitmq", "rabbitmq-diagnostics -q ping"),
    ("postgres", "pg_isready"),
    ("redis", "redis-cli ping"),
])
def test_infrastructure_has_healthcheck(services: dict[str, Any], name: str, probe: str) -> None:
    assert probe in _flat(services[name]["healthcheck"]["test"])


@pytest.mark.parametrize("name", INFRA)
def test_infrastructure_keeps_data_under_volumes(services: dict[str, Any], name: str) -> None:
    sources = [str(v).split(":", 1)[0] for v in services[name].get("volumes", [])]
    assert any(src.startswith("./volumes/") for src in sources), sources


def test_redis_persists_with_aof(services: dict[str, Any]) -> None:
    assert re.search(r"--appendonly\s+yes", _flat(services["redis"]["command"]))


def test_consumer_scales_and_waits_for_migrations(services: dict[str, Any]) -> None:
    consumer = services["consumer"]
    assert "container_name" not in consumer
    assert consumer["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("rabbitmq", "postgres"):
        assert consumer["depends_on"][name]["condition"] == "service_healthy"


def test_migrate_runs_the_project_migrations(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert "up" in _flat(migrate["command"]).split()
    assert any(str(v).startswith("./migrations:") for v in migrate["volumes"])
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_example_tables_only_for_the_producer_or_when_asked(services: dict[str, Any]) -> None:
    examples = services["migrate-examples"]
    assert set(examples["profiles"]) == {"producer", "examples"}  # `up` alone: no example table
    assert any(str(v).startswith("./migrations-examples:") for v in examples["volumes"])
    assert examples["environment"]["DBMATE_MIGRATIONS_TABLE"] == "examples_schema_migrations"
    after = services["producer"]["depends_on"]
    assert after["migrate-examples"]["condition"] == "service_completed_successfully"
    assert after["postgres"]["condition"] == "service_healthy"


def test_producer_is_not_started_by_up(services: dict[str, Any]) -> None:
    producer = services["producer"]
    assert producer.get("profiles") or producer.get("restart") == "no"
    assert producer["command"][0] == "producer"


@pytest.mark.parametrize("name", SERVICES)
def test_images_pinned_to_a_major_version(services: dict[str, Any], name: str) -> None:
    service = services[name]
    if "build" in service:
        assert (ROOT / service["build"] / "Dockerfile").is_file()
        return
    image = service["image"]
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
    assert re.match(r"^\d+", tag), f"{name}: image {image!r} is not pinned to a major version"


@pytest.mark.parametrize("name", SERVICES)
def test_env_files_exist(services: dict[str, Any], name: str) -> None:
    for path in _env_files(services[name]):
        assert (ROOT / path).is_file(), f"{name}: env_file {path} is missing"


def test_app_services_use_docker_env(services: dict[str, Any]) -> None:
    for name in ("consumer", "producer", "api"):
        assert "env/docker.env" in _env_files(services[name])
    docker_env = (ROOT / "env" / "docker.env").read_text()
    for host in ("@rabbitmq:", "@postgres:", "//redis:"):
        assert host in docker_env


def test_api_needs_a_token_and_publishes_on_loopback(services: dict[str, Any]) -> None:
    api = services["api"]
    assert _flat(api["command"]) == "ingest api"
    env = api["environment"]
    assert env["INGEST_API_HOST"] == "0.0.0.0"  # in its container: so a token is required
    # From the host's environment; `:?` would make every compose command fail without it.
    assert env["INGEST_API_TOKEN"] == "${INGEST_API_TOKEN:-}"
    assert api["profiles"] == ["api"]  # `up` alone does not start it
    assert [str(p).split(":")[0] for p in api["ports"]] == ["127.0.0.1"]
    assert "/readyz" in _flat(api["healthcheck"]["test"])
    sources = [str(v).split(":", 1)[0] for v in api["volumes"]]
    assert "./volumes/uploads" in sources
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
