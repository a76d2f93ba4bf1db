"""Search pages: `/recherche` for people, `/recherche.json` for programs; the same parameters
(`q`, the facets, `page`), every state of a search in its address so that it can be shared."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup, escape
from babel import Locale, UnknownLocaleError

from archipel import cards, naming, search, search_excerpts, search_terms
from archipel.fiches import LICENCES
from archipel.search_index import island_of
from archipel.text import html_to_reading
from dataclasses import replace

from web import appkeys, feeds, i18n, listing, words
from web.i18n import negotiate_language
from web.negotiation import json_body
from web.pages import page, page_url
from web.params import query_int
from web.search_guard import guarded

routes = web.RouteTableDef()



def _request(request: web.Request) -> search.SearchRequest:
    number = query_int(request, "page", default=1, minimum=1, maximum=search.MAX_PAGE)
    return search.SearchRequest.from_params(request.query, page=number)


def _language_name(code: str, lang: str) -> str:
    try:
        return Locale.parse(code.replace("-", "_")).get_display_name(lang) or code
    except (ValueError, UnknownLocaleError):
        return code


def facet_label(facet: str, value: str, label: str, lang: str, islands: dict[str, str]) -> str:
    if facet == "island":
        return islands.get(value, value)
    if facet == "language":
        return _language_name(value, lang)
    if facet == "licence":
        return LICENCES.get(value, (value,))[0]
    return label


def search_feed(request: web.Request, wanted: search.SearchRequest, lang: str,
                islands: dict[str, str] | None = None) -> feeds.FeedLink:
    """The Atom feed of a search: its newest matching items (a territory's feed is a search by
    region or place). Its title names the chosen islands (`islands`: host → name), not their hosts."""
    settings = request.app[appkeys.SETTINGS]
    chosen = [wanted.text] + [(islands or {}).get(value, value) if facet == "island" else value
                              for facet, values in wanted.chosen for value in values]
    described = " · ".join(word for word in chosen if word)
    title = (i18n.gettext(lang, "Recherche « %(query)s »") % {"query": described} if described
             else i18n.gettext(lang, "Nouveautés de l'archipel"))
    params = [(name, value) for name, value in replace(wanted, page=1, newest_first=False).params()]
    return feeds.feed_link(settings.url, "/recherche.atom", f"{title} · {settings.name}", lang, _grouped(params))


def _grouped(pairs: list[tuple[str, str]]) -> dict:
    """Parameters as feed_link takes them (a repeated facet: its values in a list)."""
    grouped: dict = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in grouped.items()}


async def _run(request: web.Request, *, with_facets: bool = True):
    wanted = _request(request)
    lang = negotiate_language(request)
    async with request.app[appkeys.SESSIONS]() as session:
        result = await search.search(session, wanted, with_facets=with_facets)
        themes = await search.themes_of(session, result.items)
        hosts = {value for value, _, _ in result.facets.get("island", [])}
        hosts |= {island_of(item.uri) for item in result.items}
        islands = {host: island.name for host, island in
                   (await cards.islands_named(session, listing.here(request), hosts)).items()}
    facets = {facet: [(value, facet_label(facet, value, label, lang, islands), count)
                      for value, label, count in counted]
              for facet, counted in result.facets.items()}
    return result, themes, islands, facets, lang


@routes.get("/recherche")
@guarded
async def search_page(request: web.Request) -> web.Response:
    result, themes, islands, facets, lang = await _run(request)
    stems = search_terms.query_stems(result.query)
    cards = [{
        "item": item, "url": page_url(item), "island": islands.get(island_of(item.uri), island_of(item.uri)),
        "title": _html(search_excerpts.marked(item.name, stems, item.language)),
        "excerpt": _html(search_excerpts.excerpt(_text_of(item, lang, search_excerpts.looked_at(stems)), stems,
                                                 item.language)),
        "themes": themes.get(item.id, []),
    } for item in result.items]
    wanted = result.request

    def link(req: search.SearchRequest) -> str:
        params = req.params()
        return "/recherche" + ("?" + urlencode(params) if params else "")

    facet_links = {facet: [{"value": value, "label": label, "count": count,
                            "chosen": value in wanted.values(facet), "href": link(wanted.toggled(facet, value))}
                           for value, label, count in counted] for facet, counted in facets.items()}
    return await page(request, "search.html", result=result, cards=cards, facets=facet_links,
                      feed=search_feed(request, wanted, lang, islands),
                      map_href="/carte" + ("?" + urlencode(replace(wanted, page=1).params()) if wanted.params() else ""),
                      recent_href=link(replace(wanted, page=1, newest_first=True)) if wanted.text else None,
                      relevance_href=link(replace(wanted, page=1, newest_first=False)) if wanted.text else None,
                      query_text=wanted.text,
                      previous_href=link(wanted.at_page(wanted.page - 1)) if wanted.page > 1 else None,
                      next_href=link(wanted.at_page(wanted.page + 1)) if wanted.page < result.pages else None,
                      json_href="/recherche.json" + ("?" + urlencode(wanted.params()) if wanted.params() else ""))


def _html(pieces: list[tuple[str, bool]]) -> Markup:
    """Escaped text with the words found in <mark> (joined here: a template loop over every word
    cost more than the rest of the page). The pieces between two marks are escaped together."""
    parts, plain = [], []
    for piece, found in pieces:
        if found:
            parts += [escape("".join(plain)), f"<mark>{escape(piece)}</mark>"]
            plain = []
        else:
            plain.append(piece)
    parts.append(escape("".join(plain)))
    return Markup("".join(parts))


def _text_of(item, lang: str, length: int) -> str:
    """The beginning of an item's text, pitch then body (its labels in the reader's language):
    `length` characters when the item has them, and not many more."""
    pitch = item.pitch or item.summary or ""
    if len(pitch) >= length:
        return pitch
    body = words.item_body(item, lang)
    wanted = length - len(pitch)
    # HTML is longer than its text: three times the characters wanted, else (tags took more)
    # as far as search_excerpts.MAX_TEXT's would go.
    text = html_to_reading(_beginning(body, 3 * wanted))
    if len(text) < wanted and len(body) > 3 * wanted:
        text = html_to_reading(_beginning(body, 3 * search_excerpts.MAX_TEXT))
    if pitch and text.startswith(" ".join(pitch.split())):
        return text  # a fiche's body opens with its pitch (archipel/rendering.py): shown once
    return " ".join(part for part in (pitch, text) if part)


def _beginning(html: str, size: int) -> str:
    """The first `size` characters of HTML, without a tag or an entity the cut left unfinished."""
    start = html[:size]
    if len(start) < len(html):
        for opening, closing in (("<", ">"), ("&", ";")):
            cut = start.rfind(opening)
            if cut > start.rfind(closing):
                start = start[:cut]
    return start


@routes.get("/recherche.json")
@guarded
async def search_json(request: web.Request) -> web.Response:
    result, themes, islands, facets, _ = await _run(request)
    base = request.app[appkeys.SETTINGS].url
    items = [{
        "id": item.uri, "url": item.url or item.uri, "page": base + page_url(item) if not item.is_local else page_url(item),
        "name": item.name, "summary": (item.fields or {}).get("pitch") or item.summary or "",
        "kind": item.kind, "island": {"host": island_of(item.uri),
                                      "name": islands.get(island_of(item.uri), island_of(item.uri))},
        "themes": [label for _, label in themes.get(item.id, [])],
        "territory": {"place": item.place, "region": item.region, "latitude": item.latitude,
                      "longitude": item.longitude},
        "language": item.language, "licence": item.licence,
        "published": item.published.isoformat().replace("+00:00", "Z"),
    } for item in result.items]
    body = {"total": result.total, "page": result.request.page, "pages": result.pages, "items": items,
            "facets": {facet: {value: count for value, _, count in counted} for facet, counted in facets.items()}}
    return web.Response(body=json_body(body), content_type="application/json", charset="utf-8",
                        headers={"Access-Control-Allow-Origin": "*"})


@routes.get("/recherche.atom")
@guarded
async def search_atom(request: web.Request) -> web.Response:
    lang = negotiate_language(request)
    wanted = replace(_request(request), page=1, newest_first=True)
    async with request.app[appkeys.SESSIONS]() as session:
        result = await search.search(session, wanted, page_size=feeds.MAX_ENTRIES, with_facets=False)
        link = search_feed(request, wanted, lang, await naming.names(session, listing.here(request),
                                                                     set(wanted.values("island"))))
        page_address = request.app[appkeys.SETTINGS].url.rstrip("/") + "/recherche" + (
            "?" + urlencode(replace(wanted, newest_first=False).params()) if wanted.params() else "")
        return await feeds.atom_response(request, session, result.items, link=link, alternate_url=page_address)
