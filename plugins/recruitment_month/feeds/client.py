"""Extraction client for the partner platforms' job feeds (docs/feeds.md).

``extract(platform, since, until, base_url=, token=, raw_dir=)`` pulls every page of one window,
``GET {base_url}/jobs?updated_since=&updated_until=&cursor=&limit=`` with a bearer token, following
``next_cursor`` until it is null, and answers an :class:`ExtractResult` with counters and the path of the
landed raw file. The postings themselves are read back with :func:`iter_items` (or
:meth:`ExtractResult.iter_items`), streaming, so a million postings never sit in memory as dicts.

Landing comes first: the body of every accepted page is appended, byte for byte, as one line of a
gzip-compressed JSON-lines file ``raw_dir/<platform>/<since>_<until>.jsonl.gz`` (UTC,
``%Y%m%dT%H%M%SZ``), before anything else looks at the items. The only change ever made to a body: a
newline (which valid JSON can only hold as insignificant whitespace) becomes a space, so that one page
stays one line. The file is written as a hidden ``.part`` file and renamed when the window is complete, so
a crashed extraction never leaves a file that looks complete; a rerun of the window replaces it.

Speed (a million postings is a normal pull): pages are compressed and written by a background thread
(zlib releases the GIL); the next page is requested as soon as the end of the current body names its
cursor, so it is on its way while this one is checked and counted; with msgspec installed (Airflow brings
it) the check builds only each item's id and modification time instead of the whole document, falling back
to ``json.loads`` for anything unusual. Per item there is an id look-up in a dict, nothing more.

Responses that are ``200`` but not the API (an HTML error page, truncated or invalid JSON, JSON without a
``data`` list or a ``next_cursor``) are not landed in the raw file: they are retried, and each one is
recorded with its reason and (up to 16 kB of) its body in ``<since>_<until>.rejected.jsonl`` next to it,
written at the end of the run whether it succeeds or fails (removed by a rerun that has none).

Retries, two layers:

* transport and status, by urllib3 under the session's ``HTTPAdapter``: connection errors, read
  timeouts and HTTP 429/500/502/503/504 are retried up to ``retries`` times for GET with exponential
  backoff (``backoff_factor`` × 2^n, at most ``backoff_max`` seconds, a little jitter), honouring
  ``Retry-After`` (at most ``retry_after_max`` seconds);
* content, by this module: a body cut off mid-transfer or a 200 that is not the API is retried up to
  ``body_attempts`` times in all, with the same backoff.

Then a :class:`FeedError` names the platform, the URL (never the token) and what was wrong. 401 and 403
raise :class:`FeedAuthError` at once; any other status is not retried beyond urllib3's list.

Paging is guarded: a cursor step (cursor requested → ``next_cursor`` answered) that was already taken in
this extraction is a loop, so the extraction stops there with a warning (:attr:`ExtractResult.warnings`);
a cursor that was already requested is followed again once the step is new, because a feed that served a
page twice answers it with the same cursor (the simulator's ``repeat_page``) and the rest comes after it.
More than ``max_pages`` pages raise a :class:`FeedError`. Requests are paced to the platform's
``rate_limit_per_second``.

Duplicates: a posting met again (the same id on a repeated page or across pages) counts in
``duplicates_dropped``; the unique postings keep, per id, the occurrence with the latest modification time
(the first one on a tie). Ids are ``identifier`` (text or ``PropertyValue``) for JSON-LD and
``field_map['posting_id']`` for the flat shape; modification times ``dateModified`` /
``field_map['modified_at']``. Items without a usable id are all kept: the normaliser quarantines them.
:attr:`ExtractResult.winners` tells, for the ids met more than once only, which occurrence was kept;
``iter_items`` with it reads the raw file in one pass, without it in two.

Limits (``platform.limits``, from ``include/config/platforms.yaml``), each a :class:`FeedLimitError` that
names the platform and the setting, never retried within the try: a body is read in pieces and refused
past ``max_page_bytes`` as received (a declared ``Content-Length`` above it before reading) or past
``max_page_inflated_bytes`` once inflated (a bounded decompressor: a gzip bomb costs the limit, not its
inflated size); an answer must be complete within ``request_deadline_seconds`` of its headers (a server
dripping bytes keeps every single read within the read timeout); an extraction must end within
``extraction_budget_seconds`` (an endless cursor chain). When a limit stops an extraction nothing of the
window is landed, so the next run, starting where the last load ended, pulls the whole window again.

The bearer token is sent in the ``Authorization`` header only and is masked in every message.

Pure module: no Airflow import at module level (:func:`connection_for` imports it when called).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import logging
import math
import os
import queue
import re
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from recruitment_month.config import Platform

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "recruitment-month-feed-client/1.0"
_STAMP = "%Y%m%dT%H%M%SZ"
_SHANGHAI = ZoneInfo("Asia/Shanghai")
_MISSING = object()
_CHUNK = 256 * 1024  # bytes read at a time from a body
_REJECTED_BODY_CHARS = 16_000
_REJECTED_MAX = 200


class FeedError(RuntimeError):
    """An extraction failed; the message names the platform, the URL (without the token) and why."""

    def __init__(self, message: str, *, platform_code: str = "", url: str = "", status: int | None = None):
        super().__init__(message)
        self.platform_code = platform_code
        self.url = url
        self.status = status


class FeedAuthError(FeedError):
    """The platform refused the credentials (HTTP 401/403); retrying does not help."""


class FeedResponseError(FeedError):
    """The platform kept answering with something that is not the feed API."""


class FeedLimitError(FeedError):
    """An answer or an extraction went past one of the platform's limits (``Platform.limits``):
    ``limit`` names the setting. Not retried within the try: the same server does the same again."""

    def __init__(self, message: str, *, limit: str, platform_code: str = "", url: str = ""):
        super().__init__(message, platform_code=platform_code, url=url)
        self.limit = limit


# --------------------------------------------------------------------------------------------- result


@dataclass
class ExtractResult:
    """What :func:`extract` did. ``raw_path`` holds the pages; :meth:`iter_items` reads the postings."""

    platform_code: str
    since: datetime
    until: datetime
    pages: int
    items_received: int
    items_unique: int
    duplicates_dropped: int
    retries: int
    raw_path: str
    rejected_path: str | None = None
    items_without_id: int = 0
    bytes_received: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    winners: dict[str, list[int] | None] = field(default_factory=dict, repr=False)
    """For each id met more than once: the kept occurrence as [page, index] in the raw file, or None for
    its first occurrence. Empty when there were no duplicates."""
    id_keys: tuple[str, ...] = ("identifier",)
    modified_keys: tuple[str, ...] = ("dateModified",)

    def iter_items(self) -> Iterator[dict]:
        """The unique postings, streaming from the raw file in one pass."""
        return _iter_items(Path(self.raw_path), self.id_keys, self.modified_keys, self.winners)

    def iter_item_texts(self) -> Iterator[Any]:
        """The unique postings as their JSON texts (see :func:`iter_item_texts`), in one pass."""
        return _iter_texts(Path(self.raw_path), self.id_keys, self.modified_keys, self.winners)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (XCom): times as ISO-8601 text, tuples as lists."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExtractResult:
        values = dict(data)
        for name in ("since", "until"):
            if isinstance(values.get(name), str):
                values[name] = datetime.fromisoformat(values[name])
        for name in ("id_keys", "modified_keys"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})


# --------------------------------------------------------------------------------------------- helpers


def raw_path_for(raw_dir: Path | str, platform_code: str, since: datetime, until: datetime) -> Path:
    """``raw_dir/<platform>/<since>_<until>.jsonl.gz`` with both times in UTC."""
    since, until = _utc(since, "since"), _utc(until, "until")
    return Path(raw_dir) / platform_code / f"{since:{_STAMP}}_{until:{_STAMP}}.jsonl.gz"


def rejected_path_for(raw_path: Path | str) -> Path:
    raw_path = Path(raw_path)
    return raw_path.with_name(raw_path.name.removesuffix(".jsonl.gz") + ".rejected.jsonl")


def item_keys(platform: Platform) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(id keys, modification-time keys) of a platform's items, first choice first. The flat shape
    falls back to the canonical name, as the normaliser does for a renamed field."""
    if platform.adapter == "flat":
        fmap = platform.field_map or {}
        ids = tuple(dict.fromkeys((fmap.get("posting_id", "posting_id"), "posting_id")))
        modified = tuple(dict.fromkeys((fmap.get("modified_at", "modified_at"), "modified_at")))
        return ids, modified
    return ("identifier",), ("dateModified",)


def make_session(
    *,
    retries: int = 6,
    backoff_factor: float = 0.2,
    backoff_max: float = 10.0,
    retry_after_max: int = 300,
    backoff_jitter: float = 0.1,
) -> requests.Session:
    """A session whose adapter retries GETs on connection errors, read timeouts and 429/5xx."""
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        redirect=5,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        backoff_jitter=backoff_jitter,
        respect_retry_after_header=True,
        retry_after_max=retry_after_max,
        raise_on_status=False,  # the last answer comes back and is reported with its body
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    session.headers["Accept-Encoding"] = "gzip, deflate"  # what _Fetcher inflates with a bound
    return session


def connection_for(platform: Platform) -> tuple[str, str]:
    """(base URL, token): ``platform.base_url`` and the password of the Airflow connection
    ``platform.conn_id``, whose host, when set, overrides the base URL (:mod:`.credentials`)."""
    from recruitment_month.feeds import credentials

    return credentials.resolve(platform)


def _utc(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None:
        raise ValueError(f"{what} {moment} has no time zone")
    return moment.astimezone(UTC)


def _redact(text: str, token: str) -> str:
    return text.replace(token, "***") if token and len(token) >= 4 else text


def _safe_url(url: str) -> str:
    """The URL without user info (the only place besides the header where a secret could sit)."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    return urlunsplit(parts)


def _ident(value: object) -> str | None:
    """An identifier written as text, a number or a PropertyValue (or a list of those)."""
    if isinstance(value, str):
        return value.strip() or None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, dict):
        inner = value.get("value")
        return _ident(value.get("@value") if inner is None else inner)
    if isinstance(value, list | tuple):
        for entry in value:
            found = _ident(entry)
            if found:
                return found
    return None


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


def _backoff(retry_number: int, factor: float, maximum: float) -> float:
    return min(maximum, factor * (2 ** (retry_number - 1)))


# --------------------------------------------------------------------------------------------- parts


class _Dedup:
    """Counts items and finds, for ids met more than once, the occurrence to keep. Per id it holds the
    modification time of the first occurrence (about 170 bytes per posting)."""

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
        seen = self.seen
        id_key = self.id_keys[0]
        mod_key = self.modified_keys[0]
        self.received += len(data)
        for index, item in enumerate(data):
            if item.__class__ is not dict:
                self.without_id += 1
                continue
            key = item.get(id_key)
            key = key.strip() if key.__class__ is str else self._slow_id(item, key)
            if not key:
                self.without_id += 1
                continue
            modified = item.get(mod_key)
            if modified is None and len(self.modified_keys) > 1:
                modified = next((item[k] for k in self.modified_keys[1:] if item.get(k) is not None), None)
            if key in seen:
                self._again(key, modified, page_no, index)
            else:
                seen[key] = modified

    def add_typed(self, page_no: int, items: list) -> None:
        """Like :meth:`add` for the typed items of :class:`_PageReader`."""
        seen = self.seen
        self.received += len(items)
        for index, item in enumerate(items):
            key = item.i
            if key is None:
                key = item.j
            key = key.strip() if key.__class__ is str else _ident(key)
            if not key:
                self.without_id += 1
                continue
            modified = item.m
            if modified is None:
                modified = item.n
            if key in seen:
                self._again(key, modified, page_no, index)
            else:
                seen[key] = modified

    def _slow_id(self, item: dict, value: object) -> str | None:
        found = _ident(value)
        if not found and value is None:
            for other in self.id_keys[1:]:
                found = _ident(item.get(other))
                if found:
                    break
        return found

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


class _Lander:
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


class _Pacer:
    """At most ``per_second`` request starts per second (none: unlimited)."""

    def __init__(self, per_second: float | None):
        ok = per_second is not None and per_second > 0 and math.isfinite(per_second)
        self.interval = 1.0 / per_second if ok else 0.0
        self.next = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if now < self.next:
            time.sleep(self.next - now)
            now = self.next
        self.next = now + self.interval


class _PageReader:
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


_TAIL = re.compile(rb'"next_cursor"\s*:\s*(?:null|"([^"\\]{1,1000})")\s*\}\s*$')


def _peek_cursor(body: bytes) -> str | None:
    """The next cursor as the end of a body names it (None: null, unreadable or escaped): a guess made
    before parsing, confirmed by the parse."""
    match = _TAIL.search(body, max(0, len(body) - 1100))
    if match is None or match.group(1) is None:
        return None
    try:
        return match.group(1).decode()
    except UnicodeDecodeError:
        return None


def _retry_history(response: requests.Response) -> list[str]:
    retries = getattr(response.raw, "retries", None)
    history = getattr(retries, "history", None) or ()
    return [str(h.status) if h.status else type(h.error).__name__ for h in history]


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
class _Rejections:
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
                    "body": _redact(text, self.token),
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


# --------------------------------------------------------------------------------------------- extract


@dataclass
class _Answer:
    """One HTTP exchange as it came: status, body (``cut`` says why it is incomplete), retries."""

    status: int
    reason: str
    body: bytes
    content_type: str
    history: list[str]
    cut: str | None = None


class _Fetcher:
    """GETs pages on one worker thread (so the next page can be on its way while this one is checked,
    landed and counted), retrying what urllib3 does not: a body cut off, a 200 that is not the API."""

    def __init__(
        self,
        platform: Platform,
        jobs_url: str,
        token: str,
        http: requests.Session,
        *,
        timeout: float | tuple[float, float],
        attempts: int,
        backoff_factor: float,
        backoff_max: float,
        pacer: _Pacer,
        rejections: _Rejections,
        reader: _PageReader,
    ):
        self.code = platform.code
        self.reader = reader
        self.jobs_url = jobs_url
        self.token = token
        self.http = http
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff_factor = backoff_factor
        self.backoff_max = backoff_max
        self.pacer = pacer
        self.rejections = rejections
        self.headers = {"Authorization": f"Bearer {token}"}
        self.limits = platform.limits
        self.stop_at = math.inf  # the extraction's budget (monotonic time); set by extract()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"feed-{platform.code}")

    def close(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def url(self, params: dict[str, Any]) -> str:
        return _safe_url(f"{self.jobs_url}?{urlencode(params)}")

    def _error(self, cls: type[FeedError], message: str, url: str, status: int | None = None) -> FeedError:
        return cls(_redact(message, self.token), platform_code=self.code, url=url, status=status)

    def submit(self, params: dict[str, Any]) -> Future[_Answer]:
        return self._pool.submit(self._get, params)

    def _get(self, params: dict[str, Any]) -> _Answer:
        """One GET (urllib3 retries inside), on the worker thread."""
        self.pacer.wait()
        if time.monotonic() >= self.stop_at:
            raise self._budget_error(self.url(params))
        try:
            response = self.http.get(
                self.jobs_url, params=params, headers=self.headers, timeout=self.timeout, stream=True
            )
        except requests.RequestException as exc:
            reason = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else exc
            reason = getattr(reason, "reason", None) or reason  # urllib3's MaxRetryError: the last error
            url = self.url(params)
            raise self._error(
                FeedError,
                f"{self.code}: no answer from {url} after the transport retries: {type(reason).__name__}: {reason}",
                url,
            ) from None
        answer = _Answer(
            status=response.status_code,
            reason=response.reason or "",
            body=b"",
            content_type=response.headers.get("Content-Type", ""),
            history=_retry_history(response),
        )
        try:
            # the connection goes back to the pool once the body is read
            answer.body = self._read_body(response, params)
        except (urllib3.exceptions.HTTPError, OSError, requests.RequestException, zlib.error) as exc:
            answer.cut = f"the body was cut off ({type(exc).__name__}: {exc})"
            response.close()
        except BaseException:
            response.close()
            raise
        return answer

    def _limit_error(self, params: dict[str, Any], limit: str, what: str) -> FeedLimitError:
        url = self.url(params)
        message = (
            f"{self.code}: {url}: {what} (limits.{limit} of the platform; include/config/platforms.yaml)"
        )
        return FeedLimitError(_redact(message, self.token), limit=limit, platform_code=self.code, url=url)

    def _budget_error(self, url: str) -> FeedLimitError:
        budget = self.limits.extraction_budget_seconds
        message = (
            f"{self.code}: the extraction ran out of its time budget of {budget:g} s (limits."
            f"extraction_budget_seconds) before {url}; nothing of this window is landed, and the next "
            f"run pulls it again from the same start"
        )
        return FeedLimitError(
            _redact(message, self.token), limit="extraction_budget_seconds", platform_code=self.code, url=url
        )

    def _read_body(self, response: requests.Response, params: dict[str, Any]) -> bytes:
        """The body, inflated, read in pieces with every limit checked as it grows: the bytes received,
        the bytes inflated (a bounded decompressor: a gzip bomb never inflates past the limit) and the
        request's deadline (a server dripping bytes never keeps a read alive past it)."""
        limits = self.limits
        max_bytes, max_inflated = limits.max_page_bytes, limits.max_page_inflated_bytes
        deadline = min(time.monotonic() + limits.request_deadline_seconds, self.stop_at)
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise self._limit_error(
                params, "max_page_bytes", f"the answer declares {int(declared):,} bytes, over {max_bytes:,}"
            )
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("", "identity"):
            inflater = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or zlib, by the header
        else:
            raise self._limit_error(
                params, "max_page_inflated_bytes", f"unknown Content-Encoding {encoding!r}"
            )
        raw = response.raw
        parts: list[bytes] = []
        received = inflated = 0
        while True:
            if time.monotonic() > deadline:
                if deadline == self.stop_at:
                    raise self._budget_error(self.url(params))
                raise self._limit_error(
                    params,
                    "request_deadline_seconds",
                    f"the answer was not complete after {limits.request_deadline_seconds:g} s "
                    f"({received:,} bytes received)",
                )
            chunk = raw.read1(_CHUNK, decode_content=False)
            if not chunk:
                break
            received += len(chunk)
            if received > max_bytes:
                raise self._limit_error(
                    params, "max_page_bytes", f"the answer is over {max_bytes:,} bytes as received"
                )
            if inflater is None:
                inflated += len(chunk)
                parts.append(chunk)
                continue
            while chunk:  # at most _CHUNK bytes inflated at a time: the page plus one piece in memory
                piece = inflater.decompress(chunk, _CHUNK)
                inflated += len(piece)
                if inflated > max_inflated:
                    raise self._limit_error(
                        params,
                        "max_page_inflated_bytes",
                        f"the answer inflates past {max_inflated:,} bytes ({received:,} bytes received, "
                        f"{encoding})",
                    )
                parts.append(piece)
                chunk = inflater.unconsumed_tail
        if inflater is not None:
            if not inflater.eof:
                raise zlib.error(f"the {encoding} stream ends early ({received:,} bytes received)")
            tail = inflater.flush()
            if inflated + len(tail) > max_inflated:
                raise self._limit_error(
                    params, "max_page_inflated_bytes", f"the answer inflates past {max_inflated:,} bytes"
                )
            parts.append(tail)
        return b"".join(parts)

    def page(
        self,
        params: dict[str, Any],
        page_no: int,
        ahead: Future[_Answer] | None,
        prefetch: Callable[[str], bool],
    ) -> tuple[bytes, list, bool, str | None, int, Future[_Answer] | None]:
        """(body as landed, items, typed, next_cursor, retries, the next page's request if sent early).

        ``ahead`` is this page's request if it was sent early. When the end of the body names a next
        cursor and ``prefetch(cursor)`` agrees, that page is requested before this one is parsed."""
        url = self.url(params)
        retries = 0
        problem = ""
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                retries += 1
                time.sleep(_backoff(attempt - 1, self.backoff_factor, self.backoff_max))
            future = ahead if attempt == 1 and ahead is not None else self.submit(params)
            answer = future.result()
            if answer.history:
                retries += len(answer.history)
                log.warning(
                    "%s: page %d needed %d retries (%s)",
                    self.code,
                    page_no + 1,
                    len(answer.history),
                    ", ".join(answer.history),
                )
            if answer.cut is not None:
                problem = _redact(answer.cut, self.token)
                log.warning("%s: %s: %s (attempt %d of %d)", self.code, url, problem, attempt, self.attempts)
                continue
            if answer.status != 200:
                self._fail_status(answer, url, len(answer.history))
            body = answer.body
            nxt = None
            peeked = _peek_cursor(body)
            if peeked is not None and prefetch(peeked):
                nxt = self.submit({**params, "cursor": peeked})
            items, typed, cursor, problem = self.reader.read(body, answer.content_type)
            if problem is None:
                if nxt is not None and cursor != peeked:
                    _drain(nxt)
                    nxt = None
                if b"\n" in body:  # one page, one line: a newline can only be whitespace in JSON
                    body = body.replace(b"\n", b" ")
                return body, items, typed, cursor, retries, nxt
            if nxt is not None:
                _drain(nxt)
            problem = _redact(problem, self.token)
            self.rejections.add(url, attempt, answer.status, problem, body)
            log.warning(
                "%s: %s is not the feed API: %s (attempt %d of %d)",
                self.code,
                url,
                problem,
                attempt,
                self.attempts,
            )
        raise self._error(
            FeedResponseError,
            f"{self.code}: {url} did not answer with the feed API in {self.attempts} attempts; "
            f"last time: {problem}",
            url,
        )

    def _fail_status(self, answer: _Answer, url: str, retried: int) -> None:
        status = answer.status
        text = answer.body[:2000].decode("utf-8", "replace")
        try:
            message = json.loads(text).get("message") or text
        except (ValueError, AttributeError):
            message = " ".join(text.split())[:300]
        reason = f"HTTP {status} {answer.reason}".strip()
        if status in (401, 403):
            raise self._error(
                FeedAuthError,
                f"{self.code}: {url} refused the credentials ({reason}: {message}); check the password "
                f"(bearer token) of the Airflow connection",
                url,
                status,
            )
        if status in RETRY_STATUSES:
            raise self._error(
                FeedError,
                f"{self.code}: {url} still answers {reason} after {retried} retries: {message}",
                url,
                status,
            )
        raise self._error(FeedError, f"{self.code}: {url} answered {reason}: {message}", url, status)


def _drain(future: Future[_Answer]) -> None:
    """Wait for a request sent early whose answer is not wanted (the worker serves requests in order)."""
    with contextlib.suppress(Exception):
        future.result()


def extract(
    platform: Platform,
    since: datetime,
    until: datetime,
    *,
    base_url: str,
    token: str,
    raw_dir: Path | str,
    timeout: float | tuple[float, float] = 30,
    max_pages: int = 100_000,
    session: requests.Session | None = None,
    retries: int = 6,
    backoff_factor: float = 0.2,
    backoff_max: float = 10.0,
    retry_after_max: int = 300,
    body_attempts: int = 5,
    rate_limit: float | None = None,
    compresslevel: int = 3,
    prefetch: bool = True,
) -> ExtractResult:
    """Pull every posting of ``platform`` modified in [since, until) and land the pages.

    ``session``: used as given (its adapters decide the transport retries; :func:`make_session` makes
    the default one from ``retries``/``backoff_*``/``retry_after_max``). ``timeout``: seconds, or
    (connect, read). ``rate_limit``: requests per second, None for the platform's, 0 for none.
    ``body_attempts``: attempts per page when the answer is cut off or not the API. ``prefetch``: request
    the next page (its cursor read from the end of the body) while this one is parsed and landed.
    """
    started = time.perf_counter()
    since_utc, until_utc = _utc(since, "since"), _utc(until, "until")
    if until_utc <= since_utc:
        raise ValueError(f"{platform.code}: the window {since} – {until} is empty")
    if max_pages < 1:
        raise ValueError("max_pages must be at least 1")
    jobs_url = base_url.rstrip("/") + "/jobs"
    raw_path = raw_path_for(raw_dir, platform.code, since_utc, until_utc)
    id_keys, modified_keys = item_keys(platform)
    rejections = _Rejections(rejected_path_for(raw_path), token)
    own_session = session is None
    if session is None:
        session = make_session(
            retries=retries,
            backoff_factor=backoff_factor,
            backoff_max=backoff_max,
            retry_after_max=retry_after_max,
        )
    fetcher = _Fetcher(
        platform,
        jobs_url,
        token,
        session,
        timeout=timeout,
        attempts=body_attempts,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        pacer=_Pacer(platform.rate_limit_per_second if rate_limit is None else rate_limit),
        rejections=rejections,
        reader=_PageReader(id_keys, modified_keys),
    )
    params: dict[str, Any] = {
        "updated_since": since_utc.isoformat(),
        "updated_until": until_utc.isoformat(),
        "limit": platform.page_size,
    }
    dedup = _Dedup(id_keys, modified_keys)
    warnings: list[str] = []
    pages = retries_done = received_bytes = 0
    cursor: str | None = None
    requested: set[str | None] = set()
    steps: set[tuple[str | None, str]] = set()

    def may_prefetch(next_cursor: str) -> bool:
        return prefetch and pages + 1 < max_pages and (cursor, next_cursor) not in steps

    log.info(
        "%s: extracting %s – %s from %s",
        platform.code,
        since_utc.isoformat(),
        until_utc.isoformat(),
        _safe_url(jobs_url),
    )
    lander = _Lander(raw_path, compresslevel)
    ahead: Future[_Answer] | None = None
    fetcher.stop_at = time.monotonic() + platform.limits.extraction_budget_seconds
    ok = False
    try:
        while True:
            if time.monotonic() >= fetcher.stop_at:
                # Nothing of the window is landed (the .part file goes): the next run, which starts
                # where the last load ended, pulls the whole window again, so nothing is skipped.
                raise fetcher._budget_error(_safe_url(jobs_url))
            if pages >= max_pages:
                raise FeedError(
                    f"{platform.code}: still a next_cursor after {max_pages} pages ({dedup.received} items); "
                    f"the feed does not end — raise max_pages or pull a shorter window",
                    platform_code=platform.code,
                    url=_safe_url(jobs_url),
                )
            query = params if cursor is None else {**params, "cursor": cursor}
            body, items, typed, next_cursor, page_retries, ahead = fetcher.page(
                query, pages, ahead, may_prefetch
            )
            lander.write(body)  # landed before anything else looks at it
            if typed:
                dedup.add_typed(pages, items)
            else:
                dedup.add(pages, items)
            pages += 1
            retries_done += page_retries
            received_bytes += len(body)
            requested.add(cursor)
            if pages % 200 == 0:
                log.info("%s: %d pages, %d items so far", platform.code, pages, dedup.received)
            if next_cursor is None:
                break
            step = (cursor, next_cursor)
            if step in steps:
                warnings.append(
                    f"cursor loop: cursor {cursor!r} led to {next_cursor!r} again after {pages} pages; "
                    f"stopped following it"
                )
                log.warning("%s: %s", platform.code, warnings[-1])
                break
            steps.add(step)
            if next_cursor in requested:
                warnings.append(
                    f"page {pages} sent back to the already requested cursor {next_cursor!r}; "
                    f"followed it once more"
                )
                log.warning("%s: %s", platform.code, warnings[-1])
            cursor = next_cursor
        lander.commit()
        ok = True
    except BaseException:
        lander.abort()
        raise
    finally:
        fetcher.close(wait=ok)
        rejected = rejections.write()
        if own_session:
            session.close()
    result = ExtractResult(
        platform_code=platform.code,
        since=since_utc,
        until=until_utc,
        pages=pages,
        items_received=dedup.received,
        items_unique=dedup.unique,
        duplicates_dropped=dedup.duplicates,
        retries=retries_done,
        raw_path=str(raw_path),
        rejected_path=rejected,
        items_without_id=dedup.without_id,
        bytes_received=received_bytes,
        seconds=time.perf_counter() - started,
        warnings=warnings,
        winners=dedup.winners,
        id_keys=id_keys,
        modified_keys=modified_keys,
    )
    log.info(
        "%s: %d pages, %d items, %d unique, %d duplicates dropped, %d without id, %d retries, "
        "%d rejected answers in %.1f s → %s",
        platform.code,
        pages,
        result.items_received,
        result.items_unique,
        result.duplicates_dropped,
        result.items_without_id,
        retries_done,
        rejections.count,
        result.seconds,
        raw_path,
    )
    return result


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
    return _iter_items(Path(raw_path), id_keys, modified_keys, winners)


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
    return _iter_texts(Path(raw_path), id_keys, modified_keys, winners)


def _iter_texts(
    path: Path,
    id_keys: tuple[str, ...],
    modified_keys: tuple[str, ...],
    winners: dict[str, list[int] | None] | None,
) -> Iterator[Any]:
    if winners is None:
        winners = _find_winners(path, id_keys, modified_keys)
    split, errors = _page_splitter()
    if winners or split is None:
        yield from _iter_items(path, id_keys, modified_keys, winners)
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


def _find_winners(
    raw_path: Path, id_keys: tuple[str, ...], modified_keys: tuple[str, ...]
) -> dict[str, list[int] | None]:
    """A pass over the landed pages: for each posting met more than once, the occurrence to keep."""
    dedup = _Dedup(id_keys, modified_keys)
    reader = _PageReader(id_keys, modified_keys)
    for page_no, body in enumerate(iter_pages(raw_path)):
        items, typed, _, problem = reader.read(body, "")
        if problem is not None:
            raise ValueError(f"{raw_path}: page {page_no + 1} is not a page of the feed API: {problem}")
        if typed:
            dedup.add_typed(page_no, items)
        else:
            dedup.add(page_no, items)
    return dedup.winners


def _iter_items(
    raw_path: Path,
    id_keys: tuple[str, ...],
    modified_keys: tuple[str, ...],
    winners: dict[str, list[int] | None] | None,
) -> Iterator[dict]:
    if winners is None:  # a first pass finds the duplicates
        winners = _find_winners(raw_path, id_keys, modified_keys)
    if not winners:
        for body in iter_pages(raw_path):
            yield from _loads(body)["data"]
        return
    finder = _Dedup(id_keys, modified_keys)
    emitted: set[str] = set()
    for page_no, body in enumerate(iter_pages(raw_path)):
        for index, item in enumerate(_loads(body)["data"]):
            key = None
            if item.__class__ is dict:
                key = item.get(id_keys[0])
                key = key.strip() if key.__class__ is str else finder._slow_id(item, key)
            if key and key in winners:
                kept = winners[key]
                if kept is None:
                    if key in emitted:
                        continue
                    emitted.add(key)
                elif kept[0] != page_no or kept[1] != index:
                    continue
            yield item
