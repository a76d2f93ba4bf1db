"""Publishing events in tests: the Markdown files of tests/data/events, with changes."""

from __future__ import annotations

from pathlib import Path

from archipel import accounts
from archipel.markdown_items import read_item
from federation import actions

EVENTS = Path(__file__).parent / "data" / "events"


async def publish_event(node, username: str, name: str = "journee-fabmanagers.md", *, title: str | None = None,
                        tags: list[str] | None = None, **data) -> str:
    """Publishes the event file `name` as `username`, its fields changed by `data`; its id."""
    fields = read_item((EVENTS / name).read_text())
    fields.pop("authors")
    fields["data"].update(data)
    if title:
        fields["title"] = title
    if tags is not None:
        fields["tags"] = tags
    async with node.sessions() as session:
        author = await accounts.get_actor(session, username)
        item = await actions.publish_item(session, node.url, [author], **fields)
        await session.commit()
    node.wake()
    return item.uri
