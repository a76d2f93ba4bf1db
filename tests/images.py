"""A host of pictures on loopback (a remote server's media), recording every request, and
pictures good and bad to put on it."""

from __future__ import annotations

import asyncio
import io
import struct
import zlib

from aiohttp import web
from PIL import Image

from tests.nodes import bound_socket


class ImageHost:
    def __init__(self, host: str = "127.0.0.1"):
        self.sock = bound_socket(host)
        self.url = f"http://{host}:{self.sock.getsockname()[1]}"
        self.files: dict[str, tuple[int, dict, bytes]] = {}  # path -> (status, headers, body)
        self.requests: list[str] = []  # paths asked for, in order
        self.delay = 0.0  # seconds each answer takes
        self.active = self.most_at_once = 0  # requests being answered now, and at most
        self.runner: web.AppRunner | None = None

    def put(self, path: str, body: bytes, content_type: str = "image/png", status: int = 200,
            **headers) -> str:
        self.files[path] = (status, {"Content-Type": content_type, **headers}, body)
        return f"{self.url}{path}"

    def redirect(self, path: str, target: str) -> str:
        self.files[path] = (302, {"Location": target}, b"")
        return f"{self.url}{path}"

    async def start(self) -> ImageHost:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._get)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.SockSite(self.runner, self.sock).start()
        return self

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()

    async def _get(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        self.active += 1
        self.most_at_once = max(self.most_at_once, self.active)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return self._answer(request)
        finally:
            self.active -= 1

    def _answer(self, request: web.Request) -> web.Response:
        if request.path not in self.files:
            return web.Response(status=404)
        status, headers, body = self.files[request.path]
        return web.Response(status=status, headers=headers, body=body)


def png(width: int = 64, height: int = 64, colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps(width: int = 80, height: int = 60) -> bytes:
    """A photo carrying an EXIF comment and GPS position, as phones write them."""
    image = Image.new("RGB", (width, height), (30, 120, 200))
    exif = Image.Exif()
    exif[0x010E] = "secret-description"  # ImageDescription
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge canvas (a decompression bomb's first step)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


SVG_WITH_SCRIPT = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                   b'<script>alert(document.domain)</script><rect width="10" height="10"/></svg>')


def picture_worker(node):
    """The remote pictures' worker of a running island, stepped by the test (run_once)."""
    from federation.remote_images import RemoteImageWorker
    from web import appkeys
    return RemoteImageWorker(node.sessions, node.app[appkeys.CLIENT], node.app[appkeys.ISLAND_SIGNER],
                             node.settings.effective_media_directory)
