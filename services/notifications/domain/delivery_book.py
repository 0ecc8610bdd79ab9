"""The delivery worker's bookkeeping: which queues are in flight, what waits for a slot.

A queue is the deliveries of one (subscription, subject), sent one at a time
in order. The worker (``service.delivery``) does the I/O — claims, sends,
tasks — and asks this book what it may do; the book never awaits, so every
answer holds until the worker's next await and can be tested on its own.

- *In flight*: queues a drain is sending now; each takes one of the
  ``concurrency`` slots.
- *More*: queues in flight that a dispatch saw more deliveries behind; their
  drain claims the next one instead of waiting for a later dispatch.
- *Hand-off*: a queue's next head claimed while its drain was ending; started
  when that drain ends, so one attempt per queue runs at a time.
- *Waiting*: ids found due (announced on commit, or by the full dispatch), to
  claim as slots free up, oldest first, at most ``max_waiting`` (the newest go:
  they are pending in the database, a later full dispatch finds them).
- *Announced*: ids handed over by a commit, not yet looked at.
"""

from collections.abc import Iterable
from itertools import islice
from typing import Generic, TypeVar
from uuid import UUID

QueueKey = tuple[UUID, str]  # (subscription id, subject)
Item = TypeVar("Item")  # what a started drain carries (the worker's claimed row)

# A few candidates per free slot: some ids are not heads, or another replica's.
CANDIDATES_PER_SLOT = 4


class DeliveryBook(Generic[Item]):
    def __init__(self, *, concurrency: int, batch_size: int, max_waiting: int = 5000) -> None:
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.max_waiting = max_waiting
        self._in_flight: set[QueueKey] = set()
        self._more: set[QueueKey] = set()
        self._handoff: dict[QueueKey, tuple[Item, bool]] = {}
        self._waiting: dict[UUID, None] = {}  # a dict: ordered, no duplicates
        self._announced: list[UUID] = []
        self._closing = False

    # --- what the worker asks --------------------------------------------------

    @property
    def busy(self) -> int:
        """Slots taken: one per queue in flight."""
        return len(self._in_flight)

    @property
    def free_slots(self) -> int:
        """How many deliveries may be claimed now (never more than a batch)."""
        return max(0, min(self.concurrency - self.busy, self.batch_size))

    @property
    def has_pending(self) -> bool:
        """Something waits for a slot or a look: the worker should run a dispatch."""
        return bool(self._waiting or self._announced)

    @property
    def waiting(self) -> list[UUID]:
        return list(self._waiting)

    def in_flight(self) -> frozenset[QueueKey]:
        return frozenset(self._in_flight)

    def is_in_flight(self, key: QueueKey) -> bool:
        return key in self._in_flight

    # --- found work --------------------------------------------------------------

    def announce(self, delivery_ids: Iterable[UUID]) -> None:
        """Deliveries a commit of this process queued (looked at by the next dispatch)."""
        self._announced.extend(delivery_ids)

    def take_announced(self) -> list[UUID]:
        announced, self._announced = self._announced, []
        return announced

    def wait_for_slot(self, delivery_ids: Iterable[UUID]) -> None:
        self._waiting.update(dict.fromkeys(delivery_ids))
        while len(self._waiting) > self.max_waiting:
            self._waiting.popitem()  # the newest

    def found_heads(self, heads: Iterable[tuple[UUID, QueueKey, int]]) -> None:
        """The full dispatch's due heads (id, queue, how many pending in it): a head
        of a queue in flight is its drain's business (noted as *more* when others
        wait behind it); every other head waits for a slot."""
        fresh = []
        for delivery_id, key, queued in heads:
            if key in self._in_flight:
                if queued > 1:
                    self._more.add(key)
            else:
                fresh.append(delivery_id)
        self.wait_for_slot(fresh)

    # --- claiming ------------------------------------------------------------------

    def window(self) -> tuple[list[UUID], int] | None:
        """The waiting ids to try to claim next and how many may be claimed, or
        None when nothing waits or no slot is free."""
        free = self.free_slots
        if not self._waiting or free <= 0:
            return None
        size = min(CANDIDATES_PER_SLOT * free, self.batch_size)
        return list(islice(self._waiting, size)), free

    def claimed(self, delivery_ids: Iterable[UUID]) -> None:
        for delivery_id in delivery_ids:
            self._waiting.pop(delivery_id, None)

    def not_claimable(self, window: Iterable[UUID], claimed: Iterable[UUID]) -> set[UUID]:
        """The ids of a window that a claim with free slots left did not take: they
        cannot be claimed now (not heads, another replica's, gone) and stop waiting."""
        rest = set(window) - set(claimed)
        for delivery_id in rest:
            self._waiting.pop(delivery_id, None)
        return rest

    def follow_unclaimed(self, rows: Iterable[tuple[UUID, QueueKey]],
                         in_flight_at_claim: frozenset[QueueKey]) -> bool:
        """Unclaimable deliveries whose queue is ours: a queue still in flight takes
        them next (*more*); one whose drain ended while the claim was out gets them
        back to wait. True when some wait again (the worker should dispatch)."""
        again = []
        for delivery_id, key in rows:
            if key in self._in_flight:
                self._more.add(key)
            elif key in in_flight_at_claim:
                again.append(delivery_id)
        self.wait_for_slot(again)
        return bool(again)

    # --- drains --------------------------------------------------------------------

    def start(self, key: QueueKey, item: Item, more: bool) -> bool:
        """Whether to start a drain of ``key`` with ``item`` now. Not while closing;
        not while the queue is in flight: its ending drain starts ``item`` instead."""
        if self._closing:
            return False
        if key in self._in_flight:
            self._handoff[key] = (item, more)
            return False
        self._in_flight.add(key)
        self._more.discard(key)  # the claimed row's own flag is the fresher word
        return True

    def take_more(self, key: QueueKey) -> bool:
        """Whether a dispatch saw more behind the delivery in flight (asked once)."""
        seen = key in self._more
        self._more.discard(key)
        return seen

    def finish(self, key: QueueKey) -> tuple[Item, bool] | None:
        """A drain ended: its slot is free. Returns what was handed off to its
        queue meanwhile, to start now."""
        self._in_flight.discard(key)
        return self._handoff.pop(key, None)

    def close(self) -> None:
        """No new drains from now on (the worker is stopping)."""
        self._closing = True
