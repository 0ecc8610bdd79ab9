"""What the OpenAPI says about subscription targets is what the server does
(issue 13.11): shapes per channel, a target of another channel's shape on
PATCH is a 409 (the channel is stored, not sent), and the SSRF guard's
refusal of where a host points has its own documented problem type."""

from tests.integration.notifications.conftest import Harness, Receiver

NOT_ALLOWED = "urn:capaflow:problem:target-not-allowed"


async def test_a_target_of_another_channels_shape_is_a_conflict(notifications: Harness,
                                                                 receiver: Receiver) -> None:
    c, auth = notifications.client, notifications.auth("reporter")
    hook = await notifications.subscribe(target=receiver.url())
    # A team address: a manager subscribes it (for the reporter, who may change it).
    mail = await notifications.subscribe("manager", channel="email", target="qa@example.com",
                                         owner="test-reporter")
    for sub, target in ((hook, "qa@example.com"), (mail, receiver.url())):
        response = await c.patch(f"/v1/subscriptions/{sub['id']}", json={"target": target},
                                 headers=auth)
        assert response.status_code == 409, response.text
        assert response.json()["channel"] == sub["channel"]
    # Neither shape: a 422 like any invalid field; the subscriptions are unchanged.
    bad = await c.patch(f"/v1/subscriptions/{hook['id']}", json={"target": "0"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["field"] == "target"
    kept = await c.get(f"/v1/subscriptions/{hook['id']}", headers=auth)
    assert kept.json()["target"] == receiver.url()


async def test_the_guards_refusal_has_its_own_problem_type(notifications: Harness) -> None:
    c, auth = notifications.client, notifications.auth("reporter")
    for target in ("http://no-such-host.invalid/hook", "http://10.0.0.1/hook"):
        refused = await c.post("/v1/subscriptions", headers=auth,
                               json={"channel": "webhook", "target": target})
        assert refused.status_code == 422, refused.text
        assert refused.json()["type"] == NOT_ALLOWED
    # A malformed target is an ordinary invalid field, not the guard's refusal.
    malformed = await c.post("/v1/subscriptions", headers=auth,
                             json={"channel": "slack", "target": "hooks.slack.com/x"})
    assert malformed.status_code == 422
    assert malformed.json()["type"] == "about:blank" and malformed.json()["field"] == "target"
