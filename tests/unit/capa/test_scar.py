"""SCAR rules: the states and their moves, the response link's token, what a
submitted response needs, hostile text, supplier codes, the rate limit."""

from datetime import UTC, date, datetime, timedelta

import pytest

from services.capa.domain.scar import (
    LINK_OPENS,
    PlannedAction,
    ResponseDraft,
    ScarMove,
    ScarMoveNotAllowed,
    ScarStatus,
    check_action_dates,
    check_due_date,
    hostile_markup,
    issue_token,
    link_expiry,
    link_opens,
    next_status,
    submission_errors,
    token_digest,
    well_formed,
)
from services.capa.domain.scorecard import ScarFacts, ranked, scorecard
from services.capa.domain.supplier import InvalidCode, canonical_code
from shared.errors import Invalid
from shared.http.rate_limit import SlidingWindow

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)


def test_the_supplier_answers_until_accepted_or_revoked() -> None:
    assert next_status(ScarStatus.sent, ScarMove.submit) is ScarStatus.responded
    assert next_status(ScarStatus.responded, ScarMove.reject) is ScarStatus.rejected
    assert next_status(ScarStatus.rejected, ScarMove.submit) is ScarStatus.responded
    assert next_status(ScarStatus.responded, ScarMove.accept) is ScarStatus.accepted
    for status in (ScarStatus.sent, ScarStatus.responded, ScarStatus.rejected):
        assert next_status(status, ScarMove.revoke) is ScarStatus.revoked


@pytest.mark.parametrize("status, move", [
    (ScarStatus.sent, ScarMove.accept), (ScarStatus.sent, ScarMove.reject),
    (ScarStatus.responded, ScarMove.submit), (ScarStatus.accepted, ScarMove.submit),
    (ScarStatus.accepted, ScarMove.revoke), (ScarStatus.revoked, ScarMove.submit),
    (ScarStatus.rejected, ScarMove.accept),
])
def test_moves_out_of_place_are_conflicts(status: ScarStatus, move: ScarMove) -> None:
    with pytest.raises(ScarMoveNotAllowed) as refused:
        next_status(status, move)
    assert refused.value.status == 409
    assert refused.value.extensions["status_now"] == status.value


def test_tokens_are_random_256_bits_and_only_their_hash_is_kept() -> None:
    tokens = [issue_token() for _ in range(200)]
    assert len({t.value for t in tokens}) == 200
    for token in tokens:
        assert well_formed(token.value) and len(token.value) == 43  # 32 bytes, base64url
        assert token.digest == token_digest(token.value) and token.value not in token.digest
        assert len(token.digest) == 64


@pytest.mark.parametrize("value", ["", "A" * 42, "A" * 44, "A" * 42 + "=", "A" * 42 + "/",
                                   "A" * 42 + "\u0410", " " + "A" * 42])
def test_odd_tokens_are_not_well_formed(value: str) -> None:
    assert not well_formed(value)


def test_a_link_opens_until_it_expires_or_is_revoked() -> None:
    expires = NOW + timedelta(days=1)
    assert link_opens(ScarStatus.sent, expires, NOW)
    assert link_opens(ScarStatus.accepted, expires, NOW)  # read-only, the outcome shows
    assert not link_opens(ScarStatus.sent, expires, expires)
    assert not link_opens(ScarStatus.revoked, expires, NOW)
    assert ScarStatus.revoked not in LINK_OPENS


def test_a_link_lives_its_days_and_a_week_past_the_due_date() -> None:
    assert link_expiry(NOW, valid_days=60, due_date=date(2026, 12, 21)) == NOW + timedelta(60)
    late = link_expiry(NOW, valid_days=1, due_date=date(2027, 3, 1))
    assert late == datetime(2027, 3, 8, 9, tzinfo=UTC)


def test_due_dates_from_today_within_a_year() -> None:
    check_due_date(NOW.date(), NOW.date())
    for bad in (NOW.date() - timedelta(days=1), NOW.date() + timedelta(days=400)):
        with pytest.raises(Invalid):
            check_due_date(bad, NOW.date())


def test_a_submitted_response_is_complete() -> None:
    empty = ResponseDraft(None, None, (), None, ())
    assert {f for f, _ in submission_errors(empty)} == {"containment", "root_cause", "whys",
                                                        "corrective_actions"}
    full = ResponseDraft("Quarantined", "Leak", (("w", "b"),) * 3, "Checklist",
                         (PlannedAction("Fix checklist", date(2027, 1, 10)),))
    assert submission_errors(full) == []


def test_action_dates_are_bounded() -> None:
    check_action_dates((PlannedAction("a", date(2026, 6, 1)),), sent_on=NOW.date(),
                       today=NOW.date())
    with pytest.raises(Invalid) as refused:
        check_action_dates((PlannedAction("a", date(2026, 12, 8)),
                            PlannedAction("b", date(9998, 1, 1))), sent_on=NOW.date(),
                           today=NOW.date())
    assert [e["field"] for e in refused.value.extensions["errors"]] == [
        "corrective_actions.1.due_date"]


@pytest.mark.parametrize("text, hostile", [
    ("<script>x</script>", True), ("< SCRIPT >", True), ("see JavaScript:alert(1)", True),
    ("data:text/html;base64,xx", True), ('<a href="https://x">', True), ("<img src=x>", True),
    ("temperature < 80 C and > 20 C", False), ("see https://acme.example/8d", False),
    ("the data: 3 lots", True), ("metadata field", False), ("a <b> c", False),
])
def test_hostile_markup(text: str, hostile: bool) -> None:
    assert hostile_markup(text) is hostile


@pytest.mark.parametrize("given, code", [
    ("acme-seals", "acme-seals"), (" ACME_Seals ", "acme-seals"), ("Acme.Seals", "acme-seals"),
    ("acme -- seals", "acme-seals"), ("\uff21\uff23\uff2d\uff25", "acme"), ("a1", "a1"),
])
def test_supplier_codes_have_one_form(given: str, code: str) -> None:
    assert canonical_code(given) == code


@pytest.mark.parametrize("given", ["a", "--", "acme/seals", "ac\u0441me", "x" * 33, "",
                                   "acme\u200bseals"])
def test_what_is_no_supplier_code(given: str) -> None:
    with pytest.raises(InvalidCode):
        canonical_code(given)


def test_sliding_window() -> None:
    now = [0.0]
    window = SlidingWindow(limit=2, window=60.0, max_keys=2, clock=lambda: now[0])
    assert window.hit("a") is None and window.hit("a") is None
    assert window.hit("a") == 60.0 and window.blocked("a") == 60.0
    now[0] = 30.0
    assert window.blocked("a") == 30.0
    now[0] = 60.0
    assert window.blocked("a") is None and window.hit("a") is None
    window.hit("b")
    window.hit("c")  # forgets the least recently used key
    assert "a" not in window._hits and window.blocked("b") is None


def _scar(sent: datetime, *, due_days: int = 14, responded: float | None = None,
          accepted: float | None = None, open_: bool = False) -> ScarFacts:
    return ScarFacts(supplier_code="acme", sent_at=sent,
                     due_date=(sent + timedelta(due_days)).date(),
                     first_responded_at=sent + timedelta(days=responded) if responded else None,
                     accepted_at=sent + timedelta(days=accepted) if accepted else None,
                     closed_at=None if open_ else sent + timedelta(days=accepted or 1))


def test_a_scorecard_counts_the_period() -> None:
    since, until = NOW - timedelta(days=90), NOW
    card = scorecard(
        "acme", nc_times=[since + timedelta(days=d) for d in (1, 10, 200)],
        earlier_nc=since - timedelta(days=5),
        scars=[_scar(since + timedelta(days=2), responded=3, accepted=10),
               _scar(since + timedelta(days=3), responded=6, accepted=20),  # late
               _scar(since + timedelta(days=80), open_=True),  # not due yet
               _scar(since - timedelta(days=30), responded=1, accepted=2)],  # before
        open_capas=2, since=since, until=until, today=until.date())
    assert card.nonconformities == 2  # day 200 lies after the period
    assert card.repeat_rate == 1.0  # both within 90 days after the one before
    assert card.scars_sent == 3 and card.median_response_days == 4.5
    assert card.on_time_closure == 0.5 and card.open_items == 3


def test_empty_figures_are_null_and_the_ranking_puts_trouble_first() -> None:
    since, until = NOW - timedelta(days=30), NOW
    quiet = scorecard("quiet", nc_times=[], earlier_nc=None, scars=[], open_capas=0,
                      since=since, until=until, today=until.date())
    assert (quiet.repeat_rate, quiet.median_response_days, quiet.on_time_closure) == (
        None, None, None)
    busy = scorecard("busy", nc_times=[since + timedelta(days=1)], earlier_nc=None, scars=[],
                     open_capas=1, since=since, until=until, today=until.date())
    assert busy.repeat_rate == 0.0
    assert [(c.supplier_code, c.rank) for c in ranked([quiet, busy])] == [("busy", 1),
                                                                          ("quiet", 2)]
    inverted = scorecard("busy", nc_times=[since + timedelta(days=1)], earlier_nc=None,
                         scars=[_scar(since + timedelta(days=1))], open_capas=0,
                         since=until, until=since, today=until.date())
    assert (inverted.nonconformities, inverted.scars_sent, inverted.repeat_rate) == (0, 0, None)
