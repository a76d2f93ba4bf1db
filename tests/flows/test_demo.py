"""The README's first command: a demo archipelago that replicates, and stops cleanly on Ctrl-C."""

import asyncio
import signal
import socket
import subprocess
import sys

import aiohttp

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


async def test_the_demo_archipelago_replicates_and_stops_cleanly(tmp_path):
    base = free_port_range(3)
    process = subprocess.Popen([sys.executable, "-m", "web.cli", "demo", "--islands", "3", "--directory",
                                str(tmp_path / "demo"), "--base-port", str(base)],
                               env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []

        async def ready():
            line = await asyncio.get_running_loop().run_in_executor(None, process.stdout.readline)
            lines.append(line)
            return "Ctrl-C stops every island" in line or process.poll() is not None

        await wait_for(ready, timeout=60, message="the demo to start")
        output = "".join(lines)
        assert f"http://127.0.0.1:{base}/" in output and "@brest@" in output and "archipel-demo" in output

        async def replicated():
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{base + 1}/") as response:
                    page = await response.text()
            # Nantes shows its own fiches and those of Brest and Montpellier.
            return all(title in page for title in ("Ateliers numériques intergénérationnels",
                                                   "Points d&#39;Accès Public", "appel à envie"))

        await wait_for(replicated, timeout=20, message="the fiches of the other islands on Nantes")
    finally:
        process.send_signal(signal.SIGINT)
        rest = await asyncio.get_running_loop().run_in_executor(None, process.communicate)
    assert process.returncode == 0, rest[0][-2000:]
    assert "Traceback" not in rest[0]
