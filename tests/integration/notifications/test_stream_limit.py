"""Live streams are capped per caller (NOTIFICATIONS_STREAM_MAX_PER_PRINCIPAL):
beyond the cap a 429 problem with Retry-After; a closed stream frees its slot."""

import contextlib
from pathlib import Path

import httpx

from services.notifications.settings import NotificationsSettings
from tests.conftest import BUS_MIGRATIONS, DatabaseFactory, eventually, migrate
from tests.integration.notifications.conftest import NOTIFICATIONS_MIGRATIONS, fast_settings
from tests.integration.notifications.test_stream_feeds_email import served

LIMIT = 3
MAX_DURATION = 120.0


async def _open(client: httpx.AsyncClient, stack: contextlib.AsyncExitStack,
                token: str) -> httpx.Response:
    """Opens a stream and keeps it open on ``stack``; a refusal is read and closed."""
    response = await stack.enter_async_context(client.stream(
        "GET", "/v1/stream", headers={"Authorization": f"Bearer {token}"}))
    if response.status_code == 200:
        # The first line proves the server runs this stream (and holds its slot).
        # The line iterator stays referenced: dropped, it would close the connection.
        lines = response.aiter_lines()
        stack.callback(lambda: lines)
        first = await anext(lines)
        assert first.startswith("retry:"), first
    else:
        await response.aread()
    return response


async def test_a_caller_gets_429_beyond_the_cap_and_a_closed_stream_frees_its_slot(
        new_sqlite_database: DatabaseFactory, api_keys: tuple[Path, dict[str, str]]) -> None:
    url, bus_url = await new_sqlite_database(), await new_sqlite_database()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    keys_path, tokens = api_keys
    settings = NotificationsSettings(
        database_url=url, bus="sql", bus_database_url=bus_url, credentials_file=str(keys_path),
        **fast_settings(stream_max_per_principal=LIMIT, stream_max_duration=MAX_DURATION))
    engineer = tokens["engineer"]

    async with served(settings) as base, httpx.AsyncClient(base_url=base, timeout=20) as client:
        async with contextlib.AsyncExitStack() as held:
            streams = [contextlib.AsyncExitStack() for _ in range(LIMIT)]
            for stack in streams:
                await held.enter_async_context(stack)
                assert (await _open(client, stack, engineer)).status_code == 200

            async with contextlib.AsyncExitStack() as extra:
                refused = await _open(client, extra, engineer)
            assert refused.status_code == 429, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["title"] == "Too many live streams"
            # When the oldest stream ends at the latest: within its maximum duration.
            assert 1 <= int(refused.headers["retry-after"]) <= MAX_DURATION

            # The cap is per caller: someone else is still served.
            async with contextlib.AsyncExitStack() as other:
                assert (await _open(client, other, tokens["reporter"])).status_code == 200

            # Closing one stream frees its slot once the server sees the disconnect
            # (at its next poll or keep-alive).
            await streams[0].aclose()
            replacement = contextlib.AsyncExitStack()
            await held.enter_async_context(replacement)

            async def slot_free() -> bool:
                attempt = contextlib.AsyncExitStack()
                response = await _open(client, attempt, engineer)
                if response.status_code == 200:
                    await replacement.enter_async_context(attempt)
                    return True
                assert response.status_code == 429, response.text
                await attempt.aclose()
                return False

            await eventually(slot_free, timeout=15, message="a slot freed by the closed stream")
            # Back at the cap.
            async with contextlib.AsyncExitStack() as extra:
                assert (await _open(client, extra, engineer)).status_code == 429
