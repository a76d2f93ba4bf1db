import pytest

from archipel.errors import InvalidInput
from archipel.frontmatter import parse_front_matter
from archipel.handles import InvalidUsername, check_username, slugify_username
from archipel.ids import is_ulid, new_ulid
from archipel.text import html_to_reading, html_to_text, render_markdown, sanitize_html
from archipel.themes import clean_tags, hashtag_for, theme_key


@pytest.mark.parametrize("name, slug", [
    ("Île de Brest", "ile-de-brest"),
    ("  Tiers-lieu « La Péniche » ", "tiers-lieu-la-peniche"),
    ("!!!", "ile"),
])
def test_slugify_username_gives_ascii_handles(name, slug):
    assert slugify_username(name) == slug
    check_username(slug)


@pytest.mark.parametrize("bad", ["île", "Alice", "a b", "-alice", "alice-", "inbox", "users", "", "a" * 65])
def test_invalid_or_reserved_usernames_are_refused(bad):
    with pytest.raises(InvalidUsername):
        check_username(bad)


def test_ulids_are_opaque_sortable_and_distinct():
    first, second = new_ulid(1_000), new_ulid(2_000)
    assert is_ulid(first) and is_ulid(second)
    assert first < second
    assert len({new_ulid() for _ in range(1000)}) == 1000


def test_markdown_is_rendered_and_raw_html_escaped():
    html = render_markdown("# Titre\n\nDu **gras** <script>alert(1)</script> [lien](javascript:alert(1))")
    assert "<strong>gras</strong>" in html
    assert "<script" not in html
    assert "href=\"javascript" not in html


def test_sanitizer_keeps_mastodon_markup_and_drops_dangerous_parts():
    dirty = ('<p onclick="x()">Salut <a href="https://ex.org" onmouseover="y()">lien</a>'
             '<img src=x onerror=alert(1)><script>alert(2)</script><iframe src="https://ev.il"></iframe></p>')
    clean = sanitize_html(dirty)
    assert "onclick" not in clean and "onerror" not in clean and "onmouseover" not in clean
    assert "<script" not in clean and "<iframe" not in clean
    assert 'href="https://ex.org"' in clean and 'rel="nofollow noopener noreferrer"' in clean


def test_markdown_bomb_is_refused():
    with pytest.raises(ValueError):
        render_markdown("[" * 150_000)


def test_html_to_text():
    assert html_to_text("<p>Un&nbsp;<b>deux</b></p>\n<p>trois</p>") == "Un deux trois"


def test_html_to_reading_keeps_french_no_break_spaces():
    assert html_to_reading("<p>Durée&nbsp;: 3 h</p>\n<p> trois  </p>") == "Durée\u00a0: 3 h trois"


def test_front_matter_parsing():
    document = parse_front_matter("---\ntitle: Les PAPI\ntags: [a, b]\n---\n\nCorps")
    assert document.metadata == {"title": "Les PAPI", "tags": ["a", "b"]}
    assert document.body == "Corps"
    assert parse_front_matter("Juste du texte").metadata == {}
    with pytest.raises(InvalidInput):
        parse_front_matter("---\ntitle: x\n")
    with pytest.raises(InvalidInput):
        parse_front_matter("---\n- a list\n---\n")


def test_themes_have_a_mastodon_hashtag_and_a_matching_key():
    assert hashtag_for("Médiation numérique") == "MediationNumerique"
    assert hashtag_for("#transition-alimentaire") == "TransitionAlimentaire"
    assert theme_key("Transition alimentaire") == theme_key("transition-alimentaire") == theme_key("#TransitionAlimentaire")
    assert clean_tags(["Inclusion", "#inclusion", "", "  Tiers lieux "]) == ["Inclusion", "Tiers lieux"]
