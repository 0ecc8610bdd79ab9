"""The bus contract: one suite, run unchanged on every bus (see conftest BUS_KINDS)."""

import asyncio
import uuid
from collections import defaultdict

import pytest

from shared.bus.base import Bus, OutgoingRecord, ReceivedRecord, Subscription
from tests.conftest import eventually
from tests.integration.conftest import BusUnderTest


def _records(topic: str, keys: list[str], per_key: int) -> list[OutgoingRecord]:
    # Interleave keys so per-key order is not just publish order of one key.
    return [OutgoingRecord(topic=topic, key=k, value=f"{k}:{i}".encode(),
                           headers=(("seq", str(i).encode()),))
            for i in range(per_key) for k in keys]


async def _drain(sub: Subscription, want: int, *, commit: bool = True,
                 timeout: float = 30) -> list[ReceivedRecord]:
    got: list[ReceivedRecord] = []

    async def enough() -> bool:
        for record in await sub.fetch(max_records=100, timeout=0.2):
            got.append(record)
            if commit:
                await sub.commit(record)
        return len(got) >= want

    await eventually(enough, timeout=timeout, interval=0, message=f"{want} records")
    return got


async def _restarted_member_gets(bus_under_test: BusUnderTest, group: str, topic: str,
                                 expected: int) -> list[ReceivedRecord]:
    """What a new member of ``group`` receives: ``expected`` records, then nothing more
    (committed records are not redelivered)."""
    restarted = await _subscribed(bus_under_test.make_bus(), group, topic)
    try:
        rest = await _drain(restarted, expected)
        rest += await restarted.fetch(max_records=100, timeout=1.0)
    finally:
        await restarted.stop()
    return rest


async def _subscribed(bus: Bus, group: str, topic: str) -> Subscription:
    sub = bus.subscribe(group=group, topics=[topic])
    await sub.start()
    return sub


async def test_publish_then_consume(bus_under_test: BusUnderTest) -> None:
    bus = bus_under_test.make_bus()
    topic = await bus_under_test.new_topic()
    sent = _records(topic, ["a", "b"], 5)
    await bus.publish(sent)

    sub = await _subscribed(bus, f"g-{uuid.uuid4().hex[:6]}", topic)
    try:
        got = await _drain(sub, len(sent))
    finally:
        await sub.stop()
    assert sorted(r.value for r in got) == sorted(r.value for r in sent)
    assert all(r.topic == topic for r in got)
    assert {r.header("seq") for r in got} == {str(i).encode() for i in range(5)}
    assert {r.key for r in got} == {"a", "b"}


async def test_order_is_kept_per_key(bus_under_test: BusUnderTest) -> None:
    bus = bus_under_test.make_bus()
    topic = await bus_under_test.new_topic()
    keys = [f"capa-{i}" for i in range(6)]
    for start in range(0, 30, 10):  # several publishes, as the relay does in batches
        await bus.publish([OutgoingRecord(topic=topic, key=k, value=f"{i}".encode())
                           for i in range(start, start + 10) for k in keys])

    sub = await _subscribed(bus, f"g-{uuid.uuid4().hex[:6]}", topic)
    try:
        got = await _drain(sub, 30 * len(keys))
    finally:
        await sub.stop()
    by_key: dict[str, list[int]] = defaultdict(list)
    for r in got:
        by_key[r.key].append(int(r.value))
    assert by_key == {k: list(range(30)) for k in keys}


async def test_two_groups_each_get_every_event(bus_under_test: BusUnderTest) -> None:
    bus = bus_under_test.make_bus()
    topic = await bus_under_test.new_topic()
    sent = _records(topic, ["x", "y", "z"], 4)
    await bus.publish(sent)

    first = await _subscribed(bus, f"capa-{uuid.uuid4().hex[:6]}", topic)
    second = await _subscribed(bus_under_test.make_bus(), f"notify-{uuid.uuid4().hex[:6]}", topic)
    try:
        got_first, got_second = await asyncio.gather(_drain(first, len(sent)),
                                                     _drain(second, len(sent)))
    finally:
        await first.stop()
        await second.stop()
    expected = sorted(r.value for r in sent)
    assert sorted(r.value for r in got_first) == expected
    assert sorted(r.value for r in got_second) == expected


async def test_restarted_consumer_resumes_after_its_last_commit(
        bus_under_test: BusUnderTest) -> None:
    bus = bus_under_test.make_bus()
    topic = await bus_under_test.new_topic()
    sent = _records(topic, ["k1", "k2", "k3"], 10)
    await bus.publish(sent)
    group = f"g-{uuid.uuid4().hex[:6]}"

    # First member: commit only the first 12 records it processes, then "crash".
    sub = await _subscribed(bus, group, topic)
    committed: list[ReceivedRecord] = []
    try:
        async def processed_twelve() -> bool:
            for record in await sub.fetch(max_records=5, timeout=0.2):
                if len(committed) < 12:
                    await sub.commit(record)
                    committed.append(record)
            return len(committed) >= 12

        await eventually(processed_twelve, interval=0, message="12 committed")
    finally:
        await sub.stop()

    # A new member of the same group gets exactly what was not committed.
    rest = await _restarted_member_gets(bus_under_test, group, topic, len(sent) - 12)
    assert sorted(r.value for r in rest) == sorted(
        set(r.value for r in sent) - set(r.value for r in committed))


@pytest.mark.parametrize("commit_by", ["commit_handled", "stop"])
async def test_marked_records_are_committed_in_one_go(bus_under_test: BusUnderTest,
                                                      commit_by: str) -> None:
    bus = bus_under_test.make_bus()
    topic = await bus_under_test.new_topic()
    sent = _records(topic, [f"k{i}" for i in range(6)], 5)
    await bus.publish(sent)
    group = f"g-{uuid.uuid4().hex[:6]}"

    # Mark the first 20 fetched (a prefix of each partition), commit them at once.
    sub = await _subscribed(bus, group, topic)
    try:
        got = await _drain(sub, len(sent), commit=False)
        for record in got[:20]:
            sub.mark_handled(record)
        if commit_by == "commit_handled":
            await sub.commit_handled()
    finally:
        await sub.stop()

    rest = await _restarted_member_gets(bus_under_test, group, topic, len(sent) - 20)
    assert sorted(r.value for r in rest) == sorted(r.value for r in got[20:])


@pytest.mark.parametrize("bus_under_test", ["kafka"], indirect=True)
async def test_kafka_commits_what_was_handled_before_its_partitions_move(
        bus_under_test: BusUnderTest) -> None:
    bus = bus_under_test.make_bus()
    topic = await bus_under_test.new_topic()
    await bus.publish(_records(topic, [f"k{i}" for i in range(6)], 5))
    group = f"g-{uuid.uuid4().hex[:6]}"
    first = await _subscribed(bus, group, topic)
    second: Subscription | None = None
    try:
        for record in await _drain(first, 30, commit=False):
            first.mark_handled(record)
        # A second member joins: the group rebalances while the first one holds
        # 30 handled, uncommitted records.
        second = await _subscribed(bus_under_test.make_bus(), group, topic)
        redelivered: list[ReceivedRecord] = []

        async def both_caught_up() -> bool:
            # Both keep polling, as consumers do, so the group can rebalance.
            for member in (first, second):
                assert member is not None
                redelivered.extend(await member.fetch(max_records=100, timeout=0.2))
            first_lag, second_lag = await first.lag(), await second.lag()
            return (bool(second_lag) and len(first_lag) + len(second_lag) == 3
                    and not any((*first_lag.values(), *second_lag.values())))
        await eventually(both_caught_up, timeout=60, interval=0,
                         message="the partitions shared by both members")
        assert redelivered == [], "the marks were committed before the partitions moved"
    finally:
        await first.stop()
        if second is not None:
            await second.stop()


@pytest.mark.parametrize("bus_under_test", ["kafka"], indirect=True)
async def test_kafka_never_sends_a_pipelined_batch_past_one_on_a_replaced_producer(
        bus_under_test: BusUnderTest) -> None:
    from shared.bus.kafka import KafkaBus

    bus = bus_under_test.make_bus()
    assert isinstance(bus, KafkaBus)
    topic = await bus_under_test.new_topic()
    acks = await bus.begin_publish(_records(topic, ["k"], 1))
    await acks
    # An earlier call whose acknowledgement is still outstanding on this producer
    # (held open here, so the test does not race the broker) ...
    unacknowledged = asyncio.get_running_loop().create_future()
    earlier = type(acks)(acks.producer, unacknowledged)  # type: ignore[call-arg, attr-defined]
    await (await bus.begin_publish(_records(topic, ["k"], 1), after=earlier))
    # ... and then the producer is replaced, as a failed ping or a failed
    # publish elsewhere in the process does: the new one could overtake it.
    await bus._drop_producer()
    with pytest.raises(ConnectionError):
        await bus.begin_publish(_records(topic, ["k"], 1), after=earlier)
    unacknowledged.set_result(None)  # acknowledged after all: nothing left to overtake
    await (await bus.begin_publish(_records(topic, ["k"], 1), after=earlier))


async def test_lag_counts_what_the_member_has_not_fetched(bus_under_test: BusUnderTest) -> None:
    bus = bus_under_test.make_bus()
    topic = await bus_under_test.new_topic()
    await bus.publish(_records(topic, ["a"], 8))
    sub = await _subscribed(bus, f"g-{uuid.uuid4().hex[:6]}", topic)
    try:
        got = await _drain(sub, 8)
        assert len(got) == 8

        async def caught_up() -> bool:
            return sum((await sub.lag()).values()) == 0
        await eventually(caught_up, message="lag 0 after reading everything")
        await bus.publish(_records(topic, ["a"], 3))

        async def three_behind() -> bool:
            return sum((await sub.lag()).values()) == 3
        # Kafka learns the new head with the next fetch response.
        await eventually(three_behind, timeout=30, message="lag 3", interval=0.2)
    finally:
        await sub.stop()


async def test_kafka_namespaces_keep_environments_apart(kafka_bootstrap: str) -> None:
    from shared.bus.kafka import KafkaBus

    staging = KafkaBus(bootstrap_servers=kafka_bootstrap, client_id="t", namespace="staging-x.")
    prod = KafkaBus(bootstrap_servers=kafka_bootstrap, client_id="t", namespace="prod-x.")
    topic = f"test.{uuid.uuid4().hex[:8]}"
    try:
        await staging.publish([OutgoingRecord(topic=topic, key="k", value=b"staging")])
        await prod.publish([OutgoingRecord(topic=topic, key="k", value=b"prod")])
        sub = await _subscribed(staging, "capa", topic)
        try:
            got = await _drain(sub, 1)
            got += await sub.fetch(max_records=10, timeout=1.0)
        finally:
            await sub.stop()
    finally:
        await staging.stop()
        await prod.stop()
    assert [(r.topic, r.value) for r in got] == [(topic, b"staging")]
