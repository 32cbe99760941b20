"""Leadership: on PostgreSQL, one replica at a time runs the sweeps, held by a session advisory lock."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Connection, Engine, text

log = logging.getLogger("peerbot.leader")

# One lock per schema: deployments (or test runs) sharing a database in separate schemas lead separately.
LOCK_SQL = "SELECT pg_try_advisory_lock(hashtext('peerbot-sweeps:' || current_schema()))"


class Leadership:
    """Asked on every tick; the first replica to take the lock keeps it until its connection dies.

    When the leader dies, PostgreSQL drops its session and the lock with it, and the next replica
    to tick (within a minute: the routing sweep's interval) takes over. SQLite serves one host: always the leader.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def is_leader(self) -> bool:
        if self.engine.dialect.name != "postgresql":
            return True
        with self._lock:
            if self._conn is not None and self._alive(self._conn):
                return True
            self._conn = None
            try:
                conn = self.engine.connect()
                got = bool(conn.execute(text(LOCK_SQL)).scalar())
                conn.commit()  # the lock is the session's: no transaction is left open
            except Exception:
                log.warning("cannot reach the database to take the sweep lock", exc_info=True)
                return False
            if not got:
                conn.close()
                return False
            log.info("this replica now runs the scheduled sweeps")
            self._conn = conn
            return True

    def _alive(self, conn: Connection) -> bool:
        try:
            conn.execute(text("SELECT 1"))
            conn.commit()
            return True
        except Exception:
            log.warning("lost the database session that held the sweep lock", exc_info=True)
            return False

    def release(self) -> None:
        with self._lock:
            if self._conn is not None:
                # A pooled connection outlives close(): drop the database session itself, and the lock with it.
                self._conn.invalidate()
                self._conn.close()
                self._conn = None
