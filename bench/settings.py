"""Where the repository is and which services the bench talks to (AMQP_URL, DATABASE_URL,
REDIS_URL, with local defaults)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from libs import constants as c

ROOT: Final = Path(__file__).resolve().parent.parent
DEFAULTS: Final = {"AMQP_URL": c.DEFAULT_AMQP_URL, "DATABASE_URL": c.DEFAULT_DATABASE_URL,
                   "REDIS_URL": c.DEFAULT_REDIS_URL}


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

