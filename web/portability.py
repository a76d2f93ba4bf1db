"""`archipel export` and `archipel import`: an island's items in a folder, and back.

An export folder holds
  manifest.json           island, date, software, counts, format version, one entry per item
                          (original id, kind, state, dates, authors by username, files) and the
                          list of attachments
  items/<ulid>.json       jsonld: the AS2 document as served (articles get the same `details`
                          as fiches), or a Tombstone for a withdrawn item
  items/<ulid>.md         markdown: the file `archipel publish` reads (markdown_items.write_item);
                          withdrawn items are only listed in the manifest
  revisions/<ulid>.json   every revision: number, editor, date and snapshot, oldest first
  private/<ulid>.json     jsonld with --include-private only: the private contacts of a fiche
  media/<id>-<filename>   the attachments of the items, when their files are found

Private contacts leave the island only with --include-private. A withdrawn item exports as its
id alone: its text was withdrawn, so neither its revisions nor its attachments go.

The import writes items with archipel.content directly, in one transaction: new ids (an id
belongs to its island), nothing federated, and `extra.imported_from` keeps the original id so
that importing the same folder again changes nothing.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import delete as sql_delete
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from archipel import accounts, content, fiches
from archipel.errors import ArchipelError, InvalidInput
from archipel.frontmatter import parse_front_matter
from archipel.identity import actor_uri
from archipel.ids import is_ulid
from archipel.markdown_items import read_item, write_item
from archipel.settings import Settings
from archipel.storage.tables import Revision, StoredObject, utcnow
from federation import documents
from federation.as2 import text_value
from federation.items import RICH_KINDS, item_columns

FORMAT_VERSION = 1
FORMATS = ("jsonld", "markdown")
MANIFEST = "manifest.json"


def software_version() -> str:
    try:
        return importlib.metadata.version("archipel")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat() if moment else None


def _write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2, default=_json_default) + "\n", "utf-8")


def _json_default(value):
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, bytes):
        return None
    return str(value)


def _local_name(uri: str, base_url: str) -> str:
    """A local actor's username, or the URI itself when it is not one of this island's."""
    prefix = actor_uri(base_url, "")
    rest = uri[len(prefix):] if uri.startswith(prefix) else ""
    return rest if rest and "/" not in rest else uri


def _file_key(item: StoredObject) -> str:
    last = item.uri.rstrip("/").rsplit("/", 1)[-1]
    return last if is_ulid(last) else f"item-{item.id}"


# ---- export -----------------------------------------------------------------------------------

@dataclass
class ExportReport:
    out: Path
    format: str
    counts: dict
    missing_media: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        c = self.counts
        lines = [(f"exported {c['items']} item(s) to {self.out} ({self.format}): {c['fiche']} fiche(s), "
                  f"{c['resource']} resource(s), {c['article']} article(s); {c['drafts']} draft(s), "
                  f"{c['withdrawn']} withdrawn, {c['revisions']} revision(s), {c['media']} attachment(s)")]
        lines += [f"attachment {media_id}: file not found, listed in the manifest only"
                  for media_id in self.missing_media]
        return lines


def _media_roots(settings: Settings) -> list[Path]:
    roots = []
    configured = getattr(settings, "media_directory", None)
    if configured:
        path = Path(configured)
        roots.append(path if path.is_absolute() else Path(settings.directory) / path)
    roots.append(Path(settings.directory) / "media")
    return list(dict.fromkeys(roots))


def _media_file(roots: list[Path], media_id: str) -> Path | None:
    """Where an attachment's bytes are: <root>/<2 chars>/<id>, with or without an extension."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", media_id):
        return None
    for root in roots:
        folders = list(dict.fromkeys([root / media_id[:2], root / media_id[-2:], root]))
        for folder in folders:
            if (folder / media_id).is_file():
                return folder / media_id
        for folder in folders:
            if folder.is_dir():
                found = sorted(p for p in folder.glob(f"{media_id}.*") if p.is_file())
                if found:
                    return found[0]
    return None


def _safe_filename(name) -> str:
    name = Path(str(name or "")).name
    name = re.sub(r"[^\w.\- ]", "_", name).strip(" .")[:100]
    return name or "file"


async def _media_rows(sessions) -> dict[int, list[dict]]:
    """Attachments by item id; the table is read as it is (no model), and its absence is fine."""
    try:
        async with sessions() as session:
            rows = (await session.execute(text("SELECT * FROM media WHERE object_id IS NOT NULL"))).mappings().all()
    except SQLAlchemyError:
        return {}
    by_item: dict[int, list[dict]] = {}
    for row in rows:
        row = dict(row)
        if row.get("id") is not None:
            by_item.setdefault(row["object_id"], []).append(row)
    for media in by_item.values():
        media.sort(key=lambda row: str(row["id"]))
    return by_item


def _article_details(item: StoredObject) -> dict:
    """An article's served `details` holds its text; the export's says more, so that the raw
    summary, state, licence, origin and cover survive the trip."""
    return {"summary": item.summary, "source": item.source or "", "tags": list(item.tags),
            "state": item.state, "fields": item.fields or {}, "licence": item.licence,
            "based_on": item.based_on, "cover": item.cover}


async def export_island(settings: Settings, sessions, out, *, format: str = "jsonld",
                        include_private: bool = False) -> ExportReport:
    if format not in FORMATS:
        raise InvalidInput("Format d'export inconnu : %(format)s (au choix : %(choices)s).", format=format,
                           choices=", ".join(FORMATS))
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput("%(folder)s existe et n'est pas vide : exportez dans un nouveau dossier.", folder=out)
    base = settings.url
    media_by_item = await _media_rows(sessions)
    roots = _media_roots(settings)
    files: dict[str, object] = {}  # relative path -> JSON value or text
    copies: list[tuple[Path, str]] = []
    entries, media_entries, missing = [], [], []
    counts = {"items": 0, "fiche": 0, "resource": 0, "article": 0, "drafts": 0, "withdrawn": 0,
              "revisions": 0, "media": 0}
    async with sessions() as session:
        items = list(await session.scalars(
            select(StoredObject).where(StoredObject.is_local.is_(True), StoredObject.type.in_(("Article", "Event")),
                                       StoredObject.in_reply_to.is_(None), StoredObject.kind.in_(fiches.KINDS))
            .order_by(StoredObject.published, StoredObject.id)))
        for item in items:
            key = _file_key(item)
            withdrawn = item.deleted_at is not None
            authors = await content.authors_of(session, item)
            entry = {"id": item.uri, "kind": item.kind, "state": item.state, "title": item.name,
                     "withdrawn": withdrawn, "published": _iso(item.published), "updated": _iso(item.updated),
                     "authors": [_local_name(uri, base) for uri in authors], "cover": item.cover}
            counts["items"] += 1
            counts[item.kind] = counts.get(item.kind, 0) + 1  # "event" only in an export that has some
            counts["drafts"] += item.state == "draft"
            if withdrawn:
                counts["withdrawn"] += 1
                entry["deleted"] = _iso(item.deleted_at)
                if format == "jsonld":
                    entry["file"] = f"items/{key}.json"
                    files[entry["file"]] = documents.tombstone(item)
                entries.append(entry)
                continue
            if format == "jsonld":
                document = documents.object_document(item, base, authors=authors)
                if item.kind not in RICH_KINDS:  # the export's block says more than the served one
                    document["details"] = _article_details(item)
                entry["file"] = f"items/{key}.json"
                files[entry["file"]] = document
                if include_private and item.private_fields:
                    entry["private"] = f"private/{key}.json"
                    files[entry["private"]] = item.private_fields
            else:
                entry["file"] = f"items/{key}.md"
                files[entry["file"]] = write_item(item, entry["authors"], private=include_private)
            history = list(await session.scalars(
                select(Revision).where(Revision.object_id == item.id).order_by(Revision.number)))
            entry["revisions"] = f"revisions/{key}.json"
            files[entry["revisions"]] = [
                {"number": r.number, "editor": _local_name(r.editor_uri, base), "editor_uri": r.editor_uri,
                 "date": _iso(r.created_at), "snapshot": r.snapshot} for r in history]
            counts["revisions"] += len(history)
            entry["media"] = []
            for row in media_by_item.get(item.id, []):
                media_id = str(row["id"])
                described = {"id": media_id, "item": item.uri,
                             **{k: row.get(k) for k in ("kind", "filename", "content_type", "size", "sha256",
                                                        "width", "height", "alt") if k in row}}
                path = _media_file(roots, media_id)
                if path is None:
                    described["missing"] = True
                    missing.append(media_id)
                else:
                    described["file"] = f"media/{media_id}-{_safe_filename(row.get('filename'))}"
                    copies.append((path, described["file"]))
                    counts["media"] += 1
                entry["media"].append(media_id)
                media_entries.append(described)
            entries.append(entry)
    out.mkdir(parents=True, exist_ok=True)
    for relative, value in files.items():
        target = out / relative
        if isinstance(value, str):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(value, "utf-8")
        else:
            _write_json(target, value)
    for path, relative in copies:
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out / relative)
    manifest = {  # written last: a folder without a manifest is an interrupted export
        "format": format, "format_version": FORMAT_VERSION,
        "island": {"name": settings.name, "url": base, "handle": settings.handle},
        "exported_at": _iso(utcnow()), "software": {"name": "archipel", "version": software_version()},
        "include_private": include_private, "counts": counts, "items": entries, "media": media_entries,
    }
    _write_json(out / MANIFEST, manifest)
    return ExportReport(out, format, counts, missing)


# ---- import -----------------------------------------------------------------------------------

@dataclass
class ImportReport:
    origin: str
    imported: list[tuple[str, str]] = field(default_factory=list)
    already: list[tuple[str, str]] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    media_not_imported: int = 0

    def lines(self) -> list[str]:
        lines = [(f"imported {len(self.imported)} item(s) from {self.origin} (nothing was federated); "
                  f"{len(self.already)} already imported, {len(self.withdrawn)} withdrawn skipped")]
        lines += [f"{original} -> {new}" for original, new in self.imported]
        lines += [f"{original} -> {new} (already imported, unchanged)" for original, new in self.already]
        lines += [f"{original}: withdrawn on its island, not imported" for original in self.withdrawn]
        if self.media_not_imported:
            lines.append(f"{self.media_not_imported} attachment(s) in media/ were not imported: "
                         "upload them again if needed")
        return lines


def _read_json(path: Path):
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise InvalidInput("%(path)s : fichier introuvable.", path=path) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInput("%(path)s : ce n'est pas du JSON valide (%(error)s).", path=path, error=error) from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        raise InvalidInput("%(path)s : fichier introuvable.", path=path) from None
    except UnicodeDecodeError as error:
        raise InvalidInput("%(path)s : ce n'est pas du texte UTF-8 (%(error)s).", path=path, error=error) from None


def _inside(folder: Path, relative) -> Path:
    if not isinstance(relative, str) or not relative or Path(relative).is_absolute() or ".." in Path(relative).parts:
        raise InvalidInput("%(path)s : nom de fichier invalide : %(name)r.", path=folder / MANIFEST, name=relative)
    return folder / relative


def _moment(value, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise InvalidInput("%(field)s n'est pas une date : %(value)r.", field=name, value=value) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass
class _Entry:
    """One item of the folder, read and checked, not yet written."""
    original: str
    path: Path
    withdrawn: bool = False
    fields: dict = field(default_factory=dict)  # create_item arguments (without authors)
    authors: list[str] = field(default_factory=list)
    published: datetime | None = None
    updated: datetime | None = None
    cover: dict | None = None
    revisions: list[dict] = field(default_factory=list)


def _holders_with(fields: dict, private: dict) -> dict:
    holders = [dict(h) for h in fields.get("holders") or []]
    for contact in (private or {}).get("contacts") or []:
        index = contact.get("holder") if isinstance(contact, dict) else None
        if isinstance(index, int) and 0 <= index < len(holders):
            holders[index]["contact"] = contact.get("contact")
    return {**fields, "holders": holders} if holders else fields


def _from_jsonld(document, entry: dict, private: dict) -> dict:
    if not isinstance(document, dict):
        raise InvalidInput("Ce n'est pas un objet ActivityStreams.")
    if document.get("id") != entry["id"]:
        raise InvalidInput("Son identifiant %(found)r n'est pas celui que donne le manifeste (%(listed)s).",
                           found=document.get("id"), listed=entry["id"])
    kind = document.get("itemKind") or "article"
    details = document.get("details")
    if kind not in fiches.KINDS or not isinstance(details, dict):
        raise InvalidInput("Aucun contenu Archipel dedans (itemKind et details manquent).")
    content_map = document.get("contentMap")
    language = next(iter(content_map), "fr") if isinstance(content_map, dict) and content_map else "fr"
    if kind in RICH_KINDS:
        columns = item_columns(document)
        data = _holders_with(columns["fields"], private)
        licence, based_on, cover = columns["licence"], columns["based_on"], columns["cover"]
        source, summary, tags = columns["source"], columns["summary"], columns["tags"]
    else:
        source, summary = details.get("source"), details.get("summary")
        if not isinstance(source, str) or not isinstance(summary, str):
            raise InvalidInput("details.source et details.summary doivent être du texte.")
        data, licence, based_on = {}, details.get("licence"), details.get("based_on")
        tags, cover = details.get("tags") or [], details.get("cover")
    if not isinstance(tags, list):
        raise InvalidInput("Les mots-clés (tags) doivent être une liste.")
    return {"kind": kind, "title": text_value(document, "name"), "source": source, "summary": summary,
            "tags": tags, "language": str(language), "licence": licence,
            "state": fiches.check_state(details.get("state")), "based_on": based_on, "data": data,
            "cover": cover}


def _from_markdown(text: str, entry: dict) -> tuple[dict, list]:
    meta = parse_front_matter(text).metadata
    if meta.get("id") not in (None, entry["id"]):
        raise InvalidInput("Son identifiant %(found)r n'est pas celui que donne le manifeste (%(listed)s).",
                           found=meta.get("id"), listed=entry["id"])
    fields = read_item(text)
    authors = fields.pop("authors")
    fields["cover"] = entry.get("cover")
    fields["published"] = meta.get("published")
    fields["updated"] = meta.get("updated")
    return fields, authors


def _check_revisions(value) -> list[dict]:
    if not isinstance(value, list):
        raise InvalidInput("Les versions (revisions) doivent être une liste.")
    checked, numbers = [], set()
    for revision in value:
        if not isinstance(revision, dict):
            raise InvalidInput("Chaque version doit être une table de valeurs.")
        number = revision.get("number")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1 or number in numbers:
            raise InvalidInput("Le numéro de version %(number)r n'est pas un nouvel entier positif.", number=number)
        numbers.add(number)
        if not isinstance(revision.get("snapshot"), dict):
            raise InvalidInput("La version %(number)s n'a pas d'état enregistré (snapshot).", number=number)
        editor = revision.get("editor") or revision.get("editor_uri")
        if not isinstance(editor, str) or not editor:
            raise InvalidInput("La version %(number)s n'a pas d'auteur (editor).", number=number)
        date = _moment(revision.get("date"), f"date (revision {number})") or utcnow()
        checked.append({"number": number, "editor": editor, "date": date, "snapshot": revision["snapshot"]})
    return sorted(checked, key=lambda r: r["number"])


def _read_entry(folder: Path, entry, fmt: str) -> _Entry:
    """Reads and checks one item's files; every error names the file it comes from."""
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        raise InvalidInput("%(path)s : un contenu n'a pas d'identifiant.", path=folder / MANIFEST)
    if entry.get("withdrawn"):
        return _Entry(entry["id"], folder / MANIFEST, withdrawn=True)
    path = _inside(folder, entry.get("file"))
    try:
        authors = entry.get("authors") or []
        if fmt == "jsonld":
            private = _read_json(_inside(folder, entry["private"])) if entry.get("private") else {}
            if not isinstance(private, dict):
                raise InvalidInput("Les champs privés doivent être une table de valeurs.")
            document = _read_json(path)
            if isinstance(document, dict) and document.get("type") == "Tombstone":
                return _Entry(entry["id"], path, withdrawn=True)
            fields = _from_jsonld(document, entry, private)
            published = entry.get("published") or document.get("published")
            updated = entry.get("updated") or document.get("updated")
        else:
            fields, file_authors = _from_markdown(_read_text(path), entry)
            authors = file_authors or authors
            published = entry.get("published") or fields.pop("published", None)
            updated = entry.get("updated") or fields.pop("updated", None)
            fields.pop("published", None)
            fields.pop("updated", None)
        if not isinstance(authors, list) or not all(isinstance(a, str) and a for a in authors):
            raise InvalidInput("Les auteurs (authors) sont une liste de noms de comptes.")
        cover = fields.pop("cover", None)
        if cover is not None and not isinstance(cover, dict):
            raise InvalidInput("La couverture (cover) doit être une table de valeurs.")
        result = _Entry(entry["id"], path, fields=fields, authors=[str(a) for a in authors],
                        published=_moment(published, "published"), updated=_moment(updated, "updated"),
                        cover=cover)
    except InvalidInput as error:
        raise InvalidInput("%(path)s : %(error)s", path=path, error=error) from None
    if entry.get("revisions"):
        revisions_path = _inside(folder, entry["revisions"])
        try:
            result.revisions = _check_revisions(_read_json(revisions_path))
        except InvalidInput as error:
            if str(error).startswith(str(revisions_path)):
                raise
            raise InvalidInput("%(path)s : %(error)s", path=revisions_path, error=error) from None
    return result


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        raise InvalidInput("%(path)s introuvable : %(folder)s est-il un dossier fait par « archipel export » ?",
                           path=path, folder=folder)
    manifest = _read_json(path)
    if not isinstance(manifest, dict):
        raise InvalidInput("%(path)s : ce n'est pas un manifeste d'export.", path=path)
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise InvalidInput("%(path)s : cette version d'archipel ne lit pas la version de format %(version)r "
                           "(jusqu'à %(latest)s).", path=path, version=version, latest=FORMAT_VERSION)
    if manifest.get("format") not in FORMATS:
        raise InvalidInput("%(path)s : format inconnu : %(format)r.", path=path, format=manifest.get("format"))
    if not isinstance(manifest.get("items"), list) or not isinstance(manifest.get("island"), dict):
        raise InvalidInput("%(path)s : « island » et « items » manquent.", path=path)
    return manifest


async def import_island(settings: Settings, sessions, folder, *, as_user: str | None = None) -> ImportReport:
    """Everything or nothing: one transaction; an invalid file stops the import and is named."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    origin = str(manifest["island"].get("url") or "")
    entries = [_read_entry(folder, entry, manifest["format"]) for entry in manifest["items"]]
    report = ImportReport(origin, media_not_imported=sum(
        1 for m in manifest.get("media") or [] if isinstance(m, dict) and m.get("file")))
    base = settings.url
    async with sessions() as session:
        known = {}
        for uri, extra in await session.execute(
                select(StoredObject.uri, StoredObject.extra).where(StoredObject.is_local.is_(True))):
            if isinstance(extra, dict) and extra.get("imported_from"):
                known[extra["imported_from"]] = uri
        todo = []
        for entry in entries:
            if entry.withdrawn:
                report.withdrawn.append(entry.original)
            elif entry.original in known:
                report.already.append((entry.original, known[entry.original]))
            else:
                todo.append(entry)
        names = {name for e in todo for name in [*e.authors, *(r["editor"] for r in e.revisions)]}
        actors = {name: await accounts.find_actor(session, name) for name in sorted(names) if "/" not in name}
        fallback = await accounts.get_actor(session, as_user) if as_user else None
        absent = sorted(name for name in names if actors.get(name) is None)
        if absent and fallback is None:
            raise InvalidInput("Pas sur cette île : %(names)s ; ajoutez ces comptes (archipel user add) ou donnez "
                               "--as NOM pour attribuer leurs contenus à quelqu'un d'ici.", names=", ".join(absent))

        def actor_for(name):
            return actors.get(name) or fallback

        for entry in todo:
            authors = [actor_for(name) for name in entry.authors] or [fallback]
            if None in authors:
                raise InvalidInput("%(path)s : le contenu ne nomme pas d'auteur : donnez --as NOM.", path=entry.path)
            try:
                item = await content.create_item(session, base_url=base, authors=authors, **entry.fields)
            except (ArchipelError, ValueError) as error:
                raise InvalidInput("%(path)s : %(error)s", path=entry.path, error=error) from None
            item.published = entry.published or item.published
            item.updated = entry.updated
            item.cover = entry.cover
            item.extra = {"imported_from": entry.original}
            await session.execute(sql_delete(Revision).where(Revision.object_id == item.id))
            for revision in entry.revisions:
                editor = actor_for(revision["editor"])
                session.add(Revision(object_id=item.id, number=revision["number"],
                                     editor_uri=actor_uri(base, editor.username), created_at=revision["date"],
                                     snapshot=revision["snapshot"]))
            await session.flush()
            report.imported.append((entry.original, item.uri))
        await session.commit()
    return report
