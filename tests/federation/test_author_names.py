"""The author-names worker, stepped by the test on a real island (its own workers off): each
unknown remote author of a replica is asked for once, ours never, and a failure waits its turn."""

from __future__ import annotations

from archipel.storage.tables import ItemAuthor, RemoteActor, StoredObject
from federation.author_names import AuthorNameWorker
from federation.client import FetchError


class Directory:
    """Stands for ActorDirectory: records what is asked, knows some actors, fails for others."""

    def __init__(self, node, failing: set[str]):
        self.node, self.failing, self.asked = node, failing, []

    async def get(self, uri: str) -> RemoteActor:
        self.asked.append(uri)
        if uri in self.failing:
            raise FetchError("connection refused")
        async with self.node.sessions() as session:
            actor = RemoteActor(uri=uri, host="far.example", type="Person", inbox=f"{uri}/inbox", document={})
            session.add(actor)
            await session.commit()
            return actor


async def add_replica(node, number: int, authors: list[str]) -> None:
    async with node.sessions() as session:
        item = StoredObject(uri=f"https://far.example/items/{number}", is_local=False, type="Article",
                            author_uri=authors[0])
        session.add(item)
        await session.flush()
        for position, uri in enumerate(authors):
            session.add(ItemAuthor(object_id=item.id, actor_uri=uri, position=position))
        await session.commit()


async def test_unknown_authors_are_asked_for_once_and_failures_later(make_island):
    node = await make_island("nantes", workers=False)
    rosa, ines, ours = "https://far.example/users/rosa", "https://far.example/users/ines", node.actor_uri("bob")
    await add_replica(node, 1, [rosa, ours])
    await add_replica(node, 2, [rosa, ines])
    directory = Directory(node, failing={ines})
    worker = AuthorNameWorker(node.sessions, directory, node.url)

    assert await worker.run_once() == 1  # rosa known now; ines failed
    assert directory.asked == [rosa, ines]
    assert await worker.run_once() == 0 and directory.asked == [rosa, ines]  # nothing new, ines waits

    await add_replica(node, 3, [rosa, "https://far.example/users/noe"])
    assert await worker.run_once() == 1 and directory.asked[2:] == ["https://far.example/users/noe"]

    directory.failing.clear()
    worker._failures[ines] = (0.0, worker._failures[ines][1])  # its turn has come
    assert await worker.run_once() == 1 and directory.asked[3:] == [ines]
    assert await worker.run_once() == 0 and len(directory.asked) == 4
