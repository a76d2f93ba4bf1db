"""An event leaves an island with `archipel export` and arrives on another with `archipel import`,
in both formats, with its times, zone and links."""

import json

from sqlalchemy import select

from archipel.storage.tables import StoredObject
from tests.events import publish_event
from tests.processes import cli

COMPARED = ("kind", "type", "name", "source", "tags", "licence", "fields", "starts_at", "ends_at", "time_zone",
            "place", "region", "latitude", "longitude", "content")


async def events_of(node) -> list[dict]:
    async with node.sessions() as session:
        return [{column: getattr(item, column) for column in COMPARED}
                for item in await session.scalars(select(StoredObject).where(StoredObject.kind == "event"))]


async def test_an_event_is_exported_and_imported_identical(make_island, tmp_path):
    brest = await make_island("brest", workers=False)
    await brest.add_user("alice")
    await publish_event(brest, "alice")
    [original] = await events_of(brest)
    assert original["time_zone"] == "Europe/Paris" and original["type"] == "Event"
    for fmt in ("jsonld", "markdown"):
        out = tmp_path / f"export-{fmt}"
        cli("export", brest.directory, out, "--format", fmt)
        assert json.loads((out / "manifest.json").read_text())["counts"]["event"] == 1
        target = await make_island(f"cible-{fmt}", workers=False)
        await target.add_user("alice")
        assert "imported 1 item(s)" in cli("import", target.directory, out).stdout
        assert await events_of(target) == [original]
