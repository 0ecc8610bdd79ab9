"""The UI's own secret keys. Made at random on first use and kept in the UI's
database, so every replica signs and checks with the same key and nothing has
to be configured; a replica reads a key once and keeps it in memory."""

import asyncio
import secrets

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import WRITES, utcnow

from .models import web_keys


class ServerKeys:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._known: dict[str, bytes] = {}
        self._lock = asyncio.Lock()

    async def key(self, name: str) -> bytes:
        if name in self._known:
            return self._known[name]
        async with self._lock:
            if name not in self._known:
                self._known[name] = await self._read_or_make(name)
        return self._known[name]

    async def _read_or_make(self, name: str) -> bytes:
        for _ in range(2):
            async with self._engine.connect() as conn:
                found = (await conn.execute(select(web_keys.c.key).where(
                    web_keys.c.name == name))).scalar_one_or_none()
            if found is not None:
                return bytes(found)
            try:
                async with self._engine.connect() as conn:
                    conn = await conn.execution_options(**WRITES)
                    async with conn.begin():
                        await conn.execute(insert(web_keys).values(
                            name=name, key=secrets.token_bytes(32), created_at=utcnow()))
            except IntegrityError:
                pass  # another replica made it first: read theirs
        raise RuntimeError(f"the UI's key {name!r} could be neither read nor made")
