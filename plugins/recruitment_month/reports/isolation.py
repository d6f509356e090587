"""Untrusted report files are parsed in a child process, with limits on its memory and time.

A workbook can be built to break the parser: to crash it (a fault in a C library), to exhaust memory
or to run for ever. ``IsolatedParser`` keeps one parsing process for a batch of files and hands it one
file at a time over a pipe. The child limits its own address space (``RLIMIT_AS``) before it reads
anything; the parent waits at most ``seconds`` for an answer. A file whose parse raised, ran out of
memory or time, or killed the child raises :class:`ParseCrashed` in the parent, which is unharmed; the
next file gets a fresh child. Results come back as JSON, never pickle: a child that a hostile file
took over can send wrong data, not code.
"""

from __future__ import annotations

import json
import os
import select
import signal
import struct
import subprocess
import sys
import time
from datetime import date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recruitment_month.reports.parse import ParseResult

_HEADER = struct.Struct(">Q")
READY = b"\x01"
STARTUP_SECONDS = 120
MAX_ANSWER_BYTES = 16 * 1024 * 1024


class ParseCrashed(Exception):
    """Parsing this file broke the parser; ``reason`` says how, in words an engineer can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _encode(value):
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    raise TypeError(f"cannot send {type(value).__name__}")


def _decode(obj: dict):
    if "$date" in obj and len(obj) == 1:
        return date.fromisoformat(obj["$date"])
    if "$datetime" in obj and len(obj) == 1:
        return datetime.fromisoformat(obj["$datetime"])
    return obj


def result_to_json(result: ParseResult) -> bytes:
    return json.dumps(
        {
            "record": result.record,
            "problems": [p.as_dict() for p in result.problems],
            "format": result.format,
            "encoding": result.encoding,
            "declared": result.declared,
        },
        default=_encode,
        ensure_ascii=False,
    ).encode()


def result_from_json(data: bytes) -> ParseResult:
    from recruitment_month.problems import Problem, Severity
    from recruitment_month.reports.parse import ParseResult

    obj = json.loads(data, object_hook=_decode)
    problems = [Problem(**{**p, "severity": Severity(p["severity"])}) for p in obj["problems"]]
    return ParseResult(
        record=obj["record"],
        problems=problems,
        format=obj["format"],
        encoding=obj["encoding"],
        declared=obj["declared"],
    )


def _write(stream, payload: bytes) -> None:
    stream.write(_HEADER.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def _read_exactly(stream, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


class IsolatedParser:
    """``with IsolatedParser(memory_mb=…, seconds=…) as parser: parser.parse(content, name, max_bytes=…)``"""

    def __init__(self, *, memory_mb: int, seconds: float) -> None:
        self.memory_bytes = memory_mb * 1024 * 1024
        self.seconds = seconds
        self._child: subprocess.Popen | None = None

    def __enter__(self) -> IsolatedParser:
        return self

    def __exit__(self, *exc) -> None:
        self._stop()

    def _start(self) -> subprocess.Popen:
        from recruitment_month.settings import settings

        plugins = str(settings().plugins_dir)
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join(filter(None, [plugins, os.environ.get("PYTHONPATH")]))
        )
        child = subprocess.Popen(  # noqa: S603 -- our own module and interpreter, fixed arguments, no shell
            [sys.executable, "-m", "recruitment_month.reports.isolation", str(self.memory_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        # The child says it is ready once its imports are done: a file's time starts after that.
        ready = select.select([child.stdout.fileno()], [], [], STARTUP_SECONDS)[0]
        if not ready or os.read(child.stdout.fileno(), 1) != READY:
            child.kill()
            child.wait()
            raise RuntimeError(f"the report parser process did not start within {STARTUP_SECONDS} s")
        return child

    def _stop(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        if child.poll() is None:
            child.kill()
        child.wait()
        for stream in (child.stdin, child.stdout):
            if stream:
                stream.close()

    def _died(self, child: subprocess.Popen, what: str) -> ParseCrashed:
        code = child.wait()
        self._child = None
        if code < 0:
            name = signal.Signals(-code).name
            return ParseCrashed(f"the parser process was killed by {name} while {what}")
        return ParseCrashed(f"the parser process exited with code {code} while {what}")

    def parse(self, content: bytes, file_name: str, *, max_bytes: int) -> ParseResult:
        if self._child is None or self._child.poll() is not None:
            self._child = self._start()
        child = self._child
        request = json.dumps({"file_name": file_name, "max_bytes": max_bytes}).encode()
        try:
            _write(child.stdin, request)
            _write(child.stdin, content)
        except BrokenPipeError:
            raise self._died(child, "receiving the file") from None
        deadline = time.monotonic() + self.seconds
        answer = self._answer(child, deadline)
        kind, payload = answer[:1], answer[1:]
        if kind == b"E":
            raise ParseCrashed(payload.decode(errors="replace"))
        return result_from_json(payload)

    def _answer(self, child: subprocess.Popen, deadline: float) -> bytes:
        fd = child.stdout.fileno()
        buffer = b""
        need = _HEADER.size
        size = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                self._stop()
                raise ParseCrashed(f"parsing took longer than the limit of {self.seconds:g} s")
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise self._died(child, "parsing")
            buffer += chunk
            if size is None and len(buffer) >= need:
                (size,) = _HEADER.unpack(buffer[:need])
                if size > MAX_ANSWER_BYTES:
                    self._stop()
                    raise ParseCrashed(f"the parser answered with {size} bytes, more than any report holds")
            if size is not None and len(buffer) >= need + size:
                return buffer[need : need + size]


def _serve(memory_bytes: int) -> None:
    """The child: limit memory, then parse each file sent on stdin and answer on stdout."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    from recruitment_month.reports.parse import parse_report

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the answers
    stdout.write(READY)
    stdout.flush()
    while True:
        try:
            request = json.loads(_read_exactly(stdin, _HEADER.unpack(_read_exactly(stdin, _HEADER.size))[0]))
            content = _read_exactly(stdin, _HEADER.unpack(_read_exactly(stdin, _HEADER.size))[0])
        except EOFError:
            return
        try:
            result = parse_report(content, request["file_name"], max_bytes=request["max_bytes"])
            answer = b"R" + result_to_json(result)
        except MemoryError:
            answer = b"E" + f"the parser ran out of memory (limit {memory_bytes // 2**20} MB)".encode()
        except Exception as exc:  # reported to the parent, which quarantines the file after its tries
            answer = b"E" + f"the parser raised {type(exc).__name__}: {exc}"[:2000].encode()
        _write(stdout, answer)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
