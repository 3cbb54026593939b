"""Logging for the daemon and the CLI: one line per event on stderr, key=value or JSON, secrets scrubbed.

    redactor = setup("INFO", "text")
    event(log, logging.INFO, "poll", feed="PR Newswire", new=3, alerts=1)
    -> ts=2026-11-27T12:00:00Z level=info logger=monitor.daemon event=poll feed="PR Newswire" new=3 alerts=1

Under systemd (stderr is the journal: $JOURNAL_STREAM is set) the timestamp is left out, since
journald stamps every line itself. Secrets never reach the log: values registered with the
redactor (webhook secrets, SMTP passwords, webhook URLs, which often embed a token) are replaced
wherever they appear, and so are passwords in URLs and token-like query parameters.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TextIO

FORMATS = ("text", "json")
_BARE = re.compile(r"[^\s\"=\\]+")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@:]*:[^/\s@]*@")
_SECRET_PARAM = re.compile(
    r"(?i)([?&;][^=&\s]*(?:token|secret|password|passwd|pwd|key|sig|signature|auth|credential)[^=&\s]*=)[^&\s\"]+"
)
_MANAGED = "_press_monitor_handler"


class Redactor:
    """Replaces known secret strings, URL passwords and token-like query values with ***."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pairs: tuple[tuple[str, str], ...] = ()

    def set(self, secrets: Iterable[str | tuple[str, str]]) -> None:
        """Replace the known secrets: plain strings become ***, (secret, shown-as) pairs their stand-in."""
        pairs = []
        for item in secrets:
            secret, shown = item if isinstance(item, tuple) else (item, "***")
            # Only real strings: str(None) registered as a "secret" once turned every None in the
            # logs into *** ('NoneType' logged as '***Type'). Shorter ones would blank out words.
            if isinstance(secret, str) and len(secret) >= 4:
                pairs.append((secret, shown))
        # Longest first, so a URL is replaced whole before a secret inside it.
        pairs.sort(key=lambda p: -len(p[0]))
        with self._lock:
            self._pairs = tuple(pairs)

    def __call__(self, text: str) -> str:
        for secret, shown in self._pairs:
            if secret in text:
                text = text.replace(secret, shown)
        text = _USERINFO.sub(r"\1***@", text)
        return _SECRET_PARAM.sub(r"\1***", text)


def _value(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, bool | None) else str(value)
    if text and _BARE.fullmatch(text):
        return text
    return json.dumps(text, ensure_ascii=False)


class _Base(logging.Formatter):
    def __init__(self, redact: Redactor, *, timestamps: bool) -> None:
        super().__init__()
        self.redact = redact
        self.timestamps = timestamps

    def fields(self, record: logging.LogRecord) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.timestamps:
            stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            out["ts"] = stamp.replace("+00:00", "Z")
        out["level"] = record.levelname.lower()
        out["logger"] = record.name
        given: Mapping[str, object] = getattr(record, "fields", None) or {}
        if "event" in given:
            out["event"] = given["event"]
            message = record.getMessage()
            if message and message != given["event"]:
                out["msg"] = message
        else:
            out["msg"] = record.getMessage()
        out.update((k, v) for k, v in given.items() if k != "event")
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
            out["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["traceback"] = record.exc_text
        return out


class TextFormatter(_Base):
    """key=value fields on one line; values with spaces or quotes are JSON-quoted."""

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(" ".join(f"{k}={_value(v)}" for k, v in self.fields(record).items()))


class JsonFormatter(_Base):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        out = {k: (self.redact(v) if isinstance(v, str) else v) for k, v in self.fields(record).items()}
        return json.dumps(out, ensure_ascii=False, default=str)


class _QuietScheduler(logging.Filter):
    """Drop APScheduler's own lines for what the daemon's listeners already log (with the feed's name)."""

    _COVERED = ("Running job", "Job \"", "Run time of job", "Execution of job", "Error running job",
                "Added job", "Removed job", "Scheduler started", "Scheduler has been shut down",
                "Adding job tentatively")

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("apscheduler"):
            return True
        return not str(record.msg).startswith(self._COVERED)


REDACTOR = Redactor()


def setup(level: str = "INFO", fmt: str = "text", *, stream: TextIO | None = None,
          environ: Mapping[str, str] | None = None) -> Redactor:
    """Route every log record to stderr as one line in `fmt`; return the redactor to register secrets with."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    env = os.environ if environ is None else environ
    handler = logging.StreamHandler(stream or sys.stderr)
    timestamps = not env.get("JOURNAL_STREAM")
    handler.setFormatter((JsonFormatter if fmt == "json" else TextFormatter)(REDACTOR, timestamps=timestamps))
    handler.addFilter(_QuietScheduler())
    setattr(handler, _MANAGED, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MANAGED, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    set_level(level)
    return REDACTOR


def set_level(level: str) -> None:
    logging.getLogger().setLevel(level.upper())
    # Library chatter (connection pools, every job start) is noise at INFO.
    # Apprise logs the URLs it loads, which carry credentials: its debug lines stay off.
    for name in ("urllib3", "apscheduler", "apprise"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))


def event(logger: logging.Logger, level: int, name: str, /, *, exc_info: BaseException | None = None,
          **fields: object) -> None:
    """Log one event: `name` plus key=value fields (None values are left out), with a traceback if given."""
    if logger.isEnabledFor(level):
        kept = {k: v for k, v in fields.items() if v is not None}
        logger.log(level, name, exc_info=exc_info, extra={"fields": {"event": name, **kept}})
