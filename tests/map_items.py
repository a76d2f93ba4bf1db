"""Positioned fiches and resources for the map's tests."""

from __future__ import annotations

from archipel import accounts
from federation import actions


async def place(node, username: str, title: str, lat: float | None, lon: float | None, *, kind: str = "fiche",
                pitch: str = "", place: str = "", tags=(), language: str = "fr") -> str:
    """Publishes a fiche (or resource) at (lat, lon) on `node`; its URI."""
    territory = {"place": place}
    if lat is not None:
        territory.update(latitude=lat, longitude=lon)
    data = {"territory": territory}
    if pitch and kind == "fiche":
        data["pitch"] = pitch
    async with node.sessions() as session:
        author = await accounts.get_actor(session, username)
        item = await actions.publish_item(session, node.url, [author], kind=kind, title=title, tags=list(tags),
                                          language=language, data=data)
        await session.commit()
    node.wake()
    return item.uri
