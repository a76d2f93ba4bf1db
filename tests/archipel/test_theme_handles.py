"""Theme handles: readable, valid for Mastodon, and the same for every spelling of a theme."""

import pytest

from archipel.accounts import check_links
from archipel.errors import InvalidInput
from archipel.handles import USERNAME_PATTERN, theme_slug
from archipel.themes import theme_key


@pytest.mark.parametrize("label, slug", [
    ("Transition alimentaire", "transition-alimentaire"),
    ("Médiation numérique", "mediation-numerique"),
    ("Tiers-lieux & co", "tiers-lieux-co"),
    ("  Économie sociale et solidaire ", "economie-sociale-et-solidaire"),
    ("!!", ""),
])
def test_theme_slugs(label, slug):
    assert theme_slug(label) == slug
    assert slug == "" or USERNAME_PATTERN.match(slug)


def test_every_spelling_has_one_key():
    spellings = ("Transition alimentaire", "transition-alimentaire", "#TransitionAlimentaire",
                 "transition_alimentaire", "TRANSITION ALIMENTAIRE")
    assert {theme_key(s) for s in spellings} == {"transitionalimentaire"}


def test_profile_links_are_checked():
    assert check_links([("Site", " https://a.example "), ("", "")]) == [{"name": "Site", "url": "https://a.example"}]
    for bad in ([("Site", "javascript:alert(1)")], [("", "https://a.example")], [("x" * 61, "https://a.example")],
                [("Site", "https://a.example/ b")], [("n", f"https://a.example/{i}") for i in range(5)]):
        with pytest.raises(InvalidInput):
            check_links(bad)
