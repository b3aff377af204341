"""The producer's resume offset in Redis, keyed by job id.

The offset is a hint: Redis may run without persistence, and losing the offset only costs
republishing, which the consumer's dedupe absorbs. It is written only after confirms, and a
write never moves it backwards (two producers on one file may both be writing).
"""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import asdict, dataclass
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from libs.errors import OffsetStoreUnavailable
from libs.settings import RedisSettings, redact_text

SOCKET_TIMEOUT: Final = 3.0

# Set KEYS[1] to ARGV[1] unless the stored offset is further on (byte ARGV[2], done ARGV[3]).
_SAVE_FORWARD: Final = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, old = pcall(cjson.decode, cur)
  if ok and type(old) == 'table' and tonumber(old['byte']) then
    local new_byte = tonumber(ARGV[2])
    if old['byte'] > new_byte then return 0 end
    if old['byte'] == new_byte and (old['done'] == true or ARGV[3] == '0') then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[4]))
return 1
"""


@dataclass(frozen=True)
class Offset:
    """Where the confirmed prefix of a file ends: the next batch to publish starts here."""

    seq: int
    byte: int
    line: int
    rows: int
    done: bool = False

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | bytes) -> Offset | None:
        try:
            data: Any = json.loads(text)
            return cls(seq=int(data["seq"]), byte=int(data["byte"]), line=int(data["line"]),
                       rows=int(data["rows"]), done=bool(data.get("done", False)))
        except (ValueError, KeyError, TypeError):
            return None


class OffsetStore:
    def __init__(self, settings: RedisSettings, ttl_days: int) -> None:
        self._settings = settings
        self._ttl = max(1, ttl_days) * 86400
        self._redis = aioredis.Redis.from_url(
            settings.url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT,
            retry_on_timeout=False)
        self._script = self._redis.register_script(_SAVE_FORWARD)

    def key(self, job_id: str) -> str:
        return f"{self._settings.prefix}:offset:{job_id}"

    def _unavailable(self, exc: Exception) -> OffsetStoreUnavailable:
        text = redact_text(f"{type(exc).__name__}: {exc}", self._settings.url)
        return OffsetStoreUnavailable(f"Redis at {self._settings.safe_url}: {text}")

    async def load(self, job_id: str) -> Offset | None:
        try:
            raw = await self._redis.get(self.key(job_id))
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return Offset.loads(raw) if raw is not None else None

    async def save(self, job_id: str, offset: Offset) -> bool:
        """Store ``offset`` unless a further one is stored; False if it was not further."""
        args: list[str | int] = [offset.dumps(), offset.byte, int(offset.done), self._ttl]
        try:
            written = await self._script(keys=[self.key(job_id)], args=args)
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return bool(written)

    async def close(self) -> None:
        with suppress(RedisError, OSError):
            await self._redis.aclose()
