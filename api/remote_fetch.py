"""A job's file copied from an ``ftp://`` or ``s3://`` URL into a Spool through
``libs.sources`` (the producer's own readers); the URL was checked by ``api.fetch`` first.
Reading blocks, so it runs in a worker thread, one request (at most 4 MiB) at a time.
"""

from __future__ import annotations

import asyncio
from typing import Final

from api.problems import Problem
from api.storage import Spool, TooLarge
from libs.errors import IngestError
from libs.sources import Source

CHUNK: Final = 1 << 20


async def copy_source(source: Source, spool: Spool, shown: str) -> None:
    """``source``'s bytes into ``spool``. 422 problem (its detail names ``shown``, the URL as
    it may be answered) if it cannot be read; 413 (TooLarge) past the spool's limit, before
    anything is read when the size says so."""
    try:
        if await asyncio.to_thread(source.size) > spool.limit:
            raise TooLarge(spool.limit)
        stream = await asyncio.to_thread(source.open)
        try:
            while chunk := await asyncio.to_thread(stream.read, CHUNK):
                await spool.write(chunk)
        finally:
            stream.close()
    except IngestError as exc:
        detail = str(exc).replace(source.display, shown)
        raise Problem(422, f"fetching {shown} failed: {detail}", "url-refused") from None
