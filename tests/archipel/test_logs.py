"""The serving log: one line per event, text or JSON, the id of the row an event is about."""

from __future__ import annotations

import io
import json
import logging

import pytest

from archipel import logs
from archipel.settings import SettingsError, load_settings, write_settings


def logger_writing(log_format: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    logger = logging.getLogger(f"tests.logs.{log_format}")
    logger.handlers[:] = [logs.handler(log_format, stream)]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def failing() -> None:
    raise ValueError("a bad\nvalue")


def test_json_events_carry_the_id_they_are_about_and_their_traceback_on_one_line():
    logger, stream = logger_writing("json")
    logger.info("delivery %d to %s failed (%s), next try in %s", 42, "https://a.example/inbox", "503", "0:01:00")
    logger.info("activity %s (%s from %s): %s — %s", "https://a.example/a/1", "Like", "x", "ignored", "no object")
    logger.warning("the island answers", extra={"delivery_id": 7})
    try:
        failing()
    except ValueError:
        logger.exception("mail %s could not be sent", 3)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4
    events = [json.loads(line) for line in lines]
    assert events[0]["delivery_id"] == 42 and events[0]["level"] == "INFO"
    assert events[0]["message"] == "delivery 42 to https://a.example/inbox failed (503), next try in 0:01:00"
    assert events[1]["activity_id"] == "https://a.example/a/1"
    assert events[2]["delivery_id"] == 7 and events[2]["logger"] == "tests.logs.json"
    assert events[3]["mail_id"] == 3
    assert "Traceback" in events[3]["exception"] and "ValueError: a bad | value" in events[3]["exception"]
    assert events[0]["time"].endswith("+00:00")


def test_text_events_keep_their_traceback_on_their_line():
    logger, stream = logger_writing("text")
    try:
        failing()
    except ValueError:
        logger.exception("inbox batch of %d failed", 3)
    [line] = stream.getvalue().splitlines()
    assert " ERROR tests.logs.text: inbox batch of 3 failed | Traceback" in line and "ValueError" in line


def test_the_log_format_setting_is_checked(tmp_path):
    write_settings(tmp_path, url="http://127.0.0.1:8000", handle="ile", log_format="json")
    assert load_settings(tmp_path).log_format == "json"
    with pytest.raises(SettingsError, match="log_format"):
        load_settings(tmp_path, environ={"ARCHIPEL_LOG_FORMAT": "xml"})
