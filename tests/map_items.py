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


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def write_pmtiles(path, png: bytes) -> None:
    """A raster PMTiles v3 file holding one tile, z0 (the whole world), uncompressed: enough for
    a map to show its background at every zoom (the tile enlarged past z0)."""
    import struct

    directory = _varint(1) + _varint(0) + _varint(1) + _varint(len(png)) + _varint(1)  # id, run, length, offset+1
    metadata = b"{}"
    root_offset = 127
    metadata_offset = root_offset + len(directory)
    data_offset = metadata_offset + len(metadata)
    header = b"PMTiles" + struct.pack(
        "<BQQQQQQQQQQQBBBBBBiiiiBii", 3, root_offset, len(directory), metadata_offset, len(metadata),
        data_offset, 0, data_offset, len(png), 1, 1, 1, 1, 1, 1, 2, 0, 0,
        -1_800_000_000, -850_000_000, 1_800_000_000, 850_000_000, 0, 0, 0)
    assert len(header) == 127
    path.write_bytes(header + directory + metadata + png)
