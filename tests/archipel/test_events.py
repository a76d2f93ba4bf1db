"""An event's fields: times with their zone, checked like any input, and what another server
sends (Mobilizon's shape) bounded the same way before anything is stored."""

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from archipel.errors import InvalidInput
from archipel.events import event_fields, instants, local_times
from federation.items import event_columns
from federation.jsonld import normalize

MOBILIZON = Path(__file__).parent.parent / "data" / "fediverse" / "mobilizon"


def test_times_keep_their_zone_and_give_utc_instants():
    fields, private = event_fields({"start": "2027-07-01T09:30", "end": "2027-07-01T17:00",
                                    "time_zone": "Europe/Paris"})
    assert private == {} and fields["start"] == "2027-07-01T09:30:00+02:00" and fields["time_zone"] == "Europe/Paris"
    assert instants(fields) == (datetime(2027, 7, 1, 7, 30, tzinfo=timezone.utc),
                                datetime(2027, 7, 1, 15, 0, tzinfo=timezone.utc))
    offset_only, _ = event_fields({"start": "2027-01-05T18:00:00-05:00"})
    assert offset_only["time_zone"] == "-05:00" and offset_only["end"] == offset_only["start"]
    assert local_times(offset_only)[0].hour == 18


@pytest.mark.parametrize("data, message", [
    ({"start": "2027-07-01T09:30"}, "décalage"),
    ({"start": "2027-07-01T09:30:00+02:00", "end": "2027-06-30T09:30:00+02:00"}, "finit avant"),
    ({"start": "2027-07-01T09:30:00+02:00", "end": "2029-07-01T09:30:00+02:00"}, "au plus un an"),
    ({"start": "9999-07-01T09:30:00+02:00"}, "entre 1970"),
    ({"start": "1900-07-01T09:30:00+02:00"}, "entre 1970"),
    ({"start": "2027-07-01T09:30:00+02:00", "time_zone": "Europe/Nulle\x00part"}, "Fuseau horaire"),
    ({"start": "2027-07-01T09:30:00+02:00", "time_zone": "../../etc/passwd"}, "Fuseau horaire"),
    ({"start": "2027-07-01T09:30:00+02:00", "time_zone": "A" * 65}, "Fuseau horaire"),
    ({"start": "2027-07-01T09:30:00+02:00", "registration": "javascript:alert(1)"}, "registration"),
    ({"start": "2027-07-01T09:30:00+02:00", "online": "https://x.example/" + "a" * 2000}, "online"),
    ({"start": "2027-07-01T09:30:00+02:00", "organisers": [{"name": ""}]}, "organisateur"),
    ({"start": "2027-07-01T09:30:00+02:00", "uses": ["https://x.example/o/1"] * 51}, "utilisées"),
    ({"start": "le 1er juillet"}, "ISO 8601"),
    ({"start": "2" * 1000}, "ISO 8601"),
])
def test_what_cannot_be_stored_or_shown_is_refused(data, message):
    with pytest.raises(InvalidInput, match=message):
        event_fields(data)


def mobilizon_event(**changes) -> dict:
    document = json.loads((MOBILIZON / "event.json").read_text())
    document.update(changes)
    return normalize(document)


def test_a_mobilizon_event_becomes_an_event_with_its_place_and_zone():
    columns = event_columns(mobilizon_event())
    assert columns["kind"] == "event" and columns["time_zone"] == "Europe/Paris" and columns["language"] == "fr"
    assert columns["starts_at"] == datetime(2027, 3, 12, 8, 30, tzinfo=timezone.utc)
    assert columns["fields"]["territory"] == {"place": "Le Fourneau, 11 Quai de la Douane, 29200 Brest",
                                              "region": "Bretagne", "latitude": 48.3807, "longitude": -4.4944}


def test_hostile_values_from_another_server_are_refused_or_dropped():
    with pytest.raises(InvalidInput):
        event_columns(mobilizon_event(startTime="99999-03-12T09:30:00+01:00"))
    with pytest.raises(InvalidInput):  # a position beyond the world
        event_columns(mobilizon_event(location={"type": "Place", "name": "Nulle part", "latitude": 1e300,
                                                "longitude": 2.0}))
    assert event_columns(mobilizon_event(startTime=12)) is None  # not an event we can place in time
    unknown_zone = event_columns(mobilizon_event(timezone="Mars/Olympus_Mons"))
    assert unknown_zone["time_zone"] == "+01:00"  # the offsets still say when
    long_place = event_columns(mobilizon_event(location={"type": "Place", "name": "N\x00" * 5000}))
    assert len(long_place["place"]) <= 500 and "\x00" not in long_place["place"]
    sneaky = event_columns(mobilizon_event(externalParticipationUrl="javascript:alert(1)"))
    assert sneaky["fields"]["registration"] == ""
