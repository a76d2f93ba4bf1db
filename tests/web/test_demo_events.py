"""The demo's events come in the weeks after the day the demo runs, at their written local time."""

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from archipel.markdown_items import read_item
from web.demo import CONTENT, moved_to_this_week

PARIS = ZoneInfo("Europe/Paris")


def _event(name: str) -> dict:
    return read_item((Path(CONTENT) / name).read_text("utf-8"))["data"]


def test_an_event_keeps_its_weekday_distance_and_local_time_in_summer():
    written = _event("atelier-wiki-evenement.md")  # Thursday 14 January 2027, 18:00 in Paris
    moved = moved_to_this_week(written, dt.date(2027, 7, 7))  # a Wednesday, summer time
    start, end = moved["start"].astimezone(PARIS), moved["end"].astimezone(PARIS)
    assert start.date() == dt.date(2027, 7, 15) and start.weekday() == 3
    assert (start.hour, start.minute) == (18, 0) and (end.hour, end.minute) == (20, 30)
    assert moved["start"].utcoffset() == dt.timedelta(hours=2)


def test_every_demo_event_is_to_come_within_the_letters_six_weeks():
    today = dt.date(2026, 12, 6)  # a Sunday: the last day of its week
    for path in Path(CONTENT).glob("*.md"):
        item = read_item(path.read_text("utf-8"))
        if item.get("kind") != "event":
            continue
        start = moved_to_this_week(item["data"], today)["start"]
        assert dt.datetime.combine(today, dt.time(23, 59), PARIS) < start, path.name
        assert start < dt.datetime.combine(today + dt.timedelta(weeks=6), dt.time(0, 0), PARIS), path.name
