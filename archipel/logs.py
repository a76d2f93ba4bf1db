"""The log of `archipel serve`: one line per event, as text or as JSON (`log_format`).

A traceback stays on its event's line (text: its lines joined by " | "; JSON: an `exception`
field), so that a log collector never splits an event. The id of what an event is about is a
field of its own in JSON (`activity_id`, `delivery_id`, `mail_id`, `catalog_sync_id`, `host`):
given as `extra={...}` by the code that logs, or read from the message's first argument when
the message starts by naming it ("delivery %d to %s ...", "activity %s ...").
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

FORMATS = ("text", "json")
ID_FIELDS = ("activity_id", "delivery_id", "mail_id", "catalog_sync_id", "host")
# How the workers' messages begin when they are about one row: its id is their first argument.
_PREFIXES = (("activity %s", "activity_id"), ("delivery %d", "delivery_id"), ("mail %s", "mail_id"),
             ("catalog sync %d", "catalog_sync_id"), ("host %s", "host"))
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class EventIds(logging.Filter):
    """Sets the id fields a record's message names, unless the caller gave them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and isinstance(record.args, tuple) and record.args:
            for prefix, name in _PREFIXES:
                if record.msg.startswith(prefix) and not hasattr(record, name):
                    setattr(record, name, record.args[0])
                    break
        return True


def _one_line(text: str) -> str:
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return _one_line(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for name in ID_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                event[name] = value if isinstance(value, (int, float)) else str(value)
        if record.exc_info:
            event["exception"] = _one_line(self.formatException(record.exc_info))
        elif record.exc_text:
            event["exception"] = _one_line(record.exc_text)
        return json.dumps(event, ensure_ascii=False, default=str)


def handler(log_format: str, stream=None) -> logging.Handler:
    if log_format not in FORMATS:
        raise ValueError(f"log_format must be one of {', '.join(FORMATS)}, not {log_format!r}")
    result = logging.StreamHandler(stream)
    result.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    result.addFilter(EventIds())
    return result


def configure(level: str, log_format: str) -> None:
    """The root logger of a serving process: one handler on stderr."""
    logging.basicConfig(level=level.upper(), handlers=[handler(log_format)], force=True)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
