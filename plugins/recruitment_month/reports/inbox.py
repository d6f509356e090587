"""The provincial inbox and the raw archive, on any fsspec filesystem (DESIGN §4).

``<inbox>/<unit_code>/<any file name>``: the folder is the unit's authenticated upload area. A file is
identified by (folder, SHA-256 of its content): processed once, a changed file again. Its landing time
is the storage's last-modified time, read when the pipeline first sees the file. Every file is copied
unchanged into the archive under its hash before anything else happens to it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

# A file bigger than this is not read into memory at all: it is archived by streaming and rejected.
READ_LIMIT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class InboxEntry:
    folder: str
    path: str  # full path on the inbox filesystem
    name: str
    size: int
    modified_at: datetime  # the storage's last-modified time, UTC


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


def scan(inbox_url: str) -> list[InboxEntry]:
    """Every file under ``<inbox>/<folder>/`` (recursively within the folder), sorted by landing time."""
    fs, root = _fs(inbox_url)
    root = root.rstrip("/")
    if not fs.exists(root):
        log.warning("Inbox %s does not exist yet; nothing to collect", inbox_url)
        return []
    entries = []
    for path, info in fs.find(root, detail=True).items():
        if info.get("type") != "file":
            continue
        relative = path[len(root) :].lstrip("/")
        if "/" not in relative:
            log.warning("Ignoring %s: files belong in a unit's folder <inbox>/<unit_code>/", path)
            continue
        folder, name = relative.split("/", 1)
        if name.rsplit("/", 1)[-1].startswith((".", "~$")):  # partial uploads, Office lock files
            continue
        entries.append(
            InboxEntry(
                folder=folder, path=path, name=name, size=int(info["size"]), modified_at=modified_time(info)
            )
        )
    return sorted(entries, key=lambda e: (e.modified_at, e.folder, e.name))


def read(inbox_url: str, entry: InboxEntry, limit: int = READ_LIMIT_BYTES) -> bytes | None:
    """The file's content, or None when it is larger than ``limit`` (it is then only streamed)."""
    if entry.size > limit:
        return None
    fs, _ = _fs(inbox_url)
    with fs.open(entry.path, "rb") as handle:
        return handle.read()


def sha256_of(inbox_url: str, entry: InboxEntry, content: bytes | None) -> str:
    if content is not None:
        return hashlib.sha256(content).hexdigest()
    fs, _ = _fs(inbox_url)
    digest = hashlib.sha256()
    with fs.open(entry.path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def archive(archive_url: str, sha256: str, inbox_url: str, entry: InboxEntry, content: bytes | None) -> str:
    """Copy the original, unchanged, to ``<archive>/<aa>/<sha256>``; returns its URI. Idempotent."""
    fs, root = _fs(archive_url)
    target = f"{root.rstrip('/')}/{sha256[:2]}/{sha256}"
    if not fs.exists(target):
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        partial = target + ".partial"
        with fs.open(partial, "wb") as out:
            if content is not None:
                out.write(content)
            else:
                src_fs, _ = _fs(inbox_url)
                with src_fs.open(entry.path, "rb") as handle:
                    while chunk := handle.read(1 << 20):
                        out.write(chunk)
        fs.mv(partial, target)
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return f"{protocol}://{target}" if protocol not in ("file", "local") else target
