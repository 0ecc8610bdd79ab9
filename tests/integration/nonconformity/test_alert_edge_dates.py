"""Alert times at the calendar's edges: a startsAt with no UTC equivalent or
outside 1900..9998 is a 422 naming the range (not a 500); Alertmanager's
"still firing" endsAt (year 1, in any zone) still means not ended."""

from typing import Any

import httpx
import pytest

from shared.inputs import OUT_OF_RANGE
from tests.integration.nonconformity.conftest import NcService, alert, alertmanager_payload

AM = "/v1/intake/alertmanager"


async def _post(nc: NcService, *alerts: dict[str, Any]) -> httpx.Response:
    return await nc.client.post(AM, json=alertmanager_payload(*alerts),
                                headers=nc.auth("source:alertmanager"))


@pytest.mark.parametrize("starts", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00",
                                    "0001-01-01T00:00:00Z", "9999-06-01T00:00:00Z"])
async def test_a_start_time_at_the_edges_is_422(nc: NcService, starts: str) -> None:
    response = await _post(nc, alert(starts=starts))
    assert response.status_code == 422, response.text
    assert any(e["field"].endswith("startsAt") and OUT_OF_RANGE in e["message"]
               for e in response.json()["errors"]), response.text


@pytest.mark.parametrize("ends", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00"])
async def test_alertmanagers_not_ended_marker_in_any_zone_means_still_firing(
        nc: NcService, ends: str) -> None:
    response = await _post(nc, alert(ends=ends))
    assert response.status_code == 200, response.text
    assert len(response.json()["created"]) == 1


async def test_an_end_time_beyond_the_range_is_422(nc: NcService) -> None:
    response = await _post(nc, alert(status="resolved", ends="9999-12-31T23:59:59-14:00"))
    assert response.status_code == 422, response.text
