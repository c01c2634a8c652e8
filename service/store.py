"""The case store: per note, text-free findings (``msp_nlp.batch.summary_json``) keyed by case and note id.

What is stored per note: ``case_id``, ``note_id``, ``date`` and the summary (labels, offsets, scores, discounted
reasons, closing) - never the note text, the adult's name, the author or the team.  SQLite by default (one file, no
set-up); any SQLAlchemy URL, e.g. ``postgresql+psycopg://user@host/db``, by configuration.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from sqlalchemy import (Column, DateTime, Integer, MetaData, String, Table, Text, UniqueConstraint, create_engine,
                        delete, event, exc, insert, select, text, update)
from sqlalchemy.engine import Engine, make_url

from msp_nlp.batch import analysis_from_summary, summary_json
from msp_nlp.flags import CaseResult, NoteFindings, case_result
from msp_nlp.pipeline import NoteAnalysis

ID_MAX = 200
DATE_MAX = 40

metadata = MetaData()

case_notes = Table(
    "msp_case_notes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # arrival order: breaks date ties
    Column("case_id", String(ID_MAX), nullable=False),
    Column("note_id", String(ID_MAX), nullable=False),
    Column("note_date", String(DATE_MAX), nullable=True),
    Column("summary", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("case_id", "note_id", name="uq_msp_case_notes_case_note"),
)


def safe_url(url: str) -> str:
    """The URL with any password hidden (for messages)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is reported without its value
        return "<unparsable database URL>"


class CaseStore:
    def __init__(self, url: str):
        u = make_url(url)
        kwargs: dict = {"pool_pre_ping": True}
        self.is_sqlite = u.get_backend_name() == "sqlite"
        if self.is_sqlite:
            db = u.database
            if db and db != ":memory:" and not db.startswith("file:"):
                _create_private_file(db)
            kwargs = {"connect_args": {"timeout": 30, "check_same_thread": False}}
            if not db or db == ":memory:":
                from sqlalchemy.pool import StaticPool
                kwargs["poolclass"] = StaticPool  # one shared in-memory database
        self.engine: Engine = create_engine(u, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._create_tables()

    def _create_tables(self) -> None:
        try:
            metadata.create_all(self.engine, checkfirst=True)
        except exc.DBAPIError:  # another worker created it at the same moment
            metadata.create_all(self.engine, checkfirst=True)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001
            return False

    def record(self, case_id: str, note_id: str, date: str | None, analysis: NoteAnalysis) -> CaseResult:
        """Store (or replace: idempotent per case and note id) a note's findings; return the case's result."""
        summary = summary_json(analysis)
        now = datetime.now(timezone.utc)
        for attempt in range(3):
            try:
                with self.engine.begin() as conn:
                    r = conn.execute(update(case_notes)
                                     .where(case_notes.c.case_id == case_id, case_notes.c.note_id == note_id)
                                     .values(note_date=date, summary=summary, updated_at=now))
                    if r.rowcount == 0:
                        conn.execute(insert(case_notes).values(case_id=case_id, note_id=note_id, note_date=date,
                                                               summary=summary, updated_at=now))
                    return self._case(conn, case_id)
            except exc.IntegrityError:  # the same note inserted concurrently: the update path wins next time
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def case(self, case_id: str) -> CaseResult | None:
        with self.engine.connect() as conn:
            return self._case(conn, case_id)

    @staticmethod
    def _case(conn, case_id: str) -> CaseResult | None:
        rows = conn.execute(select(case_notes.c.id, case_notes.c.note_id, case_notes.c.note_date, case_notes.c.summary)
                            .where(case_notes.c.case_id == case_id).order_by(case_notes.c.id)).all()
        if not rows:
            return None
        notes = [NoteFindings(nid, analysis_from_summary(s), d, order) for order, (_, nid, d, s) in enumerate(rows)]
        return case_result(case_id, notes)

    def delete_case(self, case_id: str) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(case_notes).where(case_notes.c.case_id == case_id)).rowcount

    def delete_note(self, case_id: str, note_id: str) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(case_notes).where(case_notes.c.case_id == case_id,
                                                         case_notes.c.note_id == note_id)).rowcount

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer (several workers)
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA secure_delete=ON")  # deleted findings are overwritten, not left in free pages
    cur.close()


def _create_private_file(path: str) -> None:
    """Create the SQLite file readable by its owner only (if it does not exist yet)."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
    except FileExistsError:
        pass
