"""The on-disk spool: usage records wait in SQLite (WAL mode) until every sink has them.

One database per spool directory, shared by every worker of a server (SQLite's WAL
lets several processes write; each waits up to ``busy_timeout`` for the lock). Records
keep their insertion order (``seq``); each sink keeps a cursor, the last ``seq`` it
delivered, and a record is deleted once every sink's cursor is past it and it is older than
``retention_s`` (0: at once). With no sink, nothing waits for a record: it is deleted once
older than ``retention_s`` (0: in the transaction that stores it, after it is added to the
totals), so a spool kept for budgets or ``GET /usage`` alone does not grow. One worker at a
time sends: it holds a lease row, renewed while it sends and taken over by another
worker when it expires, or at once when its owner is a process of this host that no
longer exists (a server restarted after a ``kill -9`` sends without waiting out the lease).

Bounded: past ``max_records`` the oldest records are deleted; those some sink still lacked
are counted as dropped. Every stored
record is also added to the hourly totals (:mod:`.totals`) in the same transaction: they
outlive the records, for ``GET /usage`` and ``monitor usage``.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from . import daytotals
from .totals import SCHEMA as _TOTALS_SCHEMA
from .totals import add_totals

__all__ = ["DB_NAME", "Spool", "SpoolStats", "lease_owner"]

DB_NAME = "usage.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (sink TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS lease (one INTEGER PRIMARY KEY CHECK (one = 1), owner TEXT, expires REAL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class SpoolStats:
    """What waits in the spool."""

    records: int  #: records some sink still lacks (0 with no sink: none waits)
    oldest_unsent_age_s: float | None  #: age of the oldest of them
    dropped: int  #: records dropped because the spool was full (ever, this spool)


class Spool:
    """One connection to the spool of ``directory`` (one per thread: SQLite connections are not shared).

    >>> import tempfile
    >>> spool = Spool(tempfile.mkdtemp(), sinks=("jsonl",))
    >>> spool.add([{"id": "r-0", "type": "llm"}])
    1
    >>> [r["id"] for _, r in spool.pending("jsonl", 10)]
    ['r-0']
    """

    def __init__(
        self,
        directory: str,
        *,
        sinks: Sequence[str] = (),
        max_records: int = 1_000_000,
        retention_s: float = 0.0,
        busy_timeout_s: float = 30.0,
    ) -> None:
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, DB_NAME)
        self.sinks = tuple(sinks)
        self.max_records = max_records
        self.retention_s = retention_s
        self._db = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed record survives power loss, too
        for statement in (*_SCHEMA.strip().split(";"), _TOTALS_SCHEMA, daytotals.NOTICES_SCHEMA):
            if statement.strip():
                self._db.execute(statement)
        for sink in self.sinks:
            self._db.execute("INSERT OR IGNORE INTO cursors (sink, seq) VALUES (?, 0)", (sink,))

    def close(self) -> None:
        self._db.close()

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)

    def add(self, records: Iterable[dict[str, Any]]) -> int:
        """Store ``records`` and add them to the totals, in one transaction (an id already there is
        skipped); returns how many were stored."""
        now = time.time()
        batch = [(r, (r["id"], now, json.dumps(r, separators=(",", ":"), default=str))) for r in records]
        if not batch:
            return 0
        with self._tx():
            insert = "INSERT OR IGNORE INTO records (id, created, body) VALUES (?, ?, ?)"
            stored = [record for record, row in batch if self._db.execute(insert, row).rowcount == 1]
            add_totals(self._db, stored)
            self._expire(now)
            self._trim()
        return len(stored)

    def _sent_up_to(self) -> int | None:
        """The last ``seq`` every sink has (None with no sink: every record)."""
        if not self.sinks:
            return None
        placeholders = ",".join("?" * len(self.sinks))
        row = self._db.execute(
            f"SELECT MIN(seq) FROM cursors WHERE sink IN ({placeholders})", self.sinks
        ).fetchone()
        return int(row[0] or 0)

    def _trim(self) -> None:
        # Records are only ever deleted oldest first, so seq has no holes: the count is a subtraction.
        low, high = self._db.execute("SELECT MIN(seq), MAX(seq) FROM records").fetchone()
        excess = (high - low + 1 if high is not None else 0) - self.max_records
        if excess > 0:
            last = low + excess - 1
            self._db.execute("DELETE FROM records WHERE seq <= ?", (last,))
            sent = self._sent_up_to()
            dropped = 0 if sent is None else last - max(sent, low - 1)  # only what a sink lacked
            if dropped > 0:
                self._db.execute(
                    "INSERT INTO counters (name, value) VALUES ('dropped', ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                    (dropped,),
                )

    def pending(self, sink: str, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """Up to ``limit`` records ``sink`` has not had yet, oldest first, with their ``seq``."""
        rows = self._db.execute(
            "SELECT seq, body FROM records WHERE seq > (SELECT seq FROM cursors WHERE sink = ?) "
            "ORDER BY seq LIMIT ?",
            (sink, limit),
        ).fetchall()
        return [(seq, json.loads(body)) for seq, body in rows]

    def delivered(self, sink: str, seq: int) -> None:
        """``sink`` has every record up to ``seq``; delete what every sink has."""
        with self._tx():
            self._db.execute("UPDATE cursors SET seq = MAX(seq, ?) WHERE sink = ?", (seq, sink))
            self._expire(time.time())

    def _expire(self, now: float) -> None:
        """Delete the records every sink has (every record, with no sink) that are older than the
        retention. Oldest first: the walk stops at the first record to keep."""
        bound = self._sent_up_to()
        if bound == 0:
            return
        if self.retention_s > 0:  # walks the expired records (deleted next) and one more
            first_kept = self._db.execute(
                "SELECT seq FROM records WHERE seq <= ? AND created > ? ORDER BY seq LIMIT 1",
                (2**62 if bound is None else bound, now - self.retention_s),
            ).fetchone()
            if first_kept is not None:
                bound = first_kept[0] - 1
        if bound is None:
            self._db.execute("DELETE FROM records")
        else:
            self._db.execute("DELETE FROM records WHERE seq <= ?", (bound,))

    def acquire_lease(self, owner: str, ttl_s: float) -> bool:
        """Take or renew the sender lease for ``ttl_s`` seconds; False while another owner holds it.

        ``owner``: a :func:`lease_owner` string; a lease whose owner is a dead process of
        this host is taken over before it expires.
        """
        now = time.time()
        with self._tx():
            self._db.execute("INSERT OR IGNORE INTO lease (one, owner, expires) VALUES (1, NULL, 0)")
            holder, expires = self._db.execute("SELECT owner, expires FROM lease WHERE one = 1").fetchone()
            if holder != owner and expires >= now and not _dead(holder):
                return False
            self._db.execute("UPDATE lease SET owner = ?, expires = ? WHERE one = 1", (owner, now + ttl_s))
            return True

    def release_lease(self, owner: str) -> None:
        """Give the lease up (clean shutdown), so another worker sends at once."""
        with self._tx():
            self._db.execute("UPDATE lease SET expires = 0 WHERE one = 1 AND owner = ?", (owner,))

    def stats(self) -> SpoolStats:
        """Unsent records, the oldest one's age, drops (with no sink, nothing is unsent)."""
        count, oldest = 0, None
        sent = self._sent_up_to()
        if sent is not None:
            count, oldest = self._db.execute(
                "SELECT COUNT(*), MIN(created) FROM records WHERE seq > ?", (sent,)
            ).fetchone()
        row = self._db.execute("SELECT value FROM counters WHERE name = 'dropped'").fetchone()
        age = max(time.time() - oldest, 0.0) if oldest is not None else None
        return SpoolStats(count, age, row[0] if row else 0)

    def day_totals(self, at: float) -> list[daytotals.DayTotal]:
        """LLM totals of every agent and model on the UTC day of ``at``, from every worker (budgets)."""
        return daytotals.read_day_totals(self._db, at)

    def claim_notice(self, day: str, budget: str, kind: str) -> bool:
        """True for the one worker that is first to announce ``kind`` of ``budget`` on ``day``."""
        return daytotals.claim_notice(self._db, day, budget, kind)

    def prune_notices(self, now: float) -> None:
        """Forget old budget notices."""
        daytotals.prune_notices(self._db, now)

    def all_records(self) -> list[dict[str, Any]]:
        """Every record still in the spool: unsent, or within ``usage.retention``."""
        return [json.loads(body) for (body,) in self._db.execute("SELECT body FROM records ORDER BY seq")]


def lease_owner() -> str:
    """A lease owner name for this process: ``host:pid:random`` (unique, and its liveness checkable)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _dead(owner: str | None) -> bool:
    """Whether ``owner`` names a process of this host that no longer exists."""
    host, _, rest = (owner or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False  # another host (or pid namespace) or this process: wait for the expiry
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, but not ours to signal
        return False
    return False


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
