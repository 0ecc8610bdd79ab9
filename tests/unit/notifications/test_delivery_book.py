"""The delivery worker's bookkeeping, without a database or tasks."""

import uuid
from uuid import UUID

from services.notifications.domain.delivery_book import DeliveryBook, QueueKey


def key(subject: str = "capa-1") -> QueueKey:
    return (UUID(int=1), subject)


def ids(n: int) -> list[UUID]:
    return [uuid.uuid4() for _ in range(n)]


def book(concurrency: int = 4, batch_size: int = 100, max_waiting: int = 5000
         ) -> DeliveryBook[str]:
    return DeliveryBook(concurrency=concurrency, batch_size=batch_size,
                        max_waiting=max_waiting)


def test_a_started_queue_takes_a_slot_until_its_drain_finishes() -> None:
    b = book(concurrency=2)
    assert b.start(key("a"), "a1", more=False) is True
    assert b.is_in_flight(key("a")) and b.busy == 1 and b.free_slots == 1
    assert b.start(key("b"), "b1", more=False) is True
    assert b.free_slots == 0
    assert b.finish(key("a")) is None
    assert not b.is_in_flight(key("a")) and b.free_slots == 1


def test_free_slots_never_exceed_a_batch() -> None:
    assert book(concurrency=50, batch_size=10).free_slots == 10


def test_a_queue_in_flight_is_never_started_twice_its_next_head_is_handed_off() -> None:
    b = book()
    assert b.start(key(), "first", more=False) is True
    # A dispatch claimed the queue's next head while the drain was ending.
    assert b.start(key(), "second", more=True) is False
    assert b.busy == 1
    # The ending drain gets it back, to start now: one attempt per queue at a time.
    assert b.finish(key()) == ("second", True)
    assert b.finish(key()) is None


def test_nothing_starts_once_closing() -> None:
    b = book()
    b.close()
    assert b.start(key(), "x", more=False) is False
    assert b.busy == 0


def test_waiting_ids_are_kept_in_order_once_each_and_the_newest_dropped_past_the_cap() -> None:
    b = book(max_waiting=3)
    first = ids(2)
    b.wait_for_slot(first)
    b.wait_for_slot([first[0]])  # found again: still once, still first
    later = ids(3)
    b.wait_for_slot(later)
    # The newest go: they are pending in the database, a full dispatch finds them.
    assert b.waiting == [*first, later[0]]


def test_the_window_offers_a_few_candidates_per_free_slot_and_nothing_without_one() -> None:
    b = book(concurrency=2, batch_size=100)
    waiting = ids(20)
    b.wait_for_slot(waiting)
    assert b.window() == (waiting[:8], 2)
    b.start(key("a"), "a", more=False)
    b.start(key("b"), "b", more=False)
    assert b.window() is None  # no free slot: the ids keep waiting
    assert b.waiting == waiting
    assert book().window() is None  # nothing waits


def test_the_window_is_capped_by_the_batch_size() -> None:
    b = book(concurrency=10, batch_size=5)
    b.wait_for_slot(ids(100))
    window = b.window()
    assert window is not None and len(window[0]) == 5 and window[1] == 5


def test_claimed_and_unclaimable_ids_stop_waiting() -> None:
    b = book()
    waiting = ids(4)
    b.wait_for_slot(waiting)
    b.claimed([waiting[0]])
    assert b.not_claimable(waiting[:3], [waiting[0]]) == {waiting[1], waiting[2]}
    assert b.waiting == [waiting[3]]


def test_heads_of_queues_in_flight_are_left_to_their_drain() -> None:
    b = book()
    b.start(key("busy"), "x", more=False)
    b.start(key("busy-alone"), "y", more=False)
    busy_head, lone_head, free_head = ids(3)
    b.found_heads([(busy_head, key("busy"), 3), (lone_head, key("busy-alone"), 1),
                   (free_head, key("free"), 1)])
    assert b.waiting == [free_head]
    # More waits behind the one in flight: its drain claims the next one itself.
    assert b.take_more(key("busy")) is True
    assert b.take_more(key("busy")) is False  # told once
    assert b.take_more(key("busy-alone")) is False


def test_a_start_clears_what_a_dispatch_said_about_the_queue_before() -> None:
    b = book()
    b.start(key(), "x", more=False)
    b.found_heads([(uuid.uuid4(), key(), 2)])
    b.finish(key())
    # The claimed row's own "more" flag is the fresher word.
    assert b.start(key(), "y", more=False) is True
    assert b.take_more(key()) is False


def test_unclaimed_deliveries_of_our_queues_are_followed() -> None:
    b = book()
    b.start(key("still"), "x", more=False)
    b.start(key("ended"), "y", more=False)
    at_claim = b.in_flight()
    b.finish(key("ended"))  # its drain ended while the claim was out
    behind_still, behind_ended, elsewhere = ids(3)
    again = b.follow_unclaimed([(behind_still, key("still")), (behind_ended, key("ended")),
                                (elsewhere, key("other replica's"))], at_claim)
    assert again is True
    assert b.take_more(key("still")) is True  # its drain takes it next
    assert b.waiting == [behind_ended]  # claimed again at the next dispatch
    assert b.follow_unclaimed([(elsewhere, key("other replica's"))], at_claim) is False


def test_announced_ids_are_handed_out_once_and_count_as_pending() -> None:
    b = book()
    assert b.has_pending is False
    announced = ids(2)
    b.announce(announced)
    assert b.has_pending is True
    assert b.take_announced() == announced
    assert b.take_announced() == [] and b.has_pending is False
    b.wait_for_slot(announced)
    assert b.has_pending is True
