"""The README's first command: a demo archipelago that replicates, and stops cleanly on Ctrl-C."""

import asyncio
import re
import signal
import socket
import subprocess
import sys

import aiohttp
import feedparser

from tests.nodes import bound_socket, wait_for
from tests.processes import ENV


def free_port_range(count: int) -> int:
    """A port whose next count-1 ports are free too."""
    for _ in range(50):
        socks = [bound_socket()]
        base = socks[0].getsockname()[1]
        try:
            for offset in range(1, count):
                extra = socket.socket()
                socks.append(extra)
                extra.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no free range of ports")


def _first_bytes(port: int, request: bytes) -> bytes:
    """What the island answers first (b"" when it just closes); gives up after 15 s."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as connection:
        connection.sendall(request)
        try:
            return connection.recv(12)
        except TimeoutError:
            return b"(no answer within 15 s)"


async def test_the_demo_archipelago_replicates_and_stops_cleanly(tmp_path):
    base = free_port_range(4)  # three islands and the demo's mailbox
    process = subprocess.Popen([sys.executable, "-m", "web.cli", "demo", "--islands", "3", "--directory",
                                str(tmp_path / "demo"), "--base-port", str(base)],
                               # Short limits, to see that the islands are served as `archipel serve` serves.
                               env={**ENV, "ARCHIPEL_HEADER_TIMEOUT": "1.5", "ARCHIPEL_BODY_TIMEOUT": "1.5"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []

        async def ready():
            line = await asyncio.get_running_loop().run_in_executor(None, process.stdout.readline)
            lines.append(line)
            return "Ctrl-C stops every island" in line or process.poll() is not None

        await wait_for(ready, timeout=60, message="the demo to start")
        output = "".join(lines)
        assert f"http://127.0.0.1:{base}/" in output and "@brest@" in output and "archipel-demo" in output
        assert f"e-mail (invitations, password resets, answers to proposals): http://127.0.0.1:{base + 3}/" in output
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{base + 3}/") as response:
                assert response.status == 200 and "Courrier de la démo" in await response.text()

        async def replicated():
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{base + 1}/") as response:
                    page = await response.text()
            # Nantes shows its own fiches and those of Brest and Montpellier.
            return all(title in page for title in ("Ateliers numériques intergénérationnels",
                                                   "Points d&#39;Accès Public", "appel à envie"))

        # Seconds alone; bounded generously: CI runs two passes side by side on two cores, and
        # there it once took more than 20 s.
        await wait_for(replicated, timeout=60, message="the fiches of the other islands on Nantes")
        await _find_reuse_and_brest_as_a_newcomer(f"http://127.0.0.1:{base}")
        await _subscribe_to_the_letter_and_read_it(f"http://127.0.0.1:{base}", f"http://127.0.0.1:{base + 3}",
                                                   tmp_path / "demo" / "brest")
        # Headers that never end, a body that never comes: each island cuts them off.
        unfinished_headers = b"GET / HTTP/1.1\r\nHost: x\r\n"
        missing_body = (b"POST /inbox HTTP/1.1\r\nHost: x\r\nContent-Type: application/activity+json\r\n"
                        b"Content-Length: 5000\r\n\r\n{")
        answers = await asyncio.gather(*(asyncio.to_thread(_first_bytes, base + n, request)
                                         for n in range(3) for request in (unfinished_headers, missing_body)))
        assert answers == [b"", b"HTTP/1.1 408"] * 3, answers
    finally:
        process.send_signal(signal.SIGINT)
        rest = await asyncio.get_running_loop().run_in_executor(None, process.communicate)
    assert process.returncode == 0, rest[0][-2000:]
    assert "Traceback" not in rest[0]


async def _find_reuse_and_brest_as_a_newcomer(brest: str) -> None:
    """On Brest: « réemploi » finds the ressourcerie of Nantes; the map around Brest holds Brest's
    fiches; the search's feed reads in a feed reader."""
    async with aiohttp.ClientSession() as http:
        async def found():
            async with http.get(f"{brest}/recherche.json", params={"q": "réemploi"}) as response:
                found = {item["name"] for item in (await response.json())["items"]}
                return found == {"Une ressourcerie de quartier", "Rencontre des ressourceries de l'Ouest"}
        await wait_for(found, timeout=60, message="the ressourcerie of Nantes in Brest's search")
        async with http.get(f"{brest}/carte.geojson", params={"bbox": "-4.7,48.2,-4.3,48.6", "zoom": "16"}) as response:
            near_brest = {feature["properties"]["name"] for feature in (await response.json())["features"]}
        assert {"Le CD « bureau libre »", "Atelier « écrire à plusieurs sur un wiki »"} <= near_brest, near_brest
        assert "Une ressourcerie de quartier" not in near_brest
        async with http.get(f"{brest}/recherche.atom", params={"q": "réemploi"}) as response:
            feed = feedparser.parse(await response.read())
        async with http.get(f"{brest}/agenda") as response:
            agenda = await response.text()
    assert not feed.bozo and "Une ressourcerie de quartier" in [entry.title for entry in feed.entries]
    # The demo's events come in the weeks after the day it runs: both are on the agenda to come.
    assert "Atelier d&#39;écriture sur Wiki-Brest" in agenda and "Rencontre des ressourceries de l&#39;Ouest" in agenda


async def _subscribe_to_the_letter_and_read_it(brest: str, mailbox: str, directory) -> None:
    """On Brest: subscribe to « Médiation numérique » around Brest, confirm from the demo's mailbox,
    send the letter now from the command line, and find it in the mailbox with Brest's fiche."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{brest}/lettre") as response:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await response.text()).group(1)
        form = {"csrf_token": token, "email": "lea@example.org", "theme": "mediationnumerique", "place": "Brest",
                "radius": "25", "language": "fr", "frequency": "weekly"}
        async with http.post(f"{brest}/lettre", data=form) as response:
            assert response.status == 200

        async def confirmation_link():
            async with http.get(f"{mailbox}/") as response:
                found = re.search(r'href="(/brest/[^"]+)">Confirmez', await response.text())
            if found:
                async with http.get(mailbox + found.group(1)) as response:
                    return re.search(r'href="(http://[^"]+/confirmer)"', await response.text()).group(1)
        link = await wait_for(confirmation_link, timeout=60, message="the confirmation in the demo's mailbox")
        async with http.get(link) as response:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await response.text()).group(1)
        async with http.post(link, data={"csrf_token": token}) as response:
            assert response.status == 200
        sent = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "web.cli", "letter", str(directory),
                                                        "--send-now"], env=ENV, capture_output=True, text=True)
        assert "1 letter queued" in sent.stdout, sent.stdout + sent.stderr
        async with http.get(f"{mailbox}/") as response:
            letter = re.search(r'href="(/brest/[^"]+)">La lettre de', await response.text()).group(1)
        async with http.get(mailbox + letter) as response:
            letter = await response.text()
        assert "Le CD « bureau libre »" in letter and "criture sur Wiki-Brest" in letter


def test_a_taken_port_is_one_line_and_leaves_nothing_open(tmp_path):
    taken = bound_socket()
    taken.listen()
    try:
        port = taken.getsockname()[1]
        finished = subprocess.run([sys.executable, "-m", "web.cli", "demo", "--islands", "1", "--directory",
                                   str(tmp_path / "demo"), "--base-port", str(port)],
                                  env=ENV, capture_output=True, text=True, timeout=120)
    finally:
        taken.close()
    assert finished.returncode != 0
    said = (finished.stdout + finished.stderr).strip().splitlines()
    assert said[-1].startswith("archipel: ") and "address already in use" in said[-1], said
    assert not any("Unclosed" in line or "Traceback" in line for line in said), said
