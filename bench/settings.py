"""Where the repository is and which services the bench talks to (AMQP_URL, DATABASE_URL,
REDIS_URL, with local defaults)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

ROOT: Final = Path(__file__).resolve().parent.parent
DEFAULTS: Final = {"AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/",
                   "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/ingest",
                   "REDIS_URL": "redis://127.0.0.1:6379/0"}


@dataclass(frozen=True)
class Urls:
    amqp: str
    database: str
    redis: str

    @classmethod
    def from_env(cls) -> Urls:
        get = lambda name: os.environ.get(name) or DEFAULTS[name]  # noqa: E731
        return cls(get("AMQP_URL"), get("DATABASE_URL"), get("REDIS_URL"))

    def db(self, name: str) -> str:
        """DATABASE_URL pointing at database ``name`` on the same server."""
        return urlunsplit(urlsplit(self.database)._replace(path="/" + name))


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
