"""The map of the archipelago: /carte (the map and, beside it, the same items as a list: the page
is whole without JavaScript), /carte.geojson (clustered by bbox and zoom as the map moves),
/carte/embed (the one page other sites may frame) and /carte/communes (the gazetteer look-up of
the item form). The filters are the search's (words and facets, archipel/search.py): a link
switches between the list of /recherche and the map with the same parameters; archipel/geo.py
holds the queries."""

from __future__ import annotations

import json

from aiohttp import web
from archipel import cards, communes, content, geo, search
from archipel.settings import tile_origin
from archipel.storage.tables import StoredObject
from federation.as2 import host_of
from web import appkeys, listing
from web.negotiation import json_body
from web.pages import page, page_url, render
from web.routes import federated
from web.search_guard import guarded

routes = web.RouteTableDef()
# Items listed beside the map per page (more: « Suivantes »), as many as a timeline's page. A
# hundred (their rows, islands and markup) made the page half as costly again: 110 against 72
# million instructions a GET at 100,000 items.
LIST_SIZE = 30
GEOJSON = "application/geo+json"


def _search(request: web.Request) -> search.SearchRequest:
    return search.SearchRequest.from_params(request.query)


def _filters(wanted: search.SearchRequest) -> dict:
    """The first value of each filter the map's form shows."""
    return {"q": wanted.text, **{facet: (wanted.values(facet) or ("",))[0]
                                 for facet in ("island", "theme", "kind", "region", "language")}}


def _base_ids(session, wanted: search.SearchRequest):
    """The search's ids, None when it has no words and no choice (the map's own default then)."""
    return search.matching_ids(session.bind.dialect.name, wanted)


PMTILES_PATH = "/carte/fond.pmtiles"


def map_headers(settings) -> dict:
    """What a page with a map passes to render(): its tiles, and where pictures may come from.
    XYZ: the tile server's origin. PMTiles: the island's own file, whose tiles the pmtiles
    library hands to the page as `blob:` URLs (made in the page, never fetched elsewhere)."""
    attribution = settings.map_tiles_attribution
    if settings.map_tiles_file:
        return {"img_hosts": ("blob:",), "tiles": {"pmtiles": settings.absolute(PMTILES_PATH),
                                                   "attribution": attribution}}
    origin = tile_origin(settings.map_tiles) if settings.map_tiles else ""
    return {"img_hosts": (origin,) if origin else (),
            "tiles": {"url": settings.map_tiles if origin else "", "attribution": attribution}}


@routes.get(PMTILES_PATH)
async def pmtiles_file(request: web.Request) -> web.StreamResponse:
    """The self-hosted tiles: one file read by HTTP range requests (FileResponse answers them)."""
    path = request.app[appkeys.SETTINGS].map_tiles_file
    if path is None or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Type": "application/vnd.pmtiles",
                                           "Cache-Control": "public, max-age=3600"})


def _absolute(settings, item: StoredObject) -> str:
    url = page_url(item)
    return settings.absolute(url) if url.startswith("/") else url


def item_feature(settings, item: StoredObject, islands: dict[str, cards.Island]) -> dict:
    """A point; `island` is the host of the item's island (a key for programs), `island_name`
    what people read (cards.islands_named)."""
    host = host_of(item.uri)
    return {"type": "Feature", "id": item.uri,
            "geometry": {"type": "Point", "coordinates": [round(item.longitude, 6), round(item.latitude, 6)]},
            "properties": {"id": item.uri, "url": _absolute(settings, item), "name": item.name,
                           "summary": item.pitch or item.summary, "kind": item.kind, "island": host,
                           "island_name": islands[host].name}}


async def _islands_of(session, request: web.Request, items) -> dict[str, cards.Island]:
    """The islands of these items' hosts (every one, by name when known): one query, none
    without items."""
    hosts = {host_of(item.uri) for item in items}
    return await cards.islands_named(session, listing.here(request), hosts) if hosts else {}


def cluster_feature(cluster: geo.Cluster) -> dict:
    return {"type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(cluster.longitude, 6), round(cluster.latitude, 6)]},
            "properties": {"cluster": True, "count": cluster.count}}


async def _view(request: web.Request) -> dict:
    """What /carte and /carte/embed show: the filters, the first view's box, a page of the list."""
    wanted = _search(request)
    async with request.app[appkeys.SESSIONS]() as session:
        base = _base_ids(session, wanted)
        cursor = listing.position(request)
        if base is None:  # the whole map: its list's statement is built once
            items = list(await session.execute(content.page_of(geo.listed(), cursor is not None, LIST_SIZE + 1),
                                               content.cursor_values(cursor)))
        else:
            items = list(await session.execute(content.older_than(geo.listed(base), cursor).limit(LIST_SIZE + 1)))
        total, box = await geo.overview(session, base, kept=geo.kept_origins(wanted))
        islands = await _islands_of(session, request, items[:LIST_SIZE])
    filters = _filters(wanted)
    query = wanted.params()
    more = len(items) > LIST_SIZE
    items = items[:LIST_SIZE]
    return {"filters": filters, "query": query, "items": items, "total": total, "extent": box,
            "next_query": [*query, ("before", content.encode_position(items[-1].published, items[-1].id))]
            if more else None,
            "item_islands": {item.id: islands[host_of(item.uri)] for item in items}}


@routes.get("/carte")
@guarded
async def map_page(request: web.Request) -> web.Response:
    settings = request.app[appkeys.SETTINGS]
    view = await _view(request)
    async with request.app[appkeys.SESSIONS]() as session:
        islands = await federated._islands(session, request)
        themes = await content.theme_counts(session, local=None, limit=100)
    return await page(request, "map.html", islands=islands, themes=themes, **view, **map_headers(settings))


@routes.get("/carte/embed")
@guarded
async def embed(request: web.Request) -> web.Response:
    """A filtered map for another site's iframe: framable by anyone, and it sets no cookie (no
    session, no CSRF token, no remembered language): a visitor of that site is not tracked."""
    settings = request.app[appkeys.SETTINGS]
    view = await _view(request)
    return render(request, "map_embed.html", framable=True, cookies=False, **view, **map_headers(settings))


@routes.get("/carte.geojson")
@guarded
async def geojson(request: web.Request) -> web.Response:
    """RFC 7946. With `bbox` (west,south,east,north) and `zoom`: clusters and points in the box,
    bounded whatever they say. Without: the newest geo.MAX_POINTS items, as points."""
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.SESSIONS]() as session:
        wanted = _search(request)
        base = _base_ids(session, wanted)
        if "bbox" in request.query or "zoom" in request.query:
            box = geo.parse_bbox(request.query.get("bbox", "-180,-90,180,90"))
            zoom = geo.parse_zoom(request.query.get("zoom", "0"))
            groups, points = await geo.clusters(session, box, zoom, base, kept=geo.kept_origins(wanted))
        else:
            groups, points = [], list(await session.scalars(geo.positioned(base).limit(geo.MAX_POINTS)))
        islands = await _islands_of(session, request, points)
    features = [cluster_feature(c) for c in groups] + [item_feature(settings, i, islands) for i in points]
    # Public data, for other sites' maps too.
    return web.Response(body=json_body({"type": "FeatureCollection", "features": features}),
                        content_type=GEOJSON, charset="utf-8",
                        headers={"Access-Control-Allow-Origin": "*", "X-Content-Type-Options": "nosniff"})


@routes.get("/carte/communes")
async def commune_lookup(request: web.Request) -> web.Response:
    """The gazetteer for the item form: `?q=bres` -> the ten biggest communes named so."""
    found = communes.lookup(request.query.get("q", ""))
    body = [{"name": c.name, "postcode": c.postcode, "departement": c.departement, "region": c.region,
             "population": c.population, "latitude": c.lat, "longitude": c.lon} for c in found]
    return web.json_response(body, dumps=lambda data: json.dumps(data, ensure_ascii=False),
                             headers={"Cache-Control": "public, max-age=86400"})
