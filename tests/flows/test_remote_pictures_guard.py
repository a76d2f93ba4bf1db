"""A remote picture that redirects to a private address is refused at the hop, before anything
is sent there, with the address guard on (allow_private_networks off).

"Public" addresses only exist here inside a private network namespace that the test makes itself
(`unshare -n -m`, as root): a fake public host on 1.2.3.4 (over https, with a certificate the
namespace trusts) and a private one on 127.0.0.1; no packet leaves the namespace."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]

INSIDE = r'''
import asyncio, json, ssl, subprocess, sys
from pathlib import Path
from aiohttp import web

from archipel import remote_media
from archipel.storage import migrate
from archipel.storage.engine import make_engine, make_sessionmaker
from archipel.storage.tables import RemoteActor, RemoteImage
from federation.client import FederationClient
from federation.remote_images import RemoteImageWorker
from tests.images import png

PUBLIC, TMP = "1.2.3.4", Path(sys.argv[1])
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["ip", "addr", "add", f"{PUBLIC}/32", "dev", "lo"], check=True)

server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
server_ssl.load_cert_chain(TMP / "cert.pem", TMP / "key.pem")

asked = {"public": [], "private": []}
PRIVATE_URL = "https://127.0.0.1:8444/secret.png"
REDIRECTS = {
    "/to-loopback.png": PRIVATE_URL,
    "/to-loopback-by-name.png": "https://localhost:8444/secret.png",
    "/to-decimal-loopback.png": "https://2130706433:8444/secret.png",
    "/to-mapped-loopback.png": "https://[::ffff:127.0.0.1]:8444/secret.png",
    "/to-plain-http.png": "http://127.0.0.1:8445/secret.png",
    "/to-private-network.png": "https://10.1.2.3/secret.png",
    "/relative-then-loopback.png": "/hop-2.png",
    "/hop-2.png": PRIVATE_URL,
}


def server(label):
    async def handle(request):
        asked[label].append(request.path)
        if label == "public" and request.path in REDIRECTS:
            return web.Response(status=302, headers={"Location": REDIRECTS[request.path]})
        return web.Response(body=png(30, 30), content_type="image/png")
    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    return app


async def main():
    runners = []
    for label, host, port, tls in (("public", PUBLIC, 443, True), ("private", "127.0.0.1", 8444, True),
                                   ("private", "127.0.0.1", 8445, False)):
        runner = web.AppRunner(server(label), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port, ssl_context=server_ssl if tls else None).start()
        runners.append(runner)
    url = f"sqlite+aiosqlite:///{TMP / 'guard.db'}"
    await migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    icons = [f"https://{PUBLIC}{path}" for path in REDIRECTS if path != "/hop-2.png"] + [f"https://{PUBLIC}/direct.png"]
    async with sessions() as session:
        for number, icon in enumerate(icons):
            uri = f"https://{PUBLIC}/users/u{number}"
            session.add(RemoteActor(uri=uri, host=PUBLIC, type="Person", inbox=uri + "/inbox", icon_url=icon,
                                    document={}))
        await session.commit()
    client = FederationClient(allow_private=False, max_bytes=1_000_000, timeout=5)
    await client.start()
    worker = RemoteImageWorker(sessions, client, None, TMP / "media")
    worker._paused_until.clear()
    for _ in range(len(icons)):  # one per host per round, at most two
        await worker.run_once()
        worker._paused_until.clear()
    async with sessions() as session:
        rows = {row.url: [row.state, row.last_error] for row in await session.scalars(
            __import__("sqlalchemy").select(RemoteImage))}
    await client.close()
    await engine.dispose()
    for runner in runners:
        await runner.cleanup()
    print(json.dumps({"rows": rows, "asked": asked}))

asyncio.run(main())
'''


def _certificate(directory: Path) -> Path:
    """A self-signed certificate for the fake hosts, trusted inside the namespace (SSL_CERT_FILE)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    names = [x509.IPAddress(ipaddress.ip_address("1.2.3.4")), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
             x509.DNSName("localhost")]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(key, hashes.SHA256()))
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    return directory / "cert.pem"


def _can_unshare() -> str | None:
    if sys.platform != "linux" or os.geteuid() != 0:
        return "needs root on Linux (a private network namespace)"
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "needs unshare and ip"
    return None


async def test_redirects_to_private_addresses_are_refused_at_the_hop(tmp_path):
    reason = _can_unshare()
    if reason:
        pytest.skip(reason)
    script = tmp_path / "inside.py"
    script.write_text(INSIDE)
    process = await asyncio.create_subprocess_exec(
        "unshare", "-n", "-m", sys.executable, str(script), str(tmp_path), cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SSL_CERT_FILE": str(_certificate(tmp_path))},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()[-3000:]
    result = json.loads(out.decode().strip().splitlines()[-1])
    rows, asked = result["rows"], result["asked"]
    # The control: a picture on the public host itself is fetched and kept.
    assert rows["https://1.2.3.4/direct.png"][0] == "stored", rows
    refused = {url: row for url, row in rows.items() if not url.endswith("/direct.png")}
    assert len(refused) == 7
    for url, (state, error) in refused.items():
        assert state != "stored" and error, (url, state, error)
    assert asked["private"] == []  # nothing ever reached the private host
    assert "/hop-2.png" in asked["public"]  # a relative redirect is followed, and its next hop checked
