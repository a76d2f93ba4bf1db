"""The text of a proposal by mention: sanitised, plain, without the leading mentions."""

from federation.mentions import mentions, plain_paragraphs, title_of


def test_plain_paragraphs_drop_the_mentions_and_any_markup():
    html = ('<p><span class="h-card"><a href="https://ile.example/users/ile" class="u-url mention">@<span>ile'
            '</span></a></span> @claire@masto.example Un <b>atelier</b> vélo<br>à Brest <script>x()</script></p>'
            '<p>Suite &amp; fin</p>')
    assert plain_paragraphs(html) == ["Un atelier vélo", "à Brest", "Suite & fin"]
    assert plain_paragraphs('<p><a href="x">@ile</a></p>') == []


def test_titles_are_the_first_words():
    assert title_of("Un atelier vélo") == "Un atelier vélo"
    assert title_of(" ".join(["mot"] * 20)) == " ".join(["mot"] * 12) + "…"
    assert len(title_of("x" * 500)) <= 121


def test_mentioned_by_tag_or_address():
    island = "https://ile.example/users/ile"
    assert mentions({"tag": [{"type": "Mention", "href": island}]}, island)
    assert mentions({"cc": [island]}, island)
    assert not mentions({"tag": [{"type": "Hashtag", "href": island}], "to": ["https://x/users/y"]}, island)
