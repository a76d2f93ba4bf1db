"""Words for people (web/words.py, archipel/wording.py, archipel/naming.py): codes, dates and
durations written out, French elision and typography, an item's labels in the reader's language."""

from __future__ import annotations

import pytest

from archipel import wording
from archipel.fiches import FICHE_SECTIONS
from archipel.naming import handle_guess
from archipel.rendering import render_item
from web import i18n, words
from web.pages import page_templates

NB = "\u00a0"


@pytest.mark.parametrize(("name", "phrase"), [
    ("Île de Brest", "de l'Île de Brest"),        # a vowel, a common noun: the article
    ("Atelier du Coin", "de l'Atelier du Coin"),
    ("Angers", "d'Angers"),                       # a vowel, a proper name: elision only
    ("Hôtel des Savoirs", "de l'Hôtel des Savoirs"),  # a mute h
    ("Hendaye", "d'Hendaye"),
    ("Hameau Vert", "de Hameau Vert"),            # an aspirated h: no elision
    ("Brest", "de Brest"),                        # a consonant
    ("Tiers-lieu de Nantes", "de Tiers-lieu de Nantes"),
    ("  Ysère ", "d'Ysère"),                      # spaces around are not part of the name
])
def test_of_name_elides_before_a_vowel_or_a_mute_h(name, phrase):
    assert words.of_name(name) == phrase


@pytest.mark.parametrize(("text", "fr", "en"), [
    ("PT3H", f"3{NB}h", "3 hr"),
    ("PT1H30M", f"1{NB}h 30{NB}min", "1 hr 30 min"),
    ("P2D", f"2{NB}j", "2 days"),
    ("p1w", f"1{NB}sem.", "1 wk"),
    ("une demi-journée", "une demi-journée", "une demi-journée"),  # written by a person: kept
    ("P", "P", "P"), ("PT", "PT", "PT"), ("PT0H", "PT0H", "PT0H"), ("", "", ""),
    ("PT99999H", "PT99999H", "PT99999H"),  # bounded: not a duration anyone writes
])
def test_iso_durations_are_written_out(text, fr, en):
    assert wording.duration("fr", text).replace("\u202f", NB) == fr
    assert wording.duration("en", text) == en


def test_dates_are_written_out_and_anything_else_is_kept():
    assert wording.iso_date("fr", "2019-03-16") == "16 mars 2019"
    assert wording.iso_date("en", "2019-03-16") == "March 16, 2019"
    assert wording.iso_date("fr", "printemps 2019") == "printemps 2019"


def test_codes_become_words_and_an_unknown_code_is_never_shown():
    assert words.action_label("fr", "silence_account") == "Compte masqué"
    assert words.action_label("en", "report_remote") == "Report sent to another server"
    assert words.action_label("en", "future_action") == "other"
    assert words.state_label("fr", "follow", "accepted") == "acceptée"
    assert words.state_label("en", "follow", "pending") == "awaiting an answer"
    assert words.state_label("en", "report", "resolved") == "resolved"
    assert words.state_label("fr", "report", "strange") == "autre"


def test_every_code_and_label_has_its_english_words():
    phrases = [*words.ACTIONS.values(), *(p for states in words.STATES.values() for p in states.values()),
               *words.ITEM_LABELS, words.OTHER]
    assert [p for p in phrases if i18n.gettext("en", p) == p and p not in ("Format", "Kit", "Guide", "Licence")] == []


def test_handles_stand_for_unknown_people():
    assert handle_guess("https://social.example/users/Ana") == "@Ana@social.example"
    assert handle_guess("https://social.example/@bob") == "@bob@social.example"
    assert handle_guess("https://social.example/") == "social.example"
    assert handle_guess("not a url") == ""


FIELDS = {"pitch": "Un atelier", "sections": {"goals": "Réparer"}, "steps": ["Ouvrir"], "started": "2019-03-16",
          "territory": {"place": "Brest"}, "holders": [{"name": "Ana"}]}


def test_an_item_body_follows_the_reader_and_the_stored_body_stays_french():
    stored = render_item("fiche", "", FIELDS, "CC0-1.0")
    assert render_item("fiche", "", FIELDS, "CC0-1.0") == stored  # deterministic, whoever reads
    assert "<h2>Objectifs</h2>" in stored and "Démarré le&nbsp;: 16 mars 2019" in stored
    assert "Licence&nbsp;:" in stored and "Territoire&nbsp;: Brest" in stored
    english = render_item("fiche", "", FIELDS, "CC0-1.0", words.item_wording("en"))
    assert "<h2>Goals</h2>" in english and "Started on: March 16, 2019" in english
    assert "<h2>How to do it</h2>" in english or i18n.gettext("en", "Mode d'emploi") in english
    assert all(i18n.gettext("en", heading) in english for heading in (FICHE_SECTIONS["goals"], "Porteurs du projet"))
    assert "Objectifs" not in english and "Territoire" not in english
    resource = render_item("resource", "", {"duration": "PT3H", "format": "video"}, None, words.item_wording("en"))
    assert "Format: Video" in resource and "Duration: 3 hr" in resource


@pytest.mark.parametrize(("error", "fr", "en"), [
    ("HTTP 503: <html>busy", "Le serveur est en difficulté (erreur 503).", "The server is in trouble (error 503)."),
    ("HTTP 410: gone", "Le serveur refuse nos envois (erreur 410).", "The server refuses our deliveries (error 410)."),
    ("ClientConnectorError: Cannot connect to host", "Le serveur est injoignable.", "The server cannot be reached."),
    ("TimeoutError", "Le serveur n'a pas répondu à temps.", "The server did not answer in time."),
    ("ValueError: what", "L'envoi a échoué.", "The delivery failed."),
])
def test_delivery_errors_are_told_in_words(error, fr, en):
    assert words.delivery_error("fr", error) == fr and words.delivery_error("en", error) == en


def test_diff_values_are_written_out():
    lines = [("-", "2019-03-16"), ("+", "2019-04-01")]
    assert [(mark, words.written_value("fr")("Démarrage", value)) for mark, value in lines] == \
        [("-", "16 mars 2019"), ("+", "1 avril 2019")]
    assert words.written_value("en")("Durée", "PT2H") == "2 hr"
    assert words.written_value("en")("Format", "video") == "Video"
    assert words.written_value("fr")("Fin", "2027-07-01T12:30:00+02:00") == "1 juillet 2027 à 12:30"
    assert words.written_value("en")("Fin", "2027-07-01T12:30:00+02:00").startswith("July 1, 2027, 12:30")
    assert words.written_value("fr")("Licence", "CC0-1.0") == "CC0 1.0"
    assert words.written_value("fr")("Texte", "PT2H") == "PT2H"  # what people wrote stays


class FetchError(Exception):
    pass


def test_refusals_are_told_in_the_reader_language():
    from archipel.errors import InvalidInput
    assert words.failure("fr", InvalidInput("Donnez un domaine, par exemple exemple.org.")) == \
        "Donnez un domaine, par exemple exemple.org."
    assert words.failure("en", InvalidInput("Une mesure vise déjà ce compte ou ce domaine : levez-la d'abord.")) == \
        "A measure already targets this account or domain: lift it first."
    assert words.failure("en", FetchError("Cannot connect to host")).startswith("This account cannot be found")
    assert words.failure("fr", ValueError("something nobody named")) == \
        f"Ce n'est pas possible{NB}: vérifiez ce que vous avez saisi."


def test_an_item_body_in_english_follows_each_edit():
    from types import SimpleNamespace
    item = SimpleNamespace(uri="https://ile.example/o/1", kind="resource", source="", licence=None,
                           fields={"duration": "PT3H"}, content=render_item("resource", "", {"duration": "PT3H"}, None))
    assert words.item_body(item, "fr") == item.content and "Durée&nbsp;: 3" in item.content
    assert "Duration: 3 hr" in words.item_body(item, "en")
    item.fields = {"duration": "PT2H"}
    item.content = render_item("resource", "", item.fields, None)
    assert "Duration: 2 hr" in words.item_body(item, "en")
    article = SimpleNamespace(uri="https://ile.example/o/2", kind="article", content="<p>Texte</p>")
    assert words.item_body(article, "en") == "<p>Texte</p>"


def test_related_fiches_are_numbered_in_the_body_and_named_on_the_page():
    from types import SimpleNamespace
    fields = {"related": ["https://ile.example/o/1", "https://ile.example/o/2"]}
    body = render_item("resource", "", fields, None)
    assert "https://ile.example/o/1</a>" not in body and ">Fiche liée 1</a>" in body
    item = SimpleNamespace(uri="https://ile.example/o/3", kind="resource", source="", licence=None,
                           fields=fields, content=body)
    named = words.item_body(item, "en", {"https://ile.example/o/1": "Repair <café>"})
    assert ">Repair &lt;café&gt;</a>" in named and ">Related sheet 2</a>" in named


@pytest.mark.parametrize(("lang", "count", "shown"), [
    ("fr", 1, "1 fiche ou ressource placée sur la carte"),
    ("fr", 999, "999 fiches et ressources placées sur la carte"),
    ("fr", 68804, "68\u202f804 fiches et ressources placées sur la carte"),  # narrow no-break space
    ("fr", 1234567, "1\u202f234\u202f567 fiches et ressources placées sur la carte"),
    ("en", 68804, "68,804 sheets and resources on the map"),
])
def test_counts_in_sentences_have_their_language_s_thousands_separator(lang, count, shown):
    sentence = page_templates().from_string(
        '{{ ngettext("%(num)d fiche ou ressource placée sur la carte", '
        '"%(num)d fiches et ressources placées sur la carte", count) }}')
    assert sentence.render(lang=lang, count=count) == shown


@pytest.mark.parametrize(("lang", "shown"), [("fr", "(999) (34\u202f357)"), ("en", "(999) (34,357)")])
def test_counts_beside_a_filter_have_their_language_s_thousands_separator(lang, shown):
    counts = page_templates().from_string("({{ 999 | count }}) ({{ 34357 | count }})")
    assert counts.render(lang=lang) == shown


@pytest.mark.parametrize(("zone", "fr", "en"), [
    ("Europe/Paris", "France (Paris)", "France (Paris)"),
    ("Europe/London", "Royaume-Uni (Londres)", "United Kingdom (London)"),
    ("America/Martinique", "Martinique", "Martinique"),  # a city that bears the territory's name
    ("Indian/Reunion", "La Réunion", "Réunion"),
    ("America/Montreal", "Canada (Montréal)", "Canada (Montréal)"),  # Babel would say Toronto
    ("Pacific/Wallis", "Wallis-et-Futuna", "Wallis & Futuna"),
    ("America/Argentina/Buenos_Aires", "Argentine (Buenos Aires)", "Argentina (Buenos Aires)"),
    ("UTC", "UTC", "UTC"),
    ("+02:00", "UTC+02:00", "UTC+02:00"),  # a received event's offset
    ("Europe/Atlantide", "Atlantide", "Atlantide"),  # unknown to Babel: never the identifier
])
def test_a_time_zone_is_named_by_its_country_and_city_not_its_identifier(zone, fr, en):
    assert (wording.zone_place("fr", zone), wording.zone_place("en", zone)) == (fr, en)


def test_every_zone_the_event_form_offers_has_a_name_for_people():
    from web.forms import TIME_ZONES
    for lang in ("fr", "en"):
        names = [wording.zone_place(lang, zone) for zone in TIME_ZONES]
        assert len(set(names)) == len(names), names
        assert not [name for name in names if "/" in name or "_" in name], names
