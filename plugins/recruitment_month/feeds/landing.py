"""The landed raw files of the job feeds, and reading them back (docs/feeds.md).

Landing comes first: the body of every accepted page is appended, byte for byte, as one line of a
gzip-compressed JSON-lines file ``raw_dir/<platform>/<since>_<until>.jsonl.gz`` (UTC,
``%Y%m%dT%H%M%SZ``), before anything else looks at the items. The only change ever made to a body: a
newline (which valid JSON can only hold as insignificant whitespace) becomes a space, so that one page
stays one line. The file is written (by a background thread: zlib releases the GIL) as a hidden ``.part``
file and renamed when the window is complete, so a crashed extraction never leaves a file that looks
complete; a rerun of the window replaces it. Answers that were not the API are recorded with their
reason and (up to 16 kB of) their body in ``<since>_<until>.rejected.jsonl`` next to it.

A page is checked and read by :class:`PageReader`: with msgspec installed (Airflow brings it) a typed
decode builds only each item's id and modification time instead of the whole document, falling back to
``json.loads`` for anything unusual.

Duplicates (:class:`Dedup`): a posting met again (the same id on a repeated page or across pages) is
dropped; per id the occurrence with the latest modification time is kept (the first one on a tie). Ids
are read by ``feeds.identity`` exactly as the normaliser reads ``posting_id``; modification times are
``dateModified`` / ``field_map['modified_at']``. Items without a usable id are all kept: the normaliser
quarantines them. The *winners* (for the ids met more than once only, which occurrence was kept) let
:func:`iter_items` read the raw file in one pass, without them in two.

Pure module: no Airflow import.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import math
import os
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from recruitment_month.feeds import identity

if TYPE_CHECKING:
    from recruitment_month.config import Platform

_STAMP = "%Y%m%dT%H%M%SZ"
_SHANGHAI = ZoneInfo("Asia/Shanghai")
_MISSING = object()
_REJECTED_BODY_CHARS = 16_000
_REJECTED_MAX = 200


# --------------------------------------------------------------------------------------------- paths


def raw_path_for(raw_dir: Path | str, platform_code: str, since: datetime, until: datetime) -> Path:
    """``raw_dir/<platform>/<since>_<until>.jsonl.gz`` with both times in UTC."""
    since, until = utc(since, "since"), utc(until, "until")
    return Path(raw_dir) / platform_code / f"{since:{_STAMP}}_{until:{_STAMP}}.jsonl.gz"


def rejected_path_for(raw_path: Path | str) -> Path:
    raw_path = Path(raw_path)
    return raw_path.with_name(raw_path.name.removesuffix(".jsonl.gz") + ".rejected.jsonl")


def item_keys(platform: Platform) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(id keys, modification-time keys) of a platform's items, first choice first."""
    return identity.id_keys(platform), identity.modified_keys(platform)


def utc(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None:
        raise ValueError(f"{what} {moment} has no time zone")
    return moment.astimezone(UTC)


def redact(text: str, token: str) -> str:
    return text.replace(token, "***") if token and len(token) >= 4 else text


def _instant(value: object) -> tuple[int, float, str]:
    """A sortable modification time: parseable times (zone-less ones in Asia/Shanghai, numbers as epoch
    seconds or milliseconds) sort after anything unreadable, which sorts as text."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return (0, 0.0, value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_SHANGHAI)
        return (1, moment.timestamp(), "")
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return (1, value / 1000 if value > 1e11 else float(value), "")
    return (0, 0.0, "" if value is None else str(value))


def _json_decoder() -> Callable[[bytes], Any]:
    """``json.loads``, or msgspec's decoder (about twice as fast) when it is installed (Airflow brings it);
    anything msgspec refuses goes to ``json.loads``, so both accept the same documents."""
    try:
        import msgspec
    except ImportError:
        return json.loads
    decode = msgspec.json.Decoder().decode
    error = msgspec.DecodeError

    def loads(body: bytes) -> Any:
        try:
            return decode(body)
        except error:
            return json.loads(body)

    return loads


_loads = _json_decoder()


# --------------------------------------------------------------------------------------------- pages


class Dedup:
    """Counts items and finds, for ids met more than once, the occurrence to keep. Per id it holds the
    modification time of the first occurrence (about 170 bytes per posting). Ids are the posting ids of
    ``feeds.identity``, so the items kept are one per loaded posting."""

    def __init__(self, id_keys: tuple[str, ...], modified_keys: tuple[str, ...]):
        self.id_keys = id_keys
        self.modified_keys = modified_keys
        self.seen: dict[str, object] = {}
        self.best: dict[str, object] = {}
        self.winners: dict[str, list[int] | None] = {}
        self.received = 0
        self.duplicates = 0
        self.without_id = 0

    def add(self, page_no: int, data: list) -> None:
        id_keys = self.id_keys
        id_key = id_keys[0]
        key_of = identity.key_of
        self.received += len(data)
        for index, item in enumerate(data):
            if item.__class__ is not dict:
                self.without_id += 1
                continue
            key = item.get(id_key)
            # identity.item_posting_id, with its usual case inline: a million calls saved
            key = key.strip() if key.__class__ is str and key.isprintable() else key_of(item, id_keys, key)
            self._note(key, self._modified(item), page_no, index)

    def _modified(self, item: dict) -> object:
        modified = item.get(self.modified_keys[0])
        if modified is None and len(self.modified_keys) > 1:
            modified = next((item[k] for k in self.modified_keys[1:] if item.get(k) is not None), None)
        return modified

    def add_typed(self, page_no: int, items: list) -> None:
        """Like :meth:`add` for the typed items of :class:`PageReader` (``i``, ``j``: the first and second
        id key's values; ``m``, ``n``: the modification times)."""
        posting_id = identity.posting_id
        self.received += len(items)
        for index, item in enumerate(items):
            key = item.i
            if key is None:
                key = item.j
            key = key.strip() if key.__class__ is str and key.isprintable() else posting_id(key)
            modified = item.m
            self._note(key, item.n if modified is None else modified, page_no, index)

    def _note(self, key: str | None, modified: object, page_no: int, index: int) -> None:
        if not key:
            self.without_id += 1
        elif key in self.seen:
            self._again(key, modified, page_no, index)
        else:
            self.seen[key] = modified

    def _again(self, key: str, modified: object, page_no: int, index: int) -> None:
        self.duplicates += 1
        best = self.best.get(key, self.seen[key])
        if _instant(modified) > _instant(best):
            self.best[key] = modified
            self.winners[key] = [page_no, index]
        else:
            self.winners.setdefault(key, None)

    @property
    def unique(self) -> int:
        return self.received - self.duplicates


class Lander:
    """Appends page bodies, one per line, to a gzip file written by a background thread under a hidden
    temporary name; :meth:`commit` renames it into place, :meth:`abort` removes it."""

    def __init__(self, path: Path, compresslevel: int):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
        self._file = open(self.tmp, "wb")  # noqa: SIM115 - closed by commit/abort
        # mtime=0 and no file name in the header: the same pages give the same bytes
        self._gzip = gzip.GzipFile(
            filename="", mode="wb", fileobj=self._file, compresslevel=compresslevel, mtime=0
        )
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=16)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"land:{path.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        write = self._gzip.write
        while True:
            body = self._queue.get()
            if body is None:
                return
            if self._error is None:
                try:
                    write(body)
                    write(b"\n")
                except BaseException as exc:  # reported to the caller by write/commit
                    self._error = exc

    def write(self, body: bytes) -> None:
        if self._error is not None:
            raise OSError(f"could not write {self.tmp}: {self._error}") from self._error
        self._queue.put(body)

    def _finish_thread(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def commit(self) -> None:
        self._finish_thread()
        if self._error is not None:
            raise OSError(f"could not write {self.tmp}: {self._error}") from self._error
        self._gzip.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self._finish_thread()
        with contextlib.suppress(Exception):
            self._gzip.close()
        with contextlib.suppress(Exception):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


class PageReader:
    """Checks that a body is a page of the API and reads what de-duplication needs. With msgspec, a
    typed decode builds only the id and modification-time fields of each item (validating the rest of
    the document without building it: about 8 times cheaper than a full parse); anything it does not
    take (invalid UTF-8, an item that is not an object, NaN, a missing key ...) gets the full parse,
    which decides and says what is wrong. So both accept exactly what ``json.loads`` accepts."""

    def __init__(self, id_keys: tuple[str, ...], modified_keys: tuple[str, ...]):
        self._typed: Callable[[bytes], Any] | None = None
        self._errors: tuple[type[Exception], ...] = ()
        try:
            import msgspec
        except ImportError:
            return
        alt_id = id_keys[1] if len(id_keys) > 1 else "~no-second-id-key~"
        alt_mod = modified_keys[1] if len(modified_keys) > 1 else "~no-second-modified-key~"
        try:
            item = msgspec.defstruct(
                "FeedItem",
                [
                    ("i", Any, msgspec.field(default=None, name=id_keys[0])),
                    ("j", Any, msgspec.field(default=None, name=alt_id)),
                    ("m", Any, msgspec.field(default=None, name=modified_keys[0])),
                    ("n", Any, msgspec.field(default=None, name=alt_mod)),
                ],
                gc=False,
            )
            page = msgspec.defstruct(
                "FeedPage", [("data", list[item]), ("next_cursor", str | None)], gc=False
            )
        except (TypeError, ValueError):  # e.g. the same key for the id and the time: use the full parse
            return
        self._typed = msgspec.json.Decoder(page).decode
        self._errors = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError)

    def read(self, body: bytes, content_type: str) -> tuple[list | None, bool, str | None, str | None]:
        """(items, typed, next_cursor, None) for a page of the API, else (None, False, None, problem).
        ``typed`` items have the attributes i, j (ids), m, n (times); the others are dicts."""
        if self._typed is not None:
            try:
                body.decode("utf-8")  # msgspec does not check the strings it skips
                page = self._typed(body)
            except self._errors:
                pass
            else:
                return page.data, True, page.next_cursor or None, None
        data, cursor, problem = _check_page(body, content_type)
        return data, False, cursor, problem


def _describe_bad_json(body: bytes, content_type: str, exc: ValueError) -> str:
    if body.lstrip().startswith(b"<") or "html" in content_type.lower():
        return f"an HTML page instead of JSON (Content-Type {content_type or 'none'})"
    if not body.strip():
        return "an empty body"
    return f"invalid JSON ({len(body)} bytes, truncated?): {exc}"


def _check_page(body: bytes, content_type: str) -> tuple[list | None, str | None, str | None]:
    """(data, next_cursor, None) for a page of the API, else (None, None, what is wrong)."""
    try:
        page = _loads(body)
    except ValueError as exc:
        return None, None, _describe_bad_json(body, content_type, exc)
    if page.__class__ is not dict:
        return None, None, f"the JSON is a {type(page).__name__}, not an object with 'data' and 'next_cursor'"
    data = page.get("data", _MISSING)
    if data.__class__ is not list:
        what = "missing" if data is _MISSING else f"a {type(data).__name__}"
        return None, None, f"'data' is {what}, not a list (keys: {', '.join(sorted(page)[:10])})"
    cursor = page.get("next_cursor", _MISSING)
    if cursor is _MISSING:
        return None, None, "no 'next_cursor' in the answer"
    if cursor is not None and cursor.__class__ is not str:
        return None, None, f"'next_cursor' is a {type(cursor).__name__}, not text or null"
    return data, cursor or None, None


@dataclass
class Rejections:
    path: Path
    token: str
    records: list[dict] = field(default_factory=list)
    count: int = 0

    def add(self, url: str, attempt: int, status: int, reason: str, body: bytes) -> None:
        self.count += 1
        if len(self.records) < _REJECTED_MAX:
            text = body[: _REJECTED_BODY_CHARS * 4].decode("utf-8", "replace")[:_REJECTED_BODY_CHARS]
            self.records.append(
                {
                    "at": datetime.now(UTC).isoformat(),
                    "url": url,
                    "attempt": attempt,
                    "status": status,
                    "reason": reason,
                    "bytes": len(body),
                    "body": redact(text, self.token),
                }
            )

    def write(self) -> str | None:
        """Replace the file with this run's rejections (or remove it when there were none)."""
        if not self.records:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return None
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.part")
        with open(tmp, "w", encoding="utf-8") as out:
            for record in self.records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        os.replace(tmp, self.path)
        return str(self.path)


# --------------------------------------------------------------------------------------------- read back


def iter_pages(raw_path: Path | str) -> Iterator[bytes]:
    """The landed pages of a raw file, one body per page, as received (read with ISA-L's inflate, about
    twice as fast as zlib's, when python-isal is installed)."""
    try:
        from isal import igzip as reader
    except ImportError:
        reader = gzip
    with reader.open(raw_path, "rb") as source:
        for line in source:
            line = line.rstrip(b"\n")
            if line:
                yield line


def iter_items(
    raw_path: Path | str, platform: Platform, *, winners: dict[str, list[int] | None] | None = None
) -> Iterator[dict]:
    """The unique postings of a landed raw file, streaming, in feed order: one per id (the latest
    modification time wins), plus every item without a usable id. ``winners`` from the extraction's
    result makes it one pass; without it the file is read twice (once to find the duplicates)."""
    id_keys, modified_keys = item_keys(platform)
    return read_items(Path(raw_path), id_keys, modified_keys, winners)


def iter_item_texts(
    raw_path: Path | str, platform: Platform, *, winners: dict[str, list[int] | None] | None = None
) -> Iterator[Any]:
    """The same postings as :func:`iter_items`, each as its compact JSON text (a ``msgspec.Raw``,
    bytes-like), so that a load can recognise an item it already holds without parsing it: splitting a
    page into its items' texts costs a sixth of parsing it. A page written with spaces after its colons
    is compacted first, so that an item's text does not depend on how a platform spaces its JSON. Pages
    with a posting repeated (``winners``), and pages msgspec does not take (NaN, say), yield their items
    parsed, as dicts."""
    id_keys, modified_keys = item_keys(platform)
    return read_item_texts(Path(raw_path), id_keys, modified_keys, winners)


def read_item_texts(
    path: Path,
    id_keys: tuple[str, ...],
    modified_keys: tuple[str, ...],
    winners: dict[str, list[int] | None] | None,
) -> Iterator[Any]:
    """:func:`iter_item_texts` of a raw file whose items have their ids and modification times under
    ``id_keys`` and ``modified_keys`` (``winners``: from the extraction, None to find them)."""
    if winners is None:
        winners = find_winners(path, id_keys, modified_keys)
    split, errors = _page_splitter()
    if winners or split is None:
        yield from read_items(path, id_keys, modified_keys, winners)
        return
    import msgspec

    compact = msgspec.json.format
    for body in iter_pages(path):
        try:
            # Compact pages (most) are split as they are: finding '": ' costs a tenth of compacting.
            texts = split(compact(body, indent=-1) if _SPACED in body else body).data
        except errors:
            texts = _loads(body)["data"]
        yield from texts


_SPACED = b'": '  # a key, a colon and a space: JSON written with spaces (Python's json, most pretty-printers)


@functools.cache
def _page_splitter() -> tuple[Callable[[bytes], Any] | None, tuple[type[Exception], ...]]:
    try:
        import msgspec
    except ImportError:
        return None, ()
    page = msgspec.defstruct("FeedPageTexts", [("data", list[msgspec.Raw])], gc=False)
    return msgspec.json.Decoder(page).decode, (msgspec.DecodeError, msgspec.ValidationError)


def find_winners(
    raw_path: Path, id_keys: tuple[str, ...], modified_keys: tuple[str, ...]
) -> dict[str, list[int] | None]:
    """A pass over the landed pages: for each posting met more than once, the occurrence to keep."""
    dedup = Dedup(id_keys, modified_keys)
    reader = PageReader(id_keys, modified_keys)
    for page_no, body in enumerate(iter_pages(raw_path)):
        items, typed, _, problem = reader.read(body, "")
        if problem is not None:
            raise ValueError(f"{raw_path}: page {page_no + 1} is not a page of the feed API: {problem}")
        if typed:
            dedup.add_typed(page_no, items)
        else:
            dedup.add(page_no, items)
    return dedup.winners


def read_items(
    raw_path: Path,
    id_keys: tuple[str, ...],
    modified_keys: tuple[str, ...],
    winners: dict[str, list[int] | None] | None,
) -> Iterator[dict]:
    """:func:`iter_items` of a raw file whose items have their ids and modification times under
    ``id_keys`` and ``modified_keys`` (``winners``: from the extraction, None to find them)."""
    if winners is None:  # a first pass finds the duplicates
        winners = find_winners(raw_path, id_keys, modified_keys)
    if not winners:
        for body in iter_pages(raw_path):
            yield from _loads(body)["data"]
        return
    keep = _Keeper(winners, id_keys)
    for page_no, body in enumerate(iter_pages(raw_path)):
        for index, item in enumerate(_loads(body)["data"]):
            if keep(item, page_no, index):
                yield item


class _Keeper:
    """Whether an item is the occurrence of its posting to keep (``winners``: see :class:`Dedup`)."""

    def __init__(self, winners: dict[str, list[int] | None], id_keys: tuple[str, ...]):
        self.winners = winners
        self.id_keys = id_keys
        self.emitted: set[str] = set()

    def __call__(self, item: object, page_no: int, index: int) -> bool:
        key = identity.item_posting_id(item, self.id_keys)
        if not key or key not in self.winners:
            return True
        kept = self.winners[key]
        if kept is not None:
            return kept[0] == page_no and kept[1] == index
        if key in self.emitted:
            return False
        self.emitted.add(key)
        return True
