"""Text that crosses a trust boundary: what senders write, and what the project writes for readers.

Control characters (C0 but tab, line feed and carriage return; DEL; C1) never reach the warehouse or
a mail header: PostgreSQL refuses NUL in text, and a line break in a header would start a new one.
A file name is stored as text whatever bytes the uploader's client used for it.
"""

from __future__ import annotations

import re

# C0 control characters except \t \n \r, DEL, and the C1 block.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Everything a single-line header must not hold: the above plus every line or paragraph break.
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def has_control(text: str) -> bool:
    """True when ``text`` holds a control character other than tab, line feed or carriage return."""
    return _CONTROL.search(text) is not None


def strip_control(text: str) -> str:
    """``text`` without control characters; tabs and line breaks stay (they are part of free text)."""
    return _CONTROL.sub("", text)


def one_line(text: str, limit: int = 200) -> str:
    """``text`` safe for a mail header or a log line: every run of breaks and controls becomes one
    space, and anything past ``limit`` characters is cut with an ellipsis."""
    flat = _HEADER_UNSAFE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def file_name(raw: str | bytes) -> str:
    """A file name as text, whatever its bytes: UTF-8, else GB18030 (what Chinese Windows writes),
    else UTF-8 with each undecodable byte shown as U+FFFD. Python hands a name that is not valid in
    the file system's encoding over as ``str`` with surrogate escapes; those are decoded the same way."""
    if isinstance(raw, str):
        try:
            raw.encode("utf-8")
            return raw
        except UnicodeEncodeError:
            raw = raw.encode("utf-8", "surrogateescape")
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace")
