"""HTTP client for the partner platforms' job feeds: requests, retries and paging (docs/feeds.md).

``extract(settings, since, until, raw_dir)`` pulls every page of one window,
``GET {base_url}/jobs?updated_since=&updated_until=&cursor=&limit=`` with a bearer token, following
``next_cursor`` until it is null, lands each page (``feeds.landing``) and answers an
:class:`ExtractResult` with counters and the path of the landed raw file. Everything that tunes a pull is
one :class:`ClientSettings`, built from the platform's configuration (page size, rate limit, limits) and
its connection (:meth:`ClientSettings.from_connection`) or a given URL and token
(:meth:`ClientSettings.for_platform`). The postings are read back with :meth:`ExtractResult.iter_items`
(or ``landing.iter_items``), streaming, so a million postings never sit in memory as dicts.

Speed (a million postings is a normal pull): the next page is requested as soon as the end of the
current body names its cursor, so it is on its way while this one is checked, landed and counted.

Responses that are ``200`` but not the API (an HTML error page, truncated or invalid JSON, JSON without a
``data`` list or a ``next_cursor``) are not landed: they are retried, and each one is recorded in the
rejected-answers file next to the raw file (``landing.rejected_path_for``), written at the end of the run
whether it succeeds or fails (removed by a rerun that has none).

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
import json
import logging
import math
import re
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from recruitment_month.config import FeedLimits, Platform
from recruitment_month.feeds import identity, landing
from recruitment_month.feeds.landing import Dedup, Lander, PageReader, Rejections, redact, utc

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "recruitment-month-feed-client/1.0"
_CHUNK = 256 * 1024  # bytes read at a time from a body


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


# --------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ClientSettings:
    """Everything that tunes one platform's pull: the platform (page size, rate limit, limits), where
    and as whom (base URL, bearer token), and the client's own settings.

    ``timeout``: seconds, or (connect, read). ``retries``, ``backoff_factor``, ``backoff_max``,
    ``retry_after_max``: urllib3's transport retries (:func:`make_session`). ``body_attempts``: attempts
    per page when the answer is cut off or not the API. ``rate_limit``: requests per second, None for the
    platform's, 0 for none. ``compresslevel``: of the landed file. ``prefetch``: request the next page
    (its cursor read from the end of the body) while this one is parsed and landed."""

    platform: Platform
    base_url: str
    token: str = field(repr=False)
    timeout: float | tuple[float, float] = 30
    max_pages: int = 100_000
    retries: int = 6
    backoff_factor: float = 0.2
    backoff_max: float = 10.0
    retry_after_max: int = 300
    body_attempts: int = 5
    rate_limit: float | None = None
    compresslevel: int = 3
    prefetch: bool = True

    def __post_init__(self) -> None:
        if self.max_pages < 1:
            raise ValueError("max_pages must be at least 1")

    @classmethod
    def for_platform(cls, platform: Platform, *, base_url: str, token: str, **tuning: Any) -> ClientSettings:
        """The settings of ``platform`` at ``base_url`` with ``token``; ``tuning``: any other field."""
        return cls(platform, base_url.rstrip("/"), token, **tuning)

    @classmethod
    def from_connection(cls, platform: Platform, **tuning: Any) -> ClientSettings:
        """The settings of ``platform`` with the base URL and token of its Airflow connection."""
        base_url, token = connection_for(platform)
        return cls.for_platform(platform, base_url=base_url, token=token, **tuning)

    @property
    def code(self) -> str:
        return self.platform.code

    @property
    def limits(self) -> FeedLimits:
        return self.platform.limits

    @property
    def jobs_url(self) -> str:
        return self.base_url.rstrip("/") + "/jobs"

    @property
    def requests_per_second(self) -> float | None:
        return self.platform.rate_limit_per_second if self.rate_limit is None else self.rate_limit


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
        return landing.read_items(Path(self.raw_path), self.id_keys, self.modified_keys, self.winners)

    def iter_item_texts(self) -> Iterator[Any]:
        """The unique postings as their JSON texts (see ``landing.iter_item_texts``), in one pass."""
        return landing.read_item_texts(Path(self.raw_path), self.id_keys, self.modified_keys, self.winners)

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


def make_session(settings: ClientSettings) -> requests.Session:
    """A session whose adapter retries GETs on connection errors, read timeouts and 429/5xx."""
    retry = Retry(
        total=settings.retries,
        connect=settings.retries,
        read=settings.retries,
        status=settings.retries,
        redirect=5,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=settings.backoff_factor,
        backoff_max=settings.backoff_max,
        backoff_jitter=0.1,
        respect_retry_after_header=True,
        retry_after_max=settings.retry_after_max,
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


def _safe_url(url: str) -> str:
    """The URL without user info (the only place besides the header where a secret could sit)."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    return urlunsplit(parts)


def _backoff(retry_number: int, factor: float, maximum: float) -> float:
    return min(maximum, factor * (2 ** (retry_number - 1)))


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


# --------------------------------------------------------------------------------------------- fetch


@dataclass
class _Answer:
    """One HTTP exchange as it came: status, body (``cut`` says why it is incomplete), retries."""

    status: int
    reason: str
    body: bytes
    content_type: str
    history: list[str]
    cut: str | None = None


@dataclass
class _Page:
    """A page of the API as landed, its items (``typed``: see ``landing.PageReader``), the next cursor,
    the retries it took and the next page's request if it was sent early."""

    body: bytes
    items: list
    typed: bool
    cursor: str | None
    retries: int = 0
    ahead: Future[_Answer] | None = None


class _Body:
    """A body read in pieces, inflated, with the size limits checked as it grows: the bytes received
    and the bytes inflated (a bounded decompressor: a gzip bomb never inflates past the limit)."""

    def __init__(self, fetcher: _Fetcher, params: dict[str, Any], encoding: str):
        self.fetcher = fetcher
        self.params = params
        self.encoding = encoding
        self.limits = fetcher.settings.limits
        self.parts: list[bytes] = []
        self.received = self.inflated = 0
        if encoding in ("", "identity"):
            self.inflater = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            self.inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or zlib, by the header
        else:
            raise fetcher.limit_error(
                params, "max_page_inflated_bytes", f"unknown Content-Encoding {encoding!r}"
            )

    def add(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.limits.max_page_bytes:
            raise self.fetcher.limit_error(
                self.params,
                "max_page_bytes",
                f"the answer is over {self.limits.max_page_bytes:,} bytes as received",
            )
        if self.inflater is None:
            self.inflated += len(chunk)
            self.parts.append(chunk)
            return
        while chunk:  # at most _CHUNK bytes inflated at a time: the page plus one piece in memory
            self._inflated(self.inflater.decompress(chunk, _CHUNK))
            chunk = self.inflater.unconsumed_tail

    def _inflated(self, piece: bytes) -> None:
        self.inflated += len(piece)
        if self.inflated > self.limits.max_page_inflated_bytes:
            raise self.fetcher.limit_error(
                self.params,
                "max_page_inflated_bytes",
                f"the answer inflates past {self.limits.max_page_inflated_bytes:,} bytes "
                f"({self.received:,} bytes received, {self.encoding})",
            )
        self.parts.append(piece)

    def finish(self) -> bytes:
        if self.inflater is not None:
            if not self.inflater.eof:
                raise zlib.error(f"the {self.encoding} stream ends early ({self.received:,} bytes received)")
            self._inflated(self.inflater.flush())
        return b"".join(self.parts)


class _Fetcher:
    """GETs pages on one worker thread (so the next page can be on its way while this one is checked,
    landed and counted), retrying what urllib3 does not: a body cut off, a 200 that is not the API."""

    def __init__(
        self, settings: ClientSettings, http: requests.Session, rejections: Rejections, reader: PageReader
    ):
        self.settings = settings
        self.code = settings.code
        self.token = settings.token
        self.http = http
        self.rejections = rejections
        self.reader = reader
        self.attempts = max(1, settings.body_attempts)
        self.pacer = _Pacer(settings.requests_per_second)
        self.headers = {"Authorization": f"Bearer {settings.token}"}
        self.stop_at = math.inf  # the extraction's budget (monotonic time); set by the extraction
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"feed-{settings.code}")

    def close(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def url(self, params: dict[str, Any]) -> str:
        return _safe_url(f"{self.settings.jobs_url}?{urlencode(params)}")

    def error(self, cls: type[FeedError], message: str, url: str, status: int | None = None) -> FeedError:
        return cls(redact(message, self.token), platform_code=self.code, url=url, status=status)

    def submit(self, params: dict[str, Any]) -> Future[_Answer]:
        return self._pool.submit(self._get, params)

    def _get(self, params: dict[str, Any]) -> _Answer:
        """One GET (urllib3 retries inside), on the worker thread."""
        self.pacer.wait()
        if time.monotonic() >= self.stop_at:
            raise self.budget_error(self.url(params))
        try:
            response = self.http.get(
                self.settings.jobs_url,
                params=params,
                headers=self.headers,
                timeout=self.settings.timeout,
                stream=True,
            )
        except requests.RequestException as exc:
            reason = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else exc
            reason = getattr(reason, "reason", None) or reason  # urllib3's MaxRetryError: the last error
            url = self.url(params)
            raise self.error(
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

    def limit_error(self, params: dict[str, Any], limit: str, what: str) -> FeedLimitError:
        url = self.url(params)
        message = (
            f"{self.code}: {url}: {what} (limits.{limit} of the platform; include/config/platforms.yaml)"
        )
        return FeedLimitError(redact(message, self.token), limit=limit, platform_code=self.code, url=url)

    def budget_error(self, url: str) -> FeedLimitError:
        budget = self.settings.limits.extraction_budget_seconds
        message = (
            f"{self.code}: the extraction ran out of its time budget of {budget:g} s (limits."
            f"extraction_budget_seconds) before {url}; nothing of this window is landed, and the next "
            f"run pulls it again from the same start"
        )
        return FeedLimitError(
            redact(message, self.token), limit="extraction_budget_seconds", platform_code=self.code, url=url
        )

    def _read_body(self, response: requests.Response, params: dict[str, Any]) -> bytes:
        """The body, inflated, read in pieces with every limit checked as it grows (:class:`_Body`) and
        the request's deadline (a server dripping bytes never keeps a read alive past it)."""
        limits = self.settings.limits
        deadline = min(time.monotonic() + limits.request_deadline_seconds, self.stop_at)
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limits.max_page_bytes:
            raise self.limit_error(
                params,
                "max_page_bytes",
                f"the answer declares {int(declared):,} bytes, over {limits.max_page_bytes:,}",
            )
        body = _Body(self, params, response.headers.get("Content-Encoding", "").strip().lower())
        raw = response.raw
        while True:
            if time.monotonic() > deadline:
                raise self._deadline_error(params, deadline, body.received)
            chunk = raw.read1(_CHUNK, decode_content=False)
            if not chunk:
                return body.finish()
            body.add(chunk)

    def _deadline_error(self, params: dict[str, Any], deadline: float, received: int) -> FeedLimitError:
        if deadline == self.stop_at:
            return self.budget_error(self.url(params))
        return self.limit_error(
            params,
            "request_deadline_seconds",
            f"the answer was not complete after {self.settings.limits.request_deadline_seconds:g} s "
            f"({received:,} bytes received)",
        )

    def page(
        self,
        params: dict[str, Any],
        page_no: int,
        ahead: Future[_Answer] | None,
        prefetch: Callable[[str], bool],
    ) -> _Page:
        """The page of ``params`` (``ahead``: its request if it was sent early). When the end of the
        body names a next cursor and ``prefetch(cursor)`` agrees, that page is requested before this one
        is parsed."""
        url = self.url(params)
        retries = 0
        problem = ""
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                retries += 1
                time.sleep(_backoff(attempt - 1, self.settings.backoff_factor, self.settings.backoff_max))
            future = ahead if attempt == 1 and ahead is not None else self.submit(params)
            answer = future.result()
            retries += self._note_retries(answer, page_no)
            if answer.cut is not None:
                problem = redact(answer.cut, self.token)
                log.warning("%s: %s: %s (attempt %d of %d)", self.code, url, problem, attempt, self.attempts)
                continue
            if answer.status != 200:
                self._fail_status(answer, url, len(answer.history))
            page, problem = self._read(answer, params, prefetch)
            if page is not None:
                page.retries = retries
                return page
            self.rejections.add(url, attempt, answer.status, problem, answer.body)
            log.warning(
                "%s: %s is not the feed API: %s (attempt %d of %d)",
                self.code,
                url,
                problem,
                attempt,
                self.attempts,
            )
        raise self.error(
            FeedResponseError,
            f"{self.code}: {url} did not answer with the feed API in {self.attempts} attempts; "
            f"last time: {problem}",
            url,
        )

    def _note_retries(self, answer: _Answer, page_no: int) -> int:
        if answer.history:
            log.warning(
                "%s: page %d needed %d retries (%s)",
                self.code,
                page_no + 1,
                len(answer.history),
                ", ".join(answer.history),
            )
        return len(answer.history)

    def _read(
        self, answer: _Answer, params: dict[str, Any], prefetch: Callable[[str], bool]
    ) -> tuple[_Page | None, str]:
        """(the page, "") for a page of the API, else (None, what is wrong)."""
        body = answer.body
        nxt = None
        peeked = _peek_cursor(body)
        if peeked is not None and prefetch(peeked):
            nxt = self.submit({**params, "cursor": peeked})
        items, typed, cursor, problem = self.reader.read(body, answer.content_type)
        if problem is not None:
            if nxt is not None:
                _drain(nxt)
            return None, redact(problem, self.token)
        if nxt is not None and cursor != peeked:
            _drain(nxt)
            nxt = None
        if b"\n" in body:  # one page, one line: a newline can only be whitespace in JSON
            body = body.replace(b"\n", b" ")
        return _Page(body, items, typed, cursor, ahead=nxt), ""

    def _fail_status(self, answer: _Answer, url: str, retried: int) -> None:
        status = answer.status
        text = answer.body[:2000].decode("utf-8", "replace")
        try:
            message = json.loads(text).get("message") or text
        except (ValueError, AttributeError):
            message = " ".join(text.split())[:300]
        reason = f"HTTP {status} {answer.reason}".strip()
        if status in (401, 403):
            raise self.error(
                FeedAuthError,
                f"{self.code}: {url} refused the credentials ({reason}: {message}); check the password "
                f"(bearer token) of the Airflow connection",
                url,
                status,
            )
        if status in RETRY_STATUSES:
            raise self.error(
                FeedError,
                f"{self.code}: {url} still answers {reason} after {retried} retries: {message}",
                url,
                status,
            )
        raise self.error(FeedError, f"{self.code}: {url} answered {reason}: {message}", url, status)


def _drain(future: Future[_Answer]) -> None:
    """Wait for a request sent early whose answer is not wanted (the worker serves requests in order)."""
    with contextlib.suppress(Exception):
        future.result()


# --------------------------------------------------------------------------------------------- extract


def extract(
    settings: ClientSettings,
    since: datetime,
    until: datetime,
    raw_dir: Path | str,
    session: requests.Session | None = None,
) -> ExtractResult:
    """Pull every posting of the settings' platform modified in [since, until) and land the pages in
    ``raw_dir``. ``session``: used as given (its adapters decide the transport retries); by default
    :func:`make_session` makes one from the settings."""
    started = time.perf_counter()
    since_utc, until_utc = utc(since, "since"), utc(until, "until")
    if until_utc <= since_utc:
        raise ValueError(f"{settings.code}: the window {since} – {until} is empty")
    raw_path = landing.raw_path_for(raw_dir, settings.code, since_utc, until_utc)
    http = session or make_session(settings)
    run = _Extraction(settings, raw_path, http)
    log.info(
        "%s: extracting %s – %s from %s",
        settings.code,
        since_utc.isoformat(),
        until_utc.isoformat(),
        _safe_url(settings.jobs_url),
    )
    try:
        run.run({"updated_since": since_utc.isoformat(), "updated_until": until_utc.isoformat()})
    finally:
        if session is None:
            http.close()
    result = run.result(since_utc, until_utc, time.perf_counter() - started)
    log.info(
        "%s: %d pages, %d items, %d unique, %d duplicates dropped, %d without id, %d retries, "
        "%d rejected answers in %.1f s → %s",
        settings.code,
        result.pages,
        result.items_received,
        result.items_unique,
        result.duplicates_dropped,
        result.items_without_id,
        result.retries,
        run.rejections.count,
        result.seconds,
        raw_path,
    )
    return result


class _Extraction:
    """One window's pull: the pages followed cursor after cursor, landed and counted."""

    def __init__(self, settings: ClientSettings, raw_path: Path, http: requests.Session):
        self.settings = settings
        self.raw_path = raw_path
        self.id_keys = identity.id_keys(settings.platform)
        self.modified_keys = identity.modified_keys(settings.platform)
        self.rejections = Rejections(landing.rejected_path_for(raw_path), settings.token)
        self.fetcher = _Fetcher(settings, http, self.rejections, PageReader(self.id_keys, self.modified_keys))
        self.dedup = Dedup(self.id_keys, self.modified_keys)
        self.rejected: str | None = None
        self.warnings: list[str] = []
        self.pages = self.retries = self.bytes_received = 0
        self.cursor: str | None = None
        self.requested: set[str | None] = set()
        self.steps: set[tuple[str | None, str]] = set()

    def run(self, window: dict[str, str]) -> None:
        """Every page of ``window`` (the query's times) landed, or nothing of it."""
        lander = Lander(self.raw_path, self.settings.compresslevel)
        self.fetcher.stop_at = time.monotonic() + self.settings.limits.extraction_budget_seconds
        ok = False
        try:
            self._pull({**window, "limit": self.settings.platform.page_size}, lander)
            lander.commit()
            ok = True
        except BaseException:
            lander.abort()
            raise
        finally:
            self.fetcher.close(wait=ok)
            self.rejected = self.rejections.write()

    def _may_prefetch(self, next_cursor: str) -> bool:
        return (
            self.settings.prefetch
            and self.pages + 1 < self.settings.max_pages
            and (self.cursor, next_cursor) not in self.steps
        )

    def _pull(self, params: dict[str, Any], lander: Lander) -> None:
        ahead: Future[_Answer] | None = None
        while True:
            self._check_limits()
            query = params if self.cursor is None else {**params, "cursor": self.cursor}
            page = self.fetcher.page(query, self.pages, ahead, self._may_prefetch)
            ahead = page.ahead
            lander.write(page.body)  # landed before anything else looks at it
            self._count(page)
            if not self._follow(page.cursor):
                return

    def _check_limits(self) -> None:
        if time.monotonic() >= self.fetcher.stop_at:
            # Nothing of the window is landed (the .part file goes): the next run, which starts
            # where the last load ended, pulls the whole window again, so nothing is skipped.
            raise self.fetcher.budget_error(_safe_url(self.settings.jobs_url))
        if self.pages >= self.settings.max_pages:
            raise FeedError(
                f"{self.settings.code}: still a next_cursor after {self.settings.max_pages} pages "
                f"({self.dedup.received} items); the feed does not end — raise max_pages or pull a shorter "
                f"window",
                platform_code=self.settings.code,
                url=_safe_url(self.settings.jobs_url),
            )

    def _count(self, page: _Page) -> None:
        if page.typed:
            self.dedup.add_typed(self.pages, page.items)
        else:
            self.dedup.add(self.pages, page.items)
        self.pages += 1
        self.retries += page.retries
        self.bytes_received += len(page.body)
        self.requested.add(self.cursor)
        if self.pages % 200 == 0:
            log.info("%s: %d pages, %d items so far", self.settings.code, self.pages, self.dedup.received)

    def _follow(self, next_cursor: str | None) -> bool:
        """Whether to request ``next_cursor`` (then it is the cursor): not at the end, nor in a loop."""
        if next_cursor is None:
            return False
        step = (self.cursor, next_cursor)
        if step in self.steps:
            self._warn(
                f"cursor loop: cursor {self.cursor!r} led to {next_cursor!r} again after {self.pages} pages; "
                f"stopped following it"
            )
            return False
        self.steps.add(step)
        if next_cursor in self.requested:
            self._warn(
                f"page {self.pages} sent back to the already requested cursor {next_cursor!r}; "
                f"followed it once more"
            )
        self.cursor = next_cursor
        return True

    def _warn(self, warning: str) -> None:
        self.warnings.append(warning)
        log.warning("%s: %s", self.settings.code, warning)

    def result(self, since: datetime, until: datetime, seconds: float) -> ExtractResult:
        dedup = self.dedup
        return ExtractResult(
            platform_code=self.settings.code,
            since=since,
            until=until,
            pages=self.pages,
            items_received=dedup.received,
            items_unique=dedup.unique,
            duplicates_dropped=dedup.duplicates,
            retries=self.retries,
            raw_path=str(self.raw_path),
            rejected_path=self.rejected,
            items_without_id=dedup.without_id,
            bytes_received=self.bytes_received,
            seconds=seconds,
            warnings=self.warnings,
            winners=dedup.winners,
            id_keys=self.id_keys,
            modified_keys=self.modified_keys,
        )
