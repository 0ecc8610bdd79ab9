"""Signed webhooks end to end: consumed event -> delivery -> real receiver."""

import json
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import col, select
from standardwebhooks.webhooks import Webhook

from services.notifications.models import Subscription
from shared.events.catalog import CAPA_TOPIC, NONCONFORMITY_TOPIC
from shared.outbox import OutboxMessage
from tests.conftest import BUS_MIGRATIONS, DatabaseFactory, eventually, migrate
from tests.integration.notifications.conftest import (
    NOTIFICATIONS_MIGRATIONS,
    Harness,
    Receiver,
    capa_opened,
    free_port,
    harness,
    nc_reported,
)


def verify(secret: str, request: object) -> dict[str, object]:
    body = request.body  # type: ignore[attr-defined]
    headers = request.headers  # type: ignore[attr-defined]
    return dict(Webhook(secret).verify(body, headers))


async def _outbox_types(h: Harness) -> list[str]:
    async with h.app.state.runtime.sessions() as session:
        return list((await session.exec(select(OutboxMessage.event_type))).all())


@pytest.mark.requirement("cfr820-100a6")
async def test_matching_event_is_delivered_signed_and_reported(notifications: Harness,
                                                               receiver: Receiver) -> None:
    sub = await notifications.subscribe(target=receiver.url(),
                                        filter={"event_types": ["capaflow.capa.*"]})
    assert sub["secret"].startswith("whsec_")
    event = capa_opened()
    await notifications.publish(nc_reported(), NONCONFORMITY_TOPIC)
    await notifications.publish(event, CAPA_TOPIC)

    async def arrived() -> bool:
        return len(receiver.at("/hook")) >= 1

    await eventually(arrived, timeout=15, message="webhook delivery")
    [request] = receiver.at("/hook")
    payload = verify(sub["secret"], request)
    assert payload["id"] == event.get_id() and payload["type"] == "capaflow.capa.opened.v1"
    [delivery] = await notifications.deliveries(subscription_id=sub["id"])
    assert request.headers["webhook-id"] == delivery["id"]

    async def reported() -> bool:
        d = (await notifications.deliveries(subscription_id=sub["id"]))[0]
        return (d["status"] == "delivered"
                and "capaflow.notification.delivered.v1" in await _outbox_types(notifications))

    await eventually(reported, timeout=10, message="delivered + event recorded")
    # The NC event did not match: exactly one request reached the receiver.
    assert len(receiver.received) == 1


async def test_receiver_down_then_up_gets_it_with_the_same_webhook_id(
        notifications: Harness) -> None:
    down = Receiver(port=free_port())  # nothing listens yet: connection refused
    sub = await notifications.subscribe(target=down.url())
    await notifications.publish(capa_opened(), CAPA_TOPIC)

    async def failed_once() -> bool:
        ds = await notifications.deliveries(subscription_id=sub["id"])
        return bool(ds) and ds[0]["attempts"] >= 1 and ds[0]["status"] == "pending"

    await eventually(failed_once, timeout=15, message="a failed attempt")
    await down.start()
    try:
        async def delivered() -> bool:
            ds = await notifications.deliveries(subscription_id=sub["id"])
            return ds[0]["status"] == "delivered"

        await eventually(delivered, timeout=15, message="delivery after receiver is up")
        [delivery] = await notifications.deliveries(subscription_id=sub["id"])
        assert delivery["attempts"] >= 2
        assert [r.headers["webhook-id"] for r in down.received] == [delivery["id"]]
        verify(sub["secret"], down.received[0])
    finally:
        await down.stop()


async def test_410_disables_the_subscription(notifications: Harness, receiver: Receiver) -> None:
    receiver.plan["/gone"] = [(410, {})]
    sub = await notifications.subscribe(target=receiver.url("/gone"))
    await notifications.subscribe(target=receiver.url("/witness"))
    await notifications.publish(capa_opened(), CAPA_TOPIC)

    async def disabled() -> bool:
        response = await notifications.client.get(f"/v1/subscriptions/{sub['id']}",
                                                  headers=notifications.auth("reporter"))
        return response.json()["active"] is False

    await eventually(disabled, timeout=15, message="subscription disabled")
    body = (await notifications.client.get(f"/v1/subscriptions/{sub['id']}",
                                           headers=notifications.auth("reporter"))).json()
    assert "410" in body["disabled_reason"]
    # A disabled subscription gets nothing more.
    await notifications.publish(capa_opened(), CAPA_TOPIC)

    async def witnessed() -> bool:
        return len(receiver.at("/witness")) == 2

    await eventually(witnessed, timeout=15, message="second event delivered elsewhere")
    assert len(receiver.at("/gone")) == 1
    assert len(await notifications.deliveries(subscription_id=sub["id"])) == 1


async def test_429_retry_after_is_honoured(notifications: Harness, receiver: Receiver) -> None:
    receiver.plan["/busy"] = [(429, {"Retry-After": "2"})]
    sub = await notifications.subscribe(target=receiver.url("/busy"))
    await notifications.publish(capa_opened(), CAPA_TOPIC)

    async def throttled() -> bool:
        ds = await notifications.deliveries(subscription_id=sub["id"])
        return bool(ds) and ds[0]["attempts"] == 1

    await eventually(throttled, timeout=15, message="first (429) attempt recorded")
    [d] = await notifications.deliveries(subscription_id=sub["id"])
    wait = (datetime.fromisoformat(d["next_attempt_at"])
            - datetime.fromisoformat(d["last_attempt_at"])).total_seconds()
    assert d["last_status_code"] == 429 and wait >= 2.0  # the schedule alone says 0.2 s

    async def delivered() -> bool:
        return (await notifications.deliveries(subscription_id=sub["id"]))[0]["status"] \
            == "delivered"

    await eventually(delivered, timeout=15, message="delivered after Retry-After")
    first, second = receiver.at("/busy")
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    gap = int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"])
    assert gap >= 1  # whole seconds on the wire; next_attempt_at above is exact


async def test_dead_letter_after_the_last_attempt_then_replay(notifications: Harness,
                                                              receiver: Receiver) -> None:
    receiver.plan["/broken"] = [(500, {})] * 4  # 1 try + 3 retries, all fail
    sub = await notifications.subscribe(target=receiver.url("/broken"))
    await notifications.publish(capa_opened(), CAPA_TOPIC)

    async def dead() -> bool:
        ds = await notifications.deliveries(subscription_id=sub["id"], status="dead_lettered")
        return len(ds) == 1

    await eventually(dead, timeout=20, message="dead-lettered")
    [d] = await notifications.deliveries(subscription_id=sub["id"])
    assert d["attempts"] == 4 and d["last_status_code"] == 500
    assert "capaflow.notification.dead_lettered.v1" in await _outbox_types(notifications)

    response = await notifications.client.post(f"/v1/deliveries/{d['id']}/retry",
                                               headers=notifications.auth("reporter"))
    assert response.status_code == 202, response.text

    async def delivered() -> bool:
        return (await notifications.deliveries(subscription_id=sub["id"]))[0]["status"] \
            == "delivered"

    await eventually(delivered, timeout=15, message="replayed delivery")
    assert {r.headers["webhook-id"] for r in receiver.at("/broken")} == {d["id"]}
    again = await notifications.client.post(f"/v1/deliveries/{d['id']}/retry",
                                            headers=notifications.auth("reporter"))
    assert again.status_code == 409


async def test_fan_out_to_200_subscriptions(notifications: Harness, receiver: Receiver) -> None:
    ids = set()
    for i in range(200):
        sub = await notifications.subscribe(target=receiver.url(f"/fan/{i}"))
        ids.add(sub["id"])
    event = capa_opened()
    await notifications.publish(event, CAPA_TOPIC)

    async def all_arrived() -> bool:
        return len({r.path for r in receiver.received}) == 200

    await eventually(all_arrived, timeout=30, message="200 deliveries")
    assert all(r.json()["id"] == event.get_id() for r in receiver.received)
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 200


async def test_events_of_one_capa_arrive_in_order_and_a_dead_endpoint_delays_no_one(
        notifications: Harness, receiver: Receiver) -> None:
    dead = await notifications.subscribe(target=f"http://127.0.0.1:{free_port()}/never")
    receiver.plan["/ordered"] = [(503, {}), (503, {})]  # the first event fails twice
    receiver.delay["/slow"] = 1.5
    ordered = await notifications.subscribe(target=receiver.url("/ordered"))
    slow = await notifications.subscribe(target=receiver.url("/slow"))
    assert dead and slow
    capa_id = uuid.uuid4()
    events = [capa_opened(capa_id, title=f"step {i}") for i in range(10)]
    for event in events:
        await notifications.publish(event, CAPA_TOPIC)

    async def all_ten() -> bool:
        return len({r.json()["id"] for r in receiver.at("/ordered")}) == 10

    await eventually(all_ten, timeout=20, message="ten ordered deliveries")
    # The slow endpoint (1.5 s a request) is far behind and the dead one got nothing,
    # yet neither held the other subscription up.
    assert len(receiver.at("/slow")) < 5
    seen = [r.json()["id"] for r in receiver.at("/ordered")]
    # Retries repeat the head, but nothing overtakes it: first arrivals are in order.
    first_arrivals = list(dict.fromkeys(seen))
    assert first_arrivals == [e.get_id() for e in events]
    assert seen[:3] == [events[0].get_id()] * 3

    # The worker records a result after the receiver answered (results are
    # written in groups), so the last one may still be pending for a moment.
    async def all_recorded() -> bool:
        deliveries = await notifications.deliveries(subscription_id=ordered["id"])
        return len(deliveries) == 10 and {d["status"] for d in deliveries} == {"delivered"}

    await eventually(all_recorded, timeout=20, message="ten deliveries recorded as delivered")


async def test_secret_rotation_signs_with_both_secrets_during_the_overlap(
        notifications: Harness, receiver: Receiver) -> None:
    sub = await notifications.subscribe(target=receiver.url("/rotating"))
    response = await notifications.client.post(
        f"/v1/subscriptions/{sub['id']}/rotate-secret", json={"overlap_seconds": 3600},
        headers=notifications.auth("reporter"))
    assert response.status_code == 200, response.text
    new_secret = response.json()["secret"]
    assert new_secret != sub["secret"]
    test = await notifications.client.post(f"/v1/subscriptions/{sub['id']}/test",
                                           headers=notifications.auth("reporter"))
    assert test.status_code == 202, test.text

    async def arrived() -> bool:
        return len(receiver.at("/rotating")) == 1

    await eventually(arrived, timeout=15, message="test event")
    [request] = receiver.at("/rotating")
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert verify(sub["secret"], request)["type"] == "capaflow.notification.test.v1"
    assert verify(new_secret, request)["id"]
    assert request.headers["webhook-id"] == test.json()["id"]

    # A retried rotation must not drop the secret receivers still use.
    again = await notifications.client.post(
        f"/v1/subscriptions/{sub['id']}/rotate-secret", json={"overlap_seconds": 3600},
        headers=notifications.auth("reporter"))
    assert again.status_code == 409 and "overlap_ends_at" in again.json()

    # Overlap 0: only the new secret signs.
    await notifications.client.post(f"/v1/subscriptions/{sub['id']}/rotate-secret",
                                    json={"overlap_seconds": 0},
                                    headers=notifications.auth("reporter"))
    async with notifications.app.state.runtime.sessions() as session:
        stored = (await session.exec(select(Subscription).where(
            col(Subscription.id) == uuid.UUID(sub["id"])))).one()
    await notifications.client.post(f"/v1/subscriptions/{sub['id']}/test",
                                    headers=notifications.auth("reporter"))

    async def second() -> bool:
        return len(receiver.at("/rotating")) == 2

    await eventually(second, timeout=15, message="second test event")
    later = receiver.at("/rotating")[1]
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    assert stored.secret is not None
    verify(stored.secret, later)


async def test_slack_payload_has_text_blocks_and_a_link_to_the_capa(
        notifications: Harness, receiver: Receiver) -> None:
    await notifications.subscribe(channel="slack", target=receiver.url("/slack"))
    capa_id = uuid.uuid4()
    await notifications.publish(capa_opened(capa_id), CAPA_TOPIC)

    async def arrived() -> bool:
        return len(receiver.at("/slack")) == 1

    await eventually(arrived, timeout=15, message="slack message")
    payload = json.loads(receiver.at("/slack")[0].body)
    assert "CAPA opened" in payload["text"] and "Seal leak" in payload["text"]
    link = f"{notifications.settings.public_base_url}/v1/capas/{capa_id}"
    buttons = [e for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons[0]["url"] == link


async def test_pending_retries_survive_a_restart(new_sqlite_database: DatabaseFactory,
                                                 api_keys: tuple[Path, dict[str, str]]) -> None:
    url, bus_url = await new_sqlite_database(), await new_sqlite_database()
    await migrate(NOTIFICATIONS_MIGRATIONS, url)
    await migrate(BUS_MIGRATIONS, bus_url)
    receiver = Receiver(port=free_port())  # down during the first run
    # A long first back-off: the retry is due only after the restart.
    async with harness(url, bus_url, *api_keys, retry_schedule=[2.0, 0.2]) as h:
        sub = await h.subscribe(target=receiver.url())
        await h.publish(capa_opened(), CAPA_TOPIC)

        async def failed_once() -> bool:
            ds = await h.deliveries()
            return bool(ds) and ds[0]["attempts"] == 1

        await eventually(failed_once, timeout=15, message="first attempt failed")
        [before] = await h.deliveries()
    await receiver.start()
    try:
        async with harness(url, bus_url, *api_keys) as h:
            async def delivered() -> bool:
                return (await h.deliveries())[0]["status"] == "delivered"

            await eventually(delivered, timeout=15, message="delivered after restart")
            [after] = await h.deliveries()
        assert after["id"] == before["id"] and after["attempts"] == 2
        [request] = receiver.received
        assert request.headers["webhook-id"] == before["id"]
        verify(sub["secret"], request)
    finally:
        await receiver.stop()
