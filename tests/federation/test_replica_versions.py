"""Which version of a received item wins: the origin's dates decide, never the moment it arrived."""

from datetime import timedelta

from archipel.storage.tables import utcnow
from federation import replicas


def document(published, name: str, updated=None) -> dict:
    doc = {"id": "https://ile.example/o/1", "type": "Article", "attributedTo": "https://ile.example/users/alice",
           "name": name, "content": "<p>Texte.</p>", "published": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
           "to": ["https://www.w3.org/ns/activitystreams#Public"]}
    if updated is not None:
        doc["updated"] = updated.strftime("%Y-%m-%dT%H:%M:%SZ")
    return doc


async def test_an_edit_right_after_a_fetched_copy_is_applied(island):
    published = (utcnow() - timedelta(hours=1)).replace(microsecond=0)
    author = "https://ile.example/users/alice"
    async with island.sessions() as session:
        item = await replicas.store(session, document(published, "Premier titre"), author)
        # The same version again (fetched for an Announce, say): no `updated` in it.
        await replicas.update(session, item, document(published, "Premier titre"), author)
        # The origin's edit, one second after publication, must still be newer.
        edited = document(published, "Titre corrigé", updated=published + timedelta(seconds=1))
        assert await replicas.update(session, item, edited, author)
        assert item.name == "Titre corrigé"
        # An older version arriving late changes nothing.
        assert not await replicas.update(session, item, document(published, "Premier titre"), author)
        assert item.name == "Titre corrigé"
        await session.rollback()
