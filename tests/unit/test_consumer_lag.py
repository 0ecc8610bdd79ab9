"""capaflow_consumer_lag reports only the partitions a consumer holds now.

A rebalance moves a partition to another replica, which reports it from then
on; the series this replica set for it must go, or two processes report the
same partition and a frozen value stays until a restart (outside review).
"""

import asyncio
from typing import Any, cast

from prometheus_client import REGISTRY

from shared import inbox
from shared.bus.base import Bus, ReceivedRecord
from shared.db import SessionFactory
from tests.conftest import eventually

GROUP = "lag-test"


class _Member:
    """A group member that holds partitions 0 and 1 until a rebalance leaves it 1."""

    def __init__(self) -> None:
        self.rebalanced = False

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def fetch(self, *, max_records: int, timeout: float) -> list[ReceivedRecord]:
        await asyncio.sleep(0.01)
        return []

    async def commit_handled(self) -> None: ...

    async def lag(self) -> dict[tuple[str, int], int]:
        if self.rebalanced:
            return {("nc.events", 1): 2}
        return {("nc.events", 0): 7, ("nc.events", 1): 3}


class _Bus:
    def __init__(self, member: _Member) -> None:
        self._member = member

    def subscribe(self, *, group: str, topics: list[str]) -> Any:
        return self._member


def _lag(partition: int) -> float | None:
    return REGISTRY.get_sample_value("capaflow_consumer_lag", {
        "group": GROUP, "topic": "nc.events", "partition": str(partition)})


async def test_a_partition_lost_in_a_rebalance_loses_its_series(monkeypatch: Any) -> None:
    monkeypatch.setattr(inbox, "LAG_INTERVAL", 0.0)
    member = _Member()
    consumer = inbox.EventConsumer(group=GROUP, topics=["nc.events"], handlers={},
                                   sessions=cast(SessionFactory, None),
                                   bus=cast(Bus, _Bus(member)))
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        async def both_reported() -> bool:
            return (_lag(0), _lag(1)) == (7, 3)
        await eventually(both_reported, message="lag of partitions 0 and 1")

        member.rebalanced = True

        async def only_one_reported() -> bool:
            return (_lag(0), _lag(1)) == (None, 2)
        await eventually(only_one_reported, message="partition 0's series removed")
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    # A consumer that stopped reports nothing either.
    assert _lag(1) is None
