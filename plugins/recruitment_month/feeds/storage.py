"""How a load writes to one kind of database (docs/feeds.md): one class per SQL dialect.

:func:`storage_for` picks the class from the engine's dialect once, at the start of a load; the load
itself (``feeds.load``) never asks which database it is on. Every method is called inside the load's
transaction, with its connection:

* :meth:`Storage.lock_platform`: one load of a platform merges at a time (loads of several intervals may
  run side by side);
* :meth:`Storage.known_items`: item hash → posting id, of the item each stored posting was last
  delivered as;
* :meth:`Storage.copy_rows`: rows (tuples in the order of a table's columns) into a table, the fastest
  way the database has;
* :meth:`Storage.stage` and :meth:`Storage.stage_seen`: a load's postings into ``stg_posting`` and the
  ids of those delivered identical into ``stg_posting_seen``, replacing the platform's previous load;
* :meth:`Storage.first_load`: a platform's first load straight into the core layer when the database
  does that faster than the merge from staging (None: merge as usual).

A new database: subclass :class:`Storage`, override what it does differently, and add the class to
``_BY_DIALECT``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from operator import itemgetter
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection, Engine


@dataclass(frozen=True)
class Batch:
    """One load as it is written: its id, the moment its postings were seen (the interval's end), the
    platform, the postings to stage (sorted by posting id) and the (posting id, item hash) of those
    delivered identical to their last item."""

    load_id: str
    seen_at: datetime
    platform_code: str
    postings: list[dict]
    identical: list[tuple[str, str]]


class Storage:
    """A load's writes, as standard SQL through SQLAlchemy; subclasses do what their database does
    better."""

    dialect: ClassVar[str] = ""

    def __init__(self, engine: Engine):
        self.engine = engine

    def lock_platform(self, conn: Connection, platform_code: str) -> None:
        raise NotImplementedError

    def known_items(self, conn: Connection, platform_code: str) -> dict[str, str]:
        """Item hash → posting id, of the item each of the platform's postings was last delivered as."""
        from sqlalchemy import select

        from recruitment_month.schema import core_posting_seen as t

        query = select(t.c.item_hash, t.c.posting_id).where(
            t.c.platform_code == platform_code, t.c.item_hash.is_not(None)
        )
        return dict(conn.execute(query).all())

    def copy_rows(self, conn: Connection, table: Table, rows: Iterable[tuple]) -> None:
        """``rows``, tuples in the order of ``table``'s columns, into ``table``."""
        names = [c.name for c in table.columns]
        records = [dict(zip(names, row, strict=True)) for row in rows]
        if records:
            conn.execute(table.insert(), records)

    def stage(self, conn: Connection, batch: Batch) -> None:
        """``stg_posting``: the batch's postings, replacing the platform's previous load there."""
        from sqlalchemy import delete

        from recruitment_month.schema import stg_posting

        conn.execute(delete(stg_posting).where(stg_posting.c.platform_code == batch.platform_code))
        if not batch.postings:
            return
        columns = [c.name for c in stg_posting.columns]
        if (columns[0], columns[-1]) != ("load_id", "seen_at"):
            raise RuntimeError(f"stg_posting's columns are not in the expected order: {columns}")
        values = itemgetter(*columns[1:-1])
        head, tail = (batch.load_id,), (batch.seen_at,)
        self.copy_rows(conn, stg_posting, (head + values(row) + tail for row in batch.postings))

    def stage_seen(self, conn: Connection, batch: Batch) -> None:
        """``stg_posting_seen``: (posting id, item hash) of the postings delivered identical to their last
        item."""
        from sqlalchemy import delete

        from recruitment_month.schema import stg_posting_seen as t

        conn.execute(delete(t).where(t.c.platform_code == batch.platform_code))
        columns = [c.name for c in t.columns]
        if columns != ["load_id", "platform_code", "posting_id", "item_hash", "seen_at"]:
            raise RuntimeError(f"stg_posting_seen's columns are not the expected ones: {columns}")
        load, code, seen_at = batch.load_id, batch.platform_code, batch.seen_at
        self.copy_rows(
            conn, t, ((load, code, posting_id, digest, seen_at) for posting_id, digest in batch.identical)
        )

    def first_load(self, conn: Connection, batch: Batch) -> dict[str, int] | None:
        """A platform's first load written straight into the core layer, with its counts; None when this
        database merges it from staging like any other."""
        return None


class SQLiteStorage(Storage):
    """SQLite: executemany; one writer at a time, so no lock of its own."""

    dialect = "sqlite"

    def lock_platform(self, conn: Connection, platform_code: str) -> None:
        """Nothing to do: staging's first write takes SQLite's write lock, which serialises loads."""


class PostgresStorage(Storage):
    """PostgreSQL: binary ``COPY``, an advisory lock per platform, and a platform's first load copied
    straight into the core layer (``copy_first_load``; False: merged from staging, as on SQLite)."""

    dialect = "postgresql"

    def __init__(self, engine: Engine, *, copy_first_load: bool = True):
        super().__init__(engine)
        self.copy_first_load = copy_first_load

    def lock_platform(self, conn: Connection, platform_code: str) -> None:
        """A transaction-level advisory lock, released when the load's transaction ends."""
        from sqlalchemy import text

        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"job_feeds/{platform_code}"}
        )

    def known_items(self, conn: Connection, platform_code: str) -> dict[str, str]:
        """As :meth:`Storage.known_items`, with plain tuples from the driver: a third of the time."""
        sql = (
            "SELECT item_hash, posting_id FROM core_posting_seen "
            "WHERE platform_code = %s AND item_hash IS NOT NULL"
        )
        with conn.connection.driver_connection.cursor() as cur:
            return dict(cur.execute(sql, (platform_code,)).fetchall())

    def copy_rows(self, conn: Connection, table: Table, rows: Iterable[tuple]) -> None:
        """``COPY … FROM STDIN`` in the binary format: half the cost of the text format, for the parsing
        of times and numbers it spares."""
        names = ", ".join(c.name for c in table.columns)
        raw = conn.connection.driver_connection
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY {table.name} ({names}) FROM STDIN WITH (FORMAT BINARY)") as copy,
        ):
            copy.set_types([_binary_type(c) for c in table.columns])
            for row in rows:
                copy.write_row(row)

    def first_load(self, conn: Connection, batch: Batch) -> dict[str, int] | None:
        """``COPY`` straight into ``core_posting`` and ``core_posting_seen``, without staging. With nothing
        to merge with, the merge would only insert every staged posting (closed if its valid_through has
        passed at ``seen_at``) and when it was seen (first and last at ``seen_at``): the SQL of
        ``include/sql/first_load/``, which this must write the same as. Copying the rows spares writing
        and reading them once more. ``stg_posting`` is cleared of the platform, as a load through it would
        replace them."""
        if not self.copy_first_load or batch.identical:
            return None
        from sqlalchemy import delete

        from recruitment_month.schema import core_posting, core_posting_seen, stg_posting, stg_posting_seen

        if batch.seen_at.tzinfo is None:
            raise ValueError(
                f"naive datetime {batch.seen_at!r}: the warehouse stores timezone-aware timestamps"
            )
        for table in (stg_posting, stg_posting_seen):
            conn.execute(delete(table).where(table.c.platform_code == batch.platform_code))
        columns = [c.name for c in core_posting.columns]
        if columns[-2:] != ["closed_at", "load_id"]:
            raise RuntimeError(f"core_posting's columns are not in the expected order: {columns}")
        seen_columns = [c.name for c in core_posting_seen.columns]
        if seen_columns != ["platform_code", "posting_id", "first_seen_at", "last_seen_at", "item_hash"]:
            raise RuntimeError(f"core_posting_seen's columns are not the expected ones: {seen_columns}")
        values = itemgetter(*columns[:-2])
        valid_through = itemgetter("valid_through")
        load, seen_at, code = batch.load_id, batch.seen_at, batch.platform_code
        self.copy_rows(
            conn,
            core_posting,
            (
                values(row)
                + ((v, load) if (v := valid_through(row)) is not None and v <= seen_at else (None, load))
                for row in batch.postings
            ),
        )
        self.copy_rows(
            conn,
            core_posting_seen,
            ((code, row["posting_id"], seen_at, seen_at, row["item_hash"]) for row in batch.postings),
        )
        count = len(batch.postings)
        return {"staged": count, "new": count, "updated": 0}


def _binary_type(column) -> str:
    """The PostgreSQL type psycopg writes a column's values as (text serves varchar columns too)."""
    kind = getattr(column.type, "impl", column.type).python_type  # a TypeDecorator: what it stores
    if kind is datetime:
        return "timestamptz"
    return {str: "text", int: "int4", date: "date", float: "float8", bool: "bool"}[kind]


_BY_DIALECT: dict[str, type[Storage]] = {cls.dialect: cls for cls in (SQLiteStorage, PostgresStorage)}


def storage_for(engine: Engine) -> Storage:
    """The storage of the engine's database, with its defaults."""
    try:
        cls = _BY_DIALECT[engine.dialect.name]
    except KeyError:
        raise ValueError(
            f"no feed storage for the {engine.dialect.name} dialect (there is: {', '.join(sorted(_BY_DIALECT))})"
        ) from None
    return cls(engine)
