"""Async engines and sessions built from settings, a UTC timestamp type, and
signals that wake a background worker when a transaction left work for it."""

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.types import TypeDecorator
from sqlmodel.ext.asyncio.session import AsyncSession
from typing_extensions import override

from shared import tracing

SessionFactory = async_sessionmaker[AsyncSession]

log = logging.getLogger(__name__)
T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware UTC datetimes; SQLite hands back naive ones, so re-attach UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @override
    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; CAPAflow stores UTC only")
        return value.astimezone(UTC)

    @override
    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLSTATE classes meaning "could not talk to the server": connection
# exceptions (08), operator intervention such as shutdown or startup (57P),
# too many connections (53300).
_UNAVAILABLE_STATES = ("08", "57P", "53300")
_UNAVAILABLE_NAMES = {"ConnectionDoesNotExistError", "CannotConnectNowError",
                      "ConnectionFailureError", "AdminShutdownError", "CrashShutdownError"}


def is_unavailable(exc: BaseException) -> bool:
    """True when the database could not be reached (not when it refused the data):
    the request may succeed later, so it is a 503, and a consumer waits rather
    than dead-lettering. Looks through SQLAlchemy's wrapping to the driver error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (OperationalError, InterfaceError, PoolTimeout, OSError,
                                TimeoutError)):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str) and state.startswith(_UNAVAILABLE_STATES):
            return True
        if type(current).__name__ in _UNAVAILABLE_NAMES:
            return True
        current = (getattr(current, "orig", None) or current.__cause__
                   or current.__context__)
    return False


# A transaction the database aborted to break a deadlock or a serialization
# conflict with another one: nothing was written, and the same work run again
# normally succeeds.
_ABORTED_STATES = ("40P01", "40001")


def is_aborted_by_conflict(exc: BaseException) -> bool:
    """True when the database chose this transaction as a deadlock (or
    serialization) victim; looks through SQLAlchemy's wrapping like is_unavailable."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if state in _ABORTED_STATES:
            return True
        current = (getattr(current, "orig", None) or current.__cause__
                   or current.__context__)
    return False


async def retrying_conflicts(sessions: SessionFactory,
                             work: Callable[[AsyncSession], Awaitable[T]],
                             *, attempts: int = 3) -> T:
    """``work(session)`` in one transaction, run again (up to ``attempts`` times in
    all) when the database aborts it as a deadlock victim. For use cases that lock
    many rows at once (an Alertmanager payload updating its NCs) while consumers
    lock some of the same rows in their own order; ``work`` must start afresh."""
    attempt = 1
    while True:
        try:
            async with transaction(sessions) as session:
                return await work(session)
        except DBAPIError as exc:
            if attempt >= attempts or not is_aborted_by_conflict(exc):
                raise
            log.info("transaction aborted by a deadlock (attempt %d/%d); running it again",
                     attempt, attempts)
        attempt += 1
        await asyncio.sleep(random.uniform(0.005, 0.02) * attempt)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    if not is_sqlite(url):
        engine = create_async_engine(url, pool_pre_ping=True, pool_size=pool_size,
                                     max_overflow=10)
    else:
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url,
                                     connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _use_wal_and_immediate_transactions(engine)
    # A span per statement when an exporter is configured; nothing otherwise.
    tracing.instrument_engine(engine)
    return engine


# How long a SQLite writer waits for another connection's (or process's) write
# lock before "database is locked". Writers hold it for one short transaction.
SQLITE_BUSY_TIMEOUT_MS = 30_000

# Execution option marking a connection that will write (see transaction()).
WRITES = {"capaflow_writes": True}


def _use_wal_and_immediate_transactions(engine: AsyncEngine) -> None:
    # WAL lets readers run beside the one writer. A writing transaction takes
    # the write lock up front (BEGIN IMMEDIATE): SQLite's deferred transactions
    # fail at once (SQLITE_BUSY, no retry) when one read, then wants to write
    # after another wrote. Reads begin deferred, so a long write (a 5,000-alert
    # payload) never holds up a read.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Waiting first: switching a new file to WAL takes a lock that another
        # process opening it at the same moment must wait for, not fail on.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        writes = connection.get_execution_options().get("capaflow_writes", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: SessionFactory) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits on success, rolls back on any exception."""
    async with sessions() as session, session.begin():
        await session.connection(execution_options=WRITES)
        yield session


# Commit signals. A worker that polls a table for work (the outbox relay, say)
# waits on commit_signal(); a use case that leaves such work calls
# signal_on_commit() in its transaction. Only this process is woken: workers
# keep polling, more slowly, for what other processes commit.
#
# A signal may carry items (the ids of the rows it left, say): listeners added
# with commit_listener() get them, so a worker starts those rows at once
# without looking for them. commit_signal() is such a listener that only sets
# an event. One mechanism for every "wake a worker after commit".

# session.info keys: items to hand out per channel when the transaction
# commits; hooks set.
_SIGNAL = "capaflow_signal_on_commit"
_HOOKED = "capaflow_commit_hooks"
_Listener = tuple[asyncio.AbstractEventLoop, Callable[[tuple[Any, ...]], None]]
_listeners: dict[tuple[Engine, str], set[_Listener]] = {}


def signal_on_commit(session: AsyncSession, channel: str, items: Iterable[Any] = ()) -> None:
    """Signal this process's listeners on ``channel`` for the session's database
    once its transaction commits, handing them ``items`` (those of every call in
    the transaction, in order); a rollback signals nothing."""
    sync = session.sync_session
    sync.info.setdefault(_SIGNAL, {}).setdefault(channel, []).extend(items)
    if not sync.info.get(_HOOKED):
        # Hooks on this session only: sessions that never signal pay nothing.
        sync.info[_HOOKED] = True
        event.listen(sync, "after_commit", _after_commit)
        event.listen(sync, "after_soft_rollback", _after_rollback)


@contextmanager
def commit_listener(sessions: SessionFactory, channel: str,
                    callback: Callable[[tuple[Any, ...]], None]) -> Iterator[None]:
    """Call ``callback(items)`` in this event loop whenever a transaction on
    ``sessions``' database that signalled ``channel`` commits. The callback runs
    inside the committing code: it must only note the items and return."""
    bind = sessions().sync_session.bind
    if not isinstance(bind, Engine):  # bound to a connection: nothing to key on
        yield
        return
    listener = (asyncio.get_running_loop(), callback)
    _listeners.setdefault((bind, channel), set()).add(listener)
    try:
        yield
    finally:
        listening = _listeners.get((bind, channel), set())
        listening.discard(listener)
        if not listening:
            _listeners.pop((bind, channel), None)


@contextmanager
def commit_signal(sessions: SessionFactory, channel: str) -> Iterator[asyncio.Event]:
    """An event set whenever a transaction on ``sessions``' database that called
    ``signal_on_commit(session, channel)`` commits. Clear it before looking for
    work, so a commit during the look sets it again."""
    wake = asyncio.Event()
    with commit_listener(sessions, channel, lambda _items: wake.set()):
        yield wake


def _after_commit(session: Session) -> None:
    # A released savepoint fires this too, while its rows are not visible yet.
    if session.in_nested_transaction() or not isinstance(session.bind, Engine):
        return
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:  # a synchronous session outside any event loop
        running = None
    signalled: dict[str, list[Any]] = session.info.pop(_SIGNAL, {})
    for channel, items in signalled.items():
        handed = tuple(items)
        for loop, callback in tuple(_listeners.get((session.bind, channel), ())):
            if loop is running:
                try:
                    callback(handed)
                except Exception:
                    # The transaction did commit: a listener's fault must not
                    # make its caller believe otherwise.
                    log.exception("commit listener on %s failed", channel)
            elif not loop.is_closed():
                loop.call_soon_threadsafe(callback, handed)


def _after_rollback(session: Session, previous: SessionTransaction) -> None:
    if previous.parent is None:
        session.info.pop(_SIGNAL, None)
