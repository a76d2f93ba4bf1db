"""Published items: local articles written here and objects received from other servers.

The article is the first kind of item; fiches and resources extend the same storage and the same
publishing path.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from archipel.errors import Forbidden, InvalidInput, NotFound
from archipel.identity import actor_uri, object_uri
from archipel.storage.tables import LocalActor, StoredObject, utcnow
from archipel.text import html_to_text, render_markdown
from archipel.themes import clean_tags

MAX_TITLE = 300


def _check_title(title: str) -> str:
    title = " ".join((title or "").split())
    if not title:
        raise InvalidInput("a title is required")
    if len(title) > MAX_TITLE:
        raise InvalidInput(f"the title is longer than {MAX_TITLE} characters")
    return title


async def create_article(
    session: AsyncSession,
    *,
    base_url: str,
    author: LocalActor,
    title: str,
    source: str,
    summary: str = "",
    tags=(),
    language: str = "fr",
) -> StoredObject:
    uri = object_uri(base_url)
    article = StoredObject(
        uri=uri,
        is_local=True,
        type="Article",
        author_uri=actor_uri(base_url, author.username),
        local_author_id=author.id,
        name=_check_title(title),
        summary=html_to_text(summary)[:1000],
        source=source,
        content=render_markdown(source),
        language=language or "fr",
        url=uri,
        tags=clean_tags(tags),
        published=utcnow(),
    )
    session.add(article)
    await session.flush()
    return article


async def update_article(
    session: AsyncSession,
    article: StoredObject,
    *,
    title: str | None = None,
    source: str | None = None,
    summary: str | None = None,
    tags=None,
) -> StoredObject:
    if not article.is_local:
        raise Forbidden("an item received from another server cannot be edited here")
    if article.deleted_at is not None:
        raise InvalidInput("this item was withdrawn")
    if title is not None:
        article.name = _check_title(title)
    if source is not None:
        article.source = source
        article.content = render_markdown(source)
    if summary is not None:
        article.summary = html_to_text(summary)[:1000]
    if tags is not None:
        article.tags = clean_tags(tags)
    article.updated = _later_than(article.updated or article.published)
    await session.flush()
    return article


async def withdraw(session: AsyncSession, item: StoredObject) -> StoredObject:
    """Tombstone: the id stays known (410) and is never re-created."""
    if item.deleted_at is None:
        item.deleted_at = _later_than(item.updated or item.published)
        item.updated = item.deleted_at
        await session.flush()
    return item


def _later_than(previous: datetime) -> datetime:
    """Receivers ignore an Update whose `updated` is not newer than what they have."""
    now = utcnow().replace(microsecond=0)
    floor = previous.replace(microsecond=0) + timedelta(seconds=1)
    return max(now, floor)


async def find_object(session: AsyncSession, uri: str) -> StoredObject | None:
    return await session.scalar(select(StoredObject).where(StoredObject.uri == uri))


async def get_object(session: AsyncSession, uri: str) -> StoredObject:
    item = await find_object(session, uri)
    if item is None:
        raise NotFound(f"no item {uri} on this island")
    return item


async def get_local_object(session: AsyncSession, uri: str, author: LocalActor | None = None):
    item = await get_object(session, uri)
    if not item.is_local:
        raise NotFound(f"{uri} is not an item of this island")
    if author is not None and item.local_author_id != author.id:
        raise Forbidden(f"{uri} is not an item of {author.username}")
    return item
