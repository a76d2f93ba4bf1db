"""An island full of fiches, as a long-lived member of a large archipelago would be.

    from benchmarks.archipelago_fill import fill
    archipelago = await fill(sessions, base_url, items=100_000)

Written for the benchmarks that need volume (listings, search, map): N items, most of them
replicas received from `islands` islands that this island's actor follows (accepted follows),
some re-shared by a hub (`shared_by`), a few stored but outside the archipelago (a stranger's
posts, replies), and `local_share` written here by a handful of members (with their `Create`
and the island's `Announce` in `outgoing_activities`, as the outbox shows them).

Rows are written with Core bulk INSERTs in large transactions (no HTTP, no ORM per row), in the
shape the application writes them: `objects` as `content.create_item` (local) and
`federation.replicas.store` (received) fill them, with `item_authors`, `item_themes`, a first
revision for fiches and resources, remote actors for the islands and their authors, and one
theme actor per theme (made by `theme_actors.ensure`, as the inbox does). Deliveries, shares,
likes and replies' notifications are not written: listings do not read them.

Deterministic for a given seed (and base URL).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, insert, select, text

from archipel import fiches, search_index
from archipel.identity import actor_uri
from archipel.ids import new_ulid
from archipel.rendering import render_item
from archipel.storage.tables import (
    Follow,
    ItemAuthor,
    ItemTheme,
    LocalActor,
    OutgoingActivity,
    RemoteActor,
    Revision,
    StoredObject,
)
from archipel.themes import clean_tags, theme_key
from federation import documents, theme_actors
from federation.documents import ActorUrls
from federation.vocabulary import PUBLIC
from web import provision

THEMES = [
    "Transition alimentaire", "Tiers-lieux", "Mobilité douce", "Économie circulaire", "Inclusion numérique",
    "Jardins partagés", "Habitat participatif", "Énergie citoyenne", "Éducation populaire", "Santé communautaire",
    "Insertion professionnelle", "Agriculture urbaine", "Réemploi", "Culture", "Jeunesse", "Vieillissement",
    "Gouvernance partagée", "Monnaies locales", "Biodiversité", "Eau", "Sobriété", "Coopératives", "Formation",
    "Mentorat", "Lutte contre l'isolement", "Accès aux droits", "Fabrication numérique", "Low-tech",
    "Forêts", "Littoral", "Ruralité", "Quartiers prioritaires", "Alimentation scolaire", "Vélo", "Compostage",
    "Démocratie locale", "Égalité femmes-hommes", "Handicap", "Petite enfance", "Tourisme durable",
]
PLACES = [  # (place, region, latitude, longitude)
    ("Rennes", "Bretagne", 48.117, -1.678), ("Brest", "Bretagne", 48.390, -4.486),
    ("Nantes", "Pays de la Loire", 47.218, -1.554), ("Angers", "Pays de la Loire", 47.478, -0.563),
    ("Lille", "Hauts-de-France", 50.629, 3.057), ("Amiens", "Hauts-de-France", 49.894, 2.296),
    ("Strasbourg", "Grand Est", 48.573, 7.752), ("Nancy", "Grand Est", 48.692, 6.184),
    ("Lyon", "Auvergne-Rhône-Alpes", 45.764, 4.836), ("Grenoble", "Auvergne-Rhône-Alpes", 45.188, 5.724),
    ("Clermont-Ferrand", "Auvergne-Rhône-Alpes", 45.778, 3.087), ("Dijon", "Bourgogne-Franche-Comté", 47.322, 5.041),
    ("Besançon", "Bourgogne-Franche-Comté", 47.238, 6.024), ("Marseille", "Provence-Alpes-Côte d'Azur", 43.296, 5.370),
    ("Nice", "Provence-Alpes-Côte d'Azur", 43.710, 7.262), ("Montpellier", "Occitanie", 43.611, 3.877),
    ("Toulouse", "Occitanie", 43.605, 1.444), ("Bordeaux", "Nouvelle-Aquitaine", 44.838, -0.579),
    ("Limoges", "Nouvelle-Aquitaine", 45.834, 1.262), ("Poitiers", "Nouvelle-Aquitaine", 46.580, 0.340),
    ("Rouen", "Normandie", 49.443, 1.099), ("Caen", "Normandie", 49.183, -0.371),
    ("Orléans", "Centre-Val de Loire", 47.903, 1.909), ("Tours", "Centre-Val de Loire", 47.394, 0.685),
    ("Paris", "Île-de-France", 48.857, 2.352), ("Montreuil", "Île-de-France", 48.864, 2.448),
    ("Ajaccio", "Corse", 41.919, 8.739), ("Saint-Denis", "La Réunion", -20.882, 55.450),
]
LANGUAGES = ["fr"] * 88 + ["en"] * 6 + ["br", "oc", "es", "de", "it", "eu"]
WORDS = ("atelier jardin quartier habitants coopérative formation réseau outil projet collectif territoire "
         "association bénévoles partenaires école mairie marché vélo repas compost énergie lien social "
         "numérique accompagnement emploi jeunes aînés familles ressource méthode animation").split()
SPAN_DAYS = 6 * 365  # published dates spread over six years


@dataclass
class Archipelago:
    """What the fill made, for the benchmarks to build their URLs from."""

    base_url: str
    island_username: str
    items: int = 0
    local_items: int = 0
    islands: list[str] = field(default_factory=list)  # hosts followed by the island
    island_actors: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)  # local usernames
    themes: list[str] = field(default_factory=list)  # labels, most used first
    places: list[tuple] = field(default_factory=list)
    seconds: float = 0.0


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize()


def _fiche_data(rng: random.Random) -> tuple[str, dict]:
    sections = {name: "\n\n".join(_sentence(rng, rng.randint(25, 60)) + "." for _ in range(rng.randint(1, 3)))
                for name in fiches.FICHE_SECTIONS if rng.random() < 0.8}
    data = {"pitch": _sentence(rng, rng.randint(8, 16)), "sections": sections,
            "steps": [_sentence(rng, 6) for _ in range(rng.randint(0, 5))],
            "holders": [{"name": f"Association {_sentence(rng, 2)}", "kind": "organisation",
                         "url": "https://asso.example/"}],
            "audience": _sentence(rng, 4), "started": f"{rng.randint(2012, 2025)}-0{rng.randint(1, 9)}-01"}
    return _sentence(rng, rng.randint(40, 120)) + ".", data


def _resource_data(rng: random.Random) -> tuple[str, dict]:
    data = {"learning_goals": [_sentence(rng, 6) for _ in range(rng.randint(1, 4))],
            "audience": _sentence(rng, 4), "duration": f"{rng.randint(1, 6)} h",
            "format": rng.choice(fiches.RESOURCE_FORMATS), "prerequisites": _sentence(rng, 10),
            "materials": [{"title": _sentence(rng, 3), "url": f"https://ressources.example/{rng.randint(1, 999)}.pdf"}]}
    return "\n\n".join(_sentence(rng, rng.randint(30, 80)) + "." for _ in range(rng.randint(2, 5))), data


class _Templates:
    """A pool of rendered bodies per kind (rendering 100,000 Markdown texts would dominate the
    fill); each item gets its own title, dates, place, themes and authors."""

    def __init__(self, rng: random.Random, size: int = 48):
        self.pool = {"fiche": [], "resource": [], "article": [], "note": []}
        for _ in range(size):
            for kind, make in (("fiche", _fiche_data), ("resource", _resource_data)):
                source, data = make(rng)
                fields, _ = fiches.fields_for(kind, data)
                self.pool[kind].append((source, fields))
            self.pool["article"].append((_sentence(rng, rng.randint(80, 200)) + ".", {}))
            self.pool["note"].append((_sentence(rng, rng.randint(10, 40)) + ".", {}))
        self.rendered = {}

    def pick(self, rng: random.Random, kind: str, licence: str | None) -> tuple[str, dict, str]:
        index = rng.randrange(len(self.pool[kind]))
        source, fields = self.pool[kind][index]
        if kind == "note":  # a post from elsewhere: its sanitised HTML, no Markdown source
            return None, {}, f"<p>{source}</p>"
        if (kind, index, licence) not in self.rendered:
            self.rendered[(kind, index, licence)] = render_item(kind, source, fields, licence)
        return source, fields, self.rendered[(kind, index, licence)]


def _theme_weights(count: int) -> list[float]:
    return [1 / (rank + 1) ** 0.8 for rank in range(count)]  # a few themes much more used


def _item_row(rng, templates, now, *, ident, uri, kind, author, local_author_id, is_local, extra,
              in_reply_to=None) -> tuple[dict, list[str]]:
    licence = None if kind in ("article", "note") else rng.choice(list(fiches.LICENCES))
    source, fields, content = templates.pick(rng, kind, licence)
    place, region, lat, lon = rng.choice(PLACES)
    if kind in ("fiche", "resource"):
        fields = {**fields, "territory": {"place": place, "region": region,
                                          "latitude": round(lat + rng.uniform(-0.1, 0.1), 5),
                                          "longitude": round(lon + rng.uniform(-0.1, 0.1), 5)}}
    territory = fields.get("territory") or {}
    tags = clean_tags(list(dict.fromkeys(rng.choices(THEMES, _theme_weights(len(THEMES)), k=rng.randint(1, 4)))))
    published = now - timedelta(days=rng.uniform(0, SPAN_DAYS))
    updated = published + timedelta(days=rng.uniform(1, 200)) if rng.random() < 0.15 else None
    if updated is not None and updated > now:
        updated = None
    state = "archived" if rng.random() < 0.05 else "published"
    row = {
        "id": ident, "uri": uri, "is_local": is_local, "type": "Article" if kind != "note" else "Note",
        "author_uri": author, "local_author_id": local_author_id, "in_reply_to": in_reply_to,
        "name": f"{_sentence(rng, rng.randint(3, 8))} à {place}" if kind != "note" else "",
        "summary": _sentence(rng, rng.randint(10, 25)) if kind != "note" else "",
        "content": content, "source": source, "language": rng.choice(LANGUAGES), "url": uri,
        "tags": tags if kind != "note" else [], "public": True, "extra": extra,
        "shared_by": extra.get("shared_by"),  # as replicas.store writes it (origin_host: its default)
        "published": published, "updated": updated, "deleted_at": None,
        "kind": kind, "state": state if kind != "note" else "published", "licence": licence,
        "based_on": None, "place": territory.get("place") or "", "region": territory.get("region") or "",
        "latitude": territory.get("latitude"), "longitude": territory.get("longitude"),
        "fields": fields, "private_fields": {}, "cover": None, "hidden_at": None,
    }
    return row, row["tags"]


def _snapshot(row: dict) -> dict:  # archipel.revisions.snapshot of the row
    return {"title": row["name"], "summary": row["summary"], "source": row["source"] or "",
            "tags": list(row["tags"]), "language": row["language"], "licence": row["licence"],
            "state": row["state"], "based_on": row["based_on"], "fields": row["fields"], "cover": row["cover"]}


async def _next_id(session, table) -> int:
    return (await session.scalar(select(func.max(table.c.id))) or 0) + 1


async def _bulk(session, table, rows: list[dict]) -> None:
    for start in range(0, len(rows), 2000):
        await session.execute(insert(table), rows[start:start + 2000])


async def _fix_sequences(session, tables) -> None:
    if session.bind.dialect.name != "postgresql":
        return
    for table in tables:
        await session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table.name}), false)"))


async def fill(sessions, base_url: str, *, items: int = 100_000, islands: int = 50, authors_per_island: int = 6,
               members: int = 8, local_share: float = 0.05, hub_share: float = 0.03,
               outside_share: float = 0.02, seed: int = 1, batch: int = 10_000,
               progress=None) -> Archipelago:
    """Fill the island at `base_url` (made by provision.create_island, its island actor present)
    through `sessions` (an async_sessionmaker)."""
    started = time.perf_counter()
    rng = random.Random(seed)
    now = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    templates = _Templates(rng)
    objects, authors_t, themes_t = StoredObject.__table__, ItemAuthor.__table__, ItemTheme.__table__
    revisions_t, outgoing_t = Revision.__table__, OutgoingActivity.__table__

    async with sessions() as session:
        island = await session.scalar(select(LocalActor).where(LocalActor.kind == "island"))
    result = Archipelago(base_url=base_url.rstrip("/"), island_username=island.username,
                         places=PLACES, themes=list(THEMES))
    island_urls = ActorUrls(result.base_url, island.username)

    # Members (real accounts: keys and password hashes as `archipel user add` makes them).
    member_actors = []
    for n in range(members):
        username = f"membre{n + 1}"
        member_actors.append(await provision.add_user(sessions, username=username, password=f"mot de passe {n}",
                                                      display_name=f"Membre {n + 1}"))
        result.members.append(username)

    # Remote islands (followed), other islands (re-shared by a hub), strangers; their actors.
    hosts = [f"ile-{n + 1:02d}.archipel.test" for n in range(islands)]
    unfollowed = [f"hors-{n + 1:02d}.archipel.test" for n in range(max(1, islands // 5))]
    strangers = [f"inconnu-{n + 1}.example" for n in range(5)]
    result.islands = hosts
    actor_rows, follow_rows, authors_of_host = [], [], {}
    fetched = now - timedelta(days=1)
    for host in hosts + unfollowed + strangers:
        group = f"https://{host}/users/ile"
        if host not in strangers:
            actor_rows.append(_remote_actor(group, host, "Group", "ile", f"Île {host.split('.')[0]}", fetched))
        authors_of_host[host] = [f"https://{host}/users/auteur{k + 1}" for k in range(authors_per_island)]
        for k, uri in enumerate(authors_of_host[host]):
            actor_rows.append(_remote_actor(uri, host, "Person", f"auteur{k + 1}", f"Auteur {k + 1} de {host}", fetched))
        if host in hosts:
            result.island_actors.append(group)
            accepted = now - timedelta(days=rng.uniform(30, SPAN_DAYS))
            follow_rows.append({"follower_uri": island_urls.id, "followed_uri": group, "state": "accepted",
                                "activity_uri": f"{result.base_url}/a/{new_ulid()}", "created_at": accepted,
                                "accepted_at": accepted})
            follow_rows.append({"follower_uri": group, "followed_uri": island_urls.id, "state": "accepted",
                                "activity_uri": f"https://{host}/a/{new_ulid()}", "created_at": accepted,
                                "accepted_at": accepted})
    async with sessions() as session:
        await _bulk(session, RemoteActor.__table__, actor_rows)
        await _bulk(session, Follow.__table__, follow_rows)
        await _fix_sequences(session, [RemoteActor.__table__, Follow.__table__])
        await session.commit()

    # Theme actors, made the way the inbox makes them (a key pair each).
    async with sessions() as session:
        for label in THEMES:
            await theme_actors.ensure(session, label)
        await session.commit()

    # Items, in transactions of `batch` rows.
    local_count = round(items * local_share)
    async with sessions() as session:
        ident = await _next_id(session, objects)
        author_id, theme_id, revision_id, outgoing_id = [await _next_id(session, t) for t in
                                                         (authors_t, themes_t, revisions_t, outgoing_t)]
    remote_uris: list[str] = []
    made = 0
    while made < items:
        rows, author_rows, theme_rows, revision_rows, outgoing_rows = [], [], [], [], []
        for _ in range(min(batch, items - made)):
            draw = rng.random()
            kind = rng.choices(("fiche", "resource", "article"), (70, 20, 10))[0]
            if made < local_count:
                member = rng.choice(member_actors)
                names = [actor_uri(result.base_url, member.username)]
                if rng.random() < 0.2:
                    other = rng.choice(member_actors)
                    names = list(dict.fromkeys(names + [actor_uri(result.base_url, other.username)]))
                uri = f"{result.base_url}/o/{new_ulid()}"
                row, tags = _item_row(rng, templates, now, ident=ident, uri=uri, kind=kind, author=names[0],
                                      local_author_id=member.id, is_local=True, extra={})
                create = documents.create_or_update("Create", StoredObject(**row), result.base_url,
                                                    f"{result.base_url}/a/{new_ulid()}", authors=names)
                announce = documents.activity("Announce", id=f"{result.base_url}/a/{new_ulid()}",
                                              actor=island_urls.id, object=uri, to=[PUBLIC],
                                              cc=[island_urls.followers], published=row["published"])
                announce["audience"] = island_urls.id
                for actor_id, activity in ((member.id, create), (island.id, announce)):
                    outgoing_rows.append({"id": outgoing_id, "activity_uri": activity["id"],
                                          "activity_type": activity["type"], "actor_id": actor_id,
                                          "object_uri": uri, "public": True, "payload": activity,
                                          "created_at": row["published"]})
                    outgoing_id += 1
                result.local_items += 1
            else:
                extra = {}
                if draw < outside_share:  # stored, but no part of the archipelago
                    host = rng.choice(strangers)
                    kind = rng.choice(("note", "article"))
                elif draw < outside_share + hub_share:  # from an island we do not follow, via a hub
                    host = rng.choice(unfollowed)
                    extra = {"shared_by": f"https://{rng.choice(hosts)}/users/ile"}
                else:
                    host = rng.choice(hosts)
                names = [rng.choice(authors_of_host[host])]
                if rng.random() < 0.25:
                    names = list(dict.fromkeys(names + [rng.choice(authors_of_host[host])]))
                uri = f"https://{host}/o/{new_ulid()}"
                reply_to = rng.choice(remote_uris) if kind == "note" and remote_uris and rng.random() < 0.5 else None
                row, tags = _item_row(rng, templates, now, ident=ident, uri=uri, kind=kind, author=names[0],
                                      local_author_id=None, is_local=False, extra=extra, in_reply_to=reply_to)
                if len(remote_uris) < 1000:
                    remote_uris.append(uri)
            rows.append(row)
            for position, name in enumerate(names):
                author_rows.append({"id": author_id, "object_id": ident, "actor_uri": name, "position": position})
                author_id += 1
            seen = set()
            for label in tags:
                key = theme_key(label)[:100]
                if key and key not in seen:
                    seen.add(key)
                    theme_rows.append({"id": theme_id, "object_id": ident, "key": key, "label": label[:100]})
                    theme_id += 1
            if kind in ("fiche", "resource"):
                revision_rows.append({"id": revision_id, "object_id": ident, "number": 1,
                                      "editor_uri": names[0], "created_at": row["published"],
                                      "snapshot": _snapshot(row)})
                revision_id += 1
            ident += 1
            made += 1
        async with sessions() as session:
            await _bulk(session, objects, rows)
            await _bulk(session, authors_t, author_rows)
            await _bulk(session, themes_t, theme_rows)
            await _bulk(session, revisions_t, revision_rows)
            await _bulk(session, outgoing_t, outgoing_rows)
            await session.commit()
        if progress:
            progress(made, items)
    async with sessions() as session:
        await _fix_sequences(session, [objects, authors_t, themes_t, revisions_t, outgoing_t])
        # The search index and its kept counts, as `archipel reindex` (and every change) makes them.
        await search_index.reindex(session, batch=2000)
        if session.bind.dialect.name == "postgresql":
            # Autovacuum would analyse these tables soon after; SQLite islands never run ANALYZE.
            await session.execute(text("ANALYZE"))
        await session.commit()
    result.items = items
    result.seconds = time.perf_counter() - started
    return result


def _remote_actor(uri: str, host: str, kind: str, username: str, name: str, fetched: datetime) -> dict:
    return {"uri": uri, "host": host, "type": kind, "username": username, "display_name": name,
            "inbox": f"{uri}/inbox", "shared_inbox": f"https://{host}/inbox", "followers_uri": f"{uri}/followers",
            "url": uri, "icon_url": None, "key_id": f"{uri}#main-key", "public_key_pem": None,
            "document": {"id": uri, "type": kind, "preferredUsername": username, "name": name},
            "fetched_at": fetched}
