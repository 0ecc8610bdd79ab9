"""Subscription pages against a fake notifications API: every form carries the
session's token, actions the API refuses come back as messages, and test event,
pause/resume, retry and delete send what the API expects."""

import json
import re

import httpx
from fastapi.testclient import TestClient

from tests.unit.web.conftest import FakeApi, sign_in
from tests.unit.web.fake_notifications import (
    FakeSubscriptions,
    create_form,
    problem,
    sent,
)


def test_every_form_on_the_pages_carries_the_sessions_token(ui: TestClient,
                                                          subs: FakeSubscriptions) -> None:
    csrf = sign_in(ui, "manager")
    new = ui.get("/subscriptions/new")
    ui.post("/subscriptions", data=create_form() | {"csrf_token": csrf})
    sub_id = next(iter(subs.subs))
    subs.test_event(sub_id, status="dead_lettered")
    detail = ui.get(f"/subscriptions/{sub_id}")
    for page in (new, detail):
        forms = re.findall(r'<form method="post" action="(/subscriptions[^"]*)"[^>]*>(.*?)</form>',
                           page.text, re.S)
        assert forms
        for action, body in forms:
            assert f'name="csrf_token" value="{csrf}"' in body, action
    actions = set(re.findall(r'<form method="post" action="([^"]+)"', detail.text))
    assert {f"/subscriptions/{sub_id}/{a}" for a in ("test", "active", "rotate-secret",
                                                      "delete")} < actions


def test_actions_refused_by_the_api_come_back_as_a_message(ui: TestClient,
                                                            fake_api: FakeApi,
                                                            subs: FakeSubscriptions) -> None:
    csrf = sign_in(ui, "manager")
    ui.post("/subscriptions", data=create_form() | {"csrf_token": csrf})
    sub_id = next(iter(subs.subs))
    fake_api.on("POST", f"/v1/subscriptions/{sub_id}/test",
                problem(403, "Someone else's subscription."))
    answer = ui.post(f"/subscriptions/{sub_id}/test", data={"csrf_token": csrf})
    assert answer.status_code == 303
    page = ui.get(answer.headers["location"])
    assert page.status_code == 200
    assert "You are not allowed to do this: Someone else&#39;s subscription." in page.text
    fake_api.on("POST", f"/v1/subscriptions/{sub_id}/test",
                problem(409, "The subscription is not active; activate it first."))
    ui.post(f"/subscriptions/{sub_id}/test", data={"csrf_token": csrf})
    assert "activate it first" in ui.get(f"/subscriptions/{sub_id}").text


def test_test_event_pause_resume_retry_and_delete(ui: TestClient, fake_api: FakeApi,
                                                  subs: FakeSubscriptions) -> None:
    csrf = sign_in(ui, "manager")
    ui.post("/subscriptions", data=create_form() | {"csrf_token": csrf})
    sub_id = next(iter(subs.subs))
    assert ui.post(f"/subscriptions/{sub_id}/test",
                   data={"csrf_token": csrf}).status_code == 303
    page = ui.get(f"/subscriptions/{sub_id}")
    assert "Test event queued" in page.text and "capaflow.notification.test.v1" in page.text
    assert ">Retry<" not in page.text  # pending: nothing to retry

    dead = subs.test_event(sub_id, status="dead_lettered")
    dead_id = json.loads(dead.content)["id"]
    subs.deliveries[-1] |= {"attempts": 8, "last_error": "HTTP 500 from target",
                            "last_status_code": 500}
    page = ui.get(f"/subscriptions/{sub_id}")
    assert "HTTP 500 from target" in page.text and page.text.count(">Retry<") == 1
    assert f"/deliveries/{dead_id}/retry" in page.text
    fake_api.on("POST", f"/v1/deliveries/{dead_id}/retry",
                httpx.Response(202, json=subs.deliveries[-1] | {"status": "pending"}))
    assert ui.post(f"/subscriptions/{sub_id}/deliveries/{dead_id}/retry",
                   data={"csrf_token": csrf}).status_code == 303
    assert sent(fake_api, "POST", f"/v1/deliveries/{dead_id}/retry")

    ui.post(f"/subscriptions/{sub_id}/active", data={"active": "false", "csrf_token": csrf})
    assert json.loads(sent(fake_api, "PATCH", f"/v1/subscriptions/{sub_id}")[-1].content) == {
        "active": False}
    assert ">Resume<" in ui.get(f"/subscriptions/{sub_id}").text

    ui.post(f"/subscriptions/{sub_id}/delete", data={"csrf_token": csrf})  # not confirmed
    assert not sent(fake_api, "DELETE", f"/v1/subscriptions/{sub_id}")
    gone = ui.post(f"/subscriptions/{sub_id}/delete",
                   data={"confirm": "yes", "csrf_token": csrf})
    assert gone.status_code == 303 and gone.headers["location"] == "/subscriptions"
    assert sub_id not in subs.subs
    assert ui.get(f"/subscriptions/{sub_id}").status_code == 404
