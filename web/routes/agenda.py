"""The agenda: `/agenda` (upcoming events by month, past ones a page at a time), its iCalendar
feeds (`/agenda.ics` with the search's parameters, `/tags/<theme>/agenda.ics`) and one event's
calendar (`/agenda/<id>.ics`, « Ajouter à mon agenda »). The filters are the search's."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote, urlencode

from aiohttp import web

from archipel import agenda, cards, search
from archipel.search_index import island_of
from archipel.storage.tables import StoredObject
from archipel.themes import theme_key
from web import appkeys, calendar, listing
from web.event_dates import month_name, start_iso, when
from web.i18n import gettext, negotiate_language
from web.pages import page, page_url
from web.params import path_int, query_int
from web.routes.search import facet_label
from web.search_guard import guarded

routes = web.RouteTableDef()

SHOWN_FACETS = ("island", "theme", "region", "place", "language", "year")


def _request(request: web.Request) -> search.SearchRequest:
    """The search's parameters, events only (a `kind` asked for is replaced)."""
    wanted = search.SearchRequest.from_params(request.query)
    current = {**dict(wanted.chosen), "kind": ("event",)}
    return replace(wanted, chosen=tuple((facet, current[facet]) for facet in search.FACETS if current.get(facet)))


def _params(wanted: search.SearchRequest) -> list[tuple[str, str]]:
    """The address's parameters of a request made by _request (without the implied kind)."""
    return [(name, value) for name, value in wanted.params() if name not in ("kind", "page", "tri")]


def _address(path: str, pairs: list[tuple[str, str]]) -> str:
    return path + ("?" + urlencode(pairs) if pairs else "")


@routes.get("/agenda")
@guarded
async def agenda_page(request: web.Request) -> web.Response:
    wanted = _request(request)
    lang = negotiate_language(request)
    showing_past = request.query.get("passes") == "1"
    page_number = query_int(request, "page", default=1, minimum=1, maximum=search.MAX_PAGE)
    async with request.app[appkeys.SESSIONS]() as session:
        if showing_past:
            items, older = await agenda.past(session, wanted, page=page_number)
        else:
            items, older = await agenda.upcoming(session, wanted), False
        counted = await search.search(session, wanted, page_size=0)
        themes = await search.themes_of(session, items)
        hosts = {value for value, _, _ in counted.facets.get("island", [])} | {island_of(i.uri) for i in items}
        islands = {host: island.name for host, island in
                   (await cards.islands_named(session, listing.here(request), hosts)).items()}
    base = _params(wanted)
    facets = {facet: [{"label": facet_label(facet, value, label, lang, islands), "count": count,
                       "chosen": value in wanted.values(facet),
                       "href": _address("/agenda", _params(wanted.toggled(facet, value))
                                        + ([("passes", "1")] if showing_past else []))}
                      for value, label, count in counted.facets.get(facet, [])]
              for facet in SHOWN_FACETS}
    months = [(month_name(year, month, lang), [{"item": item, "url": page_url(item), "themes": themes.get(item.id, []),
                              "when": when(item, lang), "start": start_iso(item),
                              "island": islands.get(island_of(item.uri), island_of(item.uri)),
                              "ics": f"/agenda/{item.id}.ics"} for item in group])
              for (year, month), group in agenda.by_month(items)]
    past_pairs = base + [("passes", "1")]
    return await page(
        request, "agenda.html", months=months, facets=facets, query_text=wanted.text, wanted=wanted,
        showing_past=showing_past, chosen=[(f, v) for f, v in wanted.chosen if f != "kind"],
        upcoming_href=_address("/agenda", base), past_href=_address("/agenda", past_pairs),
        older_href=_address("/agenda", past_pairs + [("page", str(page_number + 1))]) if older else None,
        newer_href=(_address("/agenda", past_pairs + ([("page", str(page_number - 1))] if page_number > 2 else []))
                    if showing_past and page_number > 1 else None),
        ics_href=_address("/agenda.ics", base), map_href=_address("/carte", base))


@routes.get("/agenda.ics")
@guarded
async def agenda_calendar(request: web.Request) -> web.Response:
    """The island's agenda as a calendar; with the search's parameters, a search's."""
    settings = request.app[appkeys.SETTINGS]
    wanted = _request(request)
    lang = negotiate_language(request)
    words = [wanted.text] + [value for facet, values in wanted.chosen if facet != "kind" for value in values]
    described = " · ".join(word for word in words if word)
    name = f"{gettext(lang, 'Agenda')} · {settings.name}" + (f" · {described}" if described else "")
    async with request.app[appkeys.SESSIONS]() as session:
        items = await agenda.upcoming(session, wanted)
        return await calendar.calendar_response(session, items, name=name, base_url=settings.url,
                                                filename="agenda.ics")


@routes.get("/tags/{tag}/agenda.ics")
async def theme_calendar(request: web.Request) -> web.Response:
    """A theme's events: the agenda.ics of the search by this theme."""
    settings = request.app[appkeys.SETTINGS]
    key = theme_key(request.match_info["tag"])
    if not key:
        raise web.HTTPNotFound(text="no such theme")
    wanted = search.SearchRequest(chosen=(("theme", (key,)), ("kind", ("event",))))
    async with request.app[appkeys.SESSIONS]() as session:
        items = await agenda.upcoming(session, wanted)
        name = f"{gettext(negotiate_language(request), 'Agenda')} · {settings.name} · #{request.match_info['tag'][:100]}"
        return await calendar.calendar_response(session, items, name=name, base_url=settings.url,
                                                filename=f"agenda-{quote(key)}.ics")


@routes.get(r"/agenda/{id:\d+}.ics")
async def event_calendar(request: web.Request) -> web.Response:
    """One event, to add to one's own calendar."""
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        item = await session.scalar(agenda.public_events(None, session.bind.dialect.name)
                                    .where(StoredObject.id == path_int(request, "id")))
        if item is None:
            raise web.HTTPNotFound(text="no such event")
        return await calendar.calendar_response(session, [item], name=item.name, base_url=settings.url,
                                                filename=f"evenement-{item.id}.ics")
