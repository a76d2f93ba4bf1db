"""What a search result shows of an item: its title and an excerpt with the words found marked,
made from the beginning of its text (pitch, then body) without reading more of it than the
excerpt looks at."""

from archipel import search_excerpts
from archipel.rendering import render_item
from archipel.storage.tables import StoredObject
from web import words
from web.routes.search import _beginning, _html, _text_of


def item(pitch: str, body: str | None) -> StoredObject:
    return StoredObject(fields={"pitch": pitch}, summary="", content=body, kind="fiche", uri="https://a.example/1",
                        source="", licence=None)


def excerpt_text(an_item, stems=frozenset()) -> str:
    pieces = search_excerpts.excerpt(_text_of(an_item, "fr", search_excerpts.looked_at(stems)), stems, "fr")
    return "".join(piece for piece, _ in pieces)


def test_without_words_the_excerpt_is_the_beginning_of_the_pitch_then_the_body():
    body = "<h2>Genèse</h2>" + "".join(f"<p>Mot{n} d&#39;atelier.</p>" for n in range(2000))
    shown = excerpt_text(item("Réparer ensemble.", body))
    assert shown.startswith("Réparer ensemble. Genèse Mot0 d'atelier. Mot1 d'atelier.")
    assert shown.endswith(" …") and "<" not in shown and len(shown) < search_excerpts.looked_at(set())


def test_a_fiche_whose_body_opens_with_its_pitch_shows_it_once():
    fields = {"pitch": "Des collégien·nes et des aîné·es  apprennent ensemble, l'un de l'autre"}
    fiche = item(fields["pitch"], render_item("fiche", "Une heure par semaine.", fields, None))
    shown = excerpt_text(fiche)
    assert shown == "Des collégien·nes et des aîné·es apprennent ensemble, l'un de l'autre Une heure par semaine."


def test_a_body_whose_first_characters_are_tags_still_gives_its_words():
    """Three times the characters wanted were all markup: the text is read further."""
    body = '<div class="colonnes">' * 300 + "<p>" + " ".join(f"mot{n}" for n in range(100)) + "</p>"
    shown = excerpt_text(item("", body))
    assert shown.startswith("mot0 mot1 mot2") and len(shown.split()) == 33


def test_a_long_pitch_is_enough_and_the_body_is_not_read(monkeypatch):
    def unread(*_):
        raise AssertionError("the body was read")
    monkeypatch.setattr(words, "item_body", unread)
    pitch = " ".join(["coopérative"] * 200)
    shown = excerpt_text(item(pitch, "<p>Le corps.</p>"))
    assert shown.startswith("coopérative coopérative") and len(shown.split()) == 33


def test_words_found_further_in_the_text_are_in_the_excerpt():
    body = "<p>" + " ".join(["début"] * 600) + " le réemploi solidaire " + " ".join(["fin"] * 100) + "</p>"
    shown = excerpt_text(item("Court.", body), frozenset({"reemploi"}))
    assert "réemploi solidaire" in shown


def test_an_excerpt_is_the_window_around_the_words_found_with_an_ellipsis_where_text_was_cut():
    stems = frozenset({"reemploi"})
    words = [f"mot{n}" for n in range(100)]
    words[50] = "réemploi"

    def shown(text: str) -> str:
        return "".join(piece for piece, _ in search_excerpts.excerpt(text, stems, "fr"))
    window = " ".join(words[42:74])  # 32 words, the word found a quarter in
    assert shown(" ".join(words) + ".") == f"… {window} …"
    assert shown(" ".join(words[:74]) + ".") == f"… {window} …"  # one character after the window
    assert shown(" ".join(words[:74])) == f"… {window}"  # the text ends with the window
    assert shown(" ".join(words[:60])) == "… " + " ".join(words[28:60])  # as far as the end allows
    assert shown(" ".join(words[:10])) == " ".join(words[:10])  # shorter than a window: whole


def test_a_cut_never_leaves_half_a_tag_or_half_an_entity():
    html = '<p>Prix&nbsp;: 3&euro;</p><p class="suite">Suite</p>'
    for size in range(len(html)):
        start = _beginning(html, size)
        assert html.startswith(start)
        assert start.rfind("<") <= start.rfind(">") and start.rfind("&") <= start.rfind(";")
    assert _beginning(html, len(html)) == html


def test_marks_surround_the_words_found_and_everything_is_escaped():
    assert str(_html([("a<b ", False), ("mot", True), (" & c", False), ("<x>", True)])) == (
        "a&lt;b <mark>mot</mark> &amp; c<mark>&lt;x&gt;</mark>")
    assert str(_html([])) == ""
