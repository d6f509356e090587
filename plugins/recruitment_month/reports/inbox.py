"""The provincial inbox and the raw archive, on any fsspec filesystem.

``<inbox>/<unit_code>/<any file name>``: the folder is the unit's authenticated upload area. A file is
identified by (folder, SHA-256 of its content): processed once, a changed file again. Every file is
copied unchanged into the archive under its hash before anything else happens to it.

``scan`` lists every entry under the inbox, whatever its name: names are shown as text
(``text.file_name``: a GBK name from a Chinese Windows client is decoded, a line break stays visible to
the code that must flatten it) while ``path`` keeps the real name to open the file by. An entry that is
not a report file carries the reason it is skipped; the pipeline records it rather than dropping it.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from recruitment_month.text import file_name as as_text
from recruitment_month.text import one_line, strip_control

log = logging.getLogger(__name__)

# Why an entry of the inbox is not a report file (the audit's reason codes).
TEMPORARY_UPLOAD = "temporary_upload"  # a name or folder starting with "." (an upload in progress)
OFFICE_LOCK = "office_lock"  # "~$<name>": Office's lock file while a workbook is open
LINK = "link"  # a symbolic link: the unit's folder holds files, not pointers elsewhere
NOT_A_FILE = "not_a_regular_file"  # a pipe, a socket, a device
OUTSIDE_UNIT_FOLDER = "outside_unit_folder"  # directly in the inbox, not in <inbox>/<unit_code>/
FOLDER_NAME_TOO_LONG = "folder_name_too_long"  # no unit folder is that long; it cannot be keyed
DUPLICATE_CONTENT = "duplicate_content"  # the same folder already sent this exact content
ARCHIVE_FAILED = "archive_failed"  # could not be copied to the archive (yet); retried every poll

# A folder name longer than this cannot be part of a file id (String(80): folder, "/", 64 hex digits).
MAX_FOLDER_CHARS = 15


class ArchiveError(OSError):
    """A file could not be copied into the archive; nothing of it is left there."""


@dataclass(frozen=True)
class InboxEntry:
    folder: str  # the first path component, as one line of text ("" for an entry directly in the inbox)
    path: str  # the real path on the inbox filesystem: open the file by this
    name: str  # the rest of the path under the folder, as text
    size: int
    modified_at: datetime | None  # the storage's last-modified time, UTC
    skip: str | None = None  # why it is not a report file; None for a report file

    @property
    def relative(self) -> str:
        return f"{self.folder}/{self.name}" if self.folder else self.name

    @property
    def key(self) -> str:
        """The entry as listed (real path, size, time): a rerun finds the same key, a changed file not."""
        raw = self.path.encode("utf-8", "surrogateescape")
        stamp = self.modified_at.isoformat() if self.modified_at else ""
        return hashlib.sha256(b"\0".join([raw, str(self.size).encode(), stamp.encode()])).hexdigest()


def _fs(url: str):
    import fsspec

    return fsspec.core.url_to_fs(url)


def modified_time(info: dict[str, Any]) -> datetime:
    """The server-set last-modified time from an fsspec ``info`` dict, whatever the backend calls it."""
    for key in ("LastModified", "last_modified", "mtime", "updated", "modified", "created", "time_created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    raise ValueError(f"the storage gives no last-modified time for {info.get('name')!r}")


def display(raw: str) -> str:
    """A name from the storage as text for the warehouse: decoded whatever its bytes, no controls."""
    return strip_control(as_text(raw))


def folder_text(raw: str) -> str:
    """A folder name as text on one line: it is part of file ids and of message keys, which are headers."""
    return one_line(as_text(raw), 1000)


def _skip_reason(relative: str, info: dict[str, Any]) -> str | None:
    parts = relative.split("/")
    if info.get("islink"):
        return LINK
    if info.get("type") != "file":
        return NOT_A_FILE
    if len(parts) == 1:
        return OUTSIDE_UNIT_FOLDER
    if parts[-1].startswith("~$"):
        return OFFICE_LOCK
    if any(part.startswith(".") for part in parts):
        return TEMPORARY_UPLOAD
    if len(folder_text(parts[0])) > MAX_FOLDER_CHARS:
        return FOLDER_NAME_TOO_LONG
    return None


def scan(inbox_url: str) -> list[InboxEntry]:
    """Every entry under the inbox but folders, report files first in landing order, then the skipped."""
    fs, root = _fs(inbox_url)
    root = root.rstrip("/")
    if not fs.exists(root):
        log.warning("Inbox %s does not exist yet; nothing to collect", inbox_url)
        return []
    entries = []
    for path, info in fs.find(root, detail=True).items():
        if info.get("type") == "directory" and not info.get("islink"):
            continue
        relative = path[len(root) :].lstrip("/")
        skip = _skip_reason(relative, info)
        try:
            modified_at = modified_time(info)
        except ValueError:
            if skip is None:
                raise
            modified_at = None  # a link or a device may have none; it is skipped anyway
        folder, _, name = relative.partition("/") if "/" in relative else ("", "", relative)
        entries.append(
            InboxEntry(
                folder=folder_text(folder),
                path=path,
                name=display(name),
                size=int(info.get("size") or 0),
                modified_at=modified_at,
                skip=skip,
            )
        )
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(entries, key=lambda e: (e.skip is not None, e.modified_at or epoch, e.folder, e.name))


def read(inbox_url: str, entry: InboxEntry, limit: int) -> bytes:
    """The file's content, at most ``limit`` + 1 bytes: more than ``limit`` means the file is too large
    (it may have grown since it was listed); the caller refuses it without reading further."""
    fs, _ = _fs(inbox_url)
    with fs.open(entry.path, "rb") as handle:
        return handle.read(limit + 1)


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def archive(archive_url: str, sha256: str, entry: InboxEntry, content: bytes) -> str:
    """Copy the original, unchanged, to ``<archive>/<aa>/<sha256>``; returns its URI. Idempotent.

    The copy is written under a name of its own and renamed into place once complete, so a reader never
    sees half a file; when writing fails (a full disk, a lost connection) that partial copy is removed
    and ``ArchiveError`` names the file and the archive.
    """
    fs, root = _fs(archive_url)
    target = f"{root.rstrip('/')}/{sha256[:2]}/{sha256}"
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    uri = f"{protocol}://{target}" if protocol not in ("file", "local") else target
    if fs.exists(target) and fs.size(target) == len(content):
        return uri
    partial = f"{target}.{uuid.uuid4().hex}.partial"
    try:
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        with fs.open(partial, "wb") as out:
            out.write(content)
        written = fs.size(partial)
        if written != len(content):
            raise OSError(f"wrote {written} of {len(content)} bytes")
        fs.mv(partial, target)
    except OSError as exc:
        try:
            if fs.exists(partial):
                fs.rm(partial)
        except OSError as cleanup:
            log.error("Could not remove the partial copy %s: %s", partial, cleanup)
        raise ArchiveError(
            f"could not archive {entry.relative!r} ({len(content)} bytes) into {archive_url}: "
            f"{exc.strerror or exc}"
        ) from exc
    return uri
