"""The real `archipel` command in child processes, as an operator runs it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import aiohttp

from tests.nodes import wait_for

ENV = {**os.environ, "ARCHIPEL_ALLOW_PRIVATE_NETWORKS": "1", "ARCHIPEL_POLL_INTERVAL": "0.2"}


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "web.cli", *map(str, args)], env=ENV,
                            capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"archipel {' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}")
    return result


class ServeProcess:
    """`archipel serve DIR` in a child process; `kill()` is a kill -9."""

    def __init__(self, directory, url: str, log_path, *options: str):
        """`options`: more arguments of `archipel serve` (--role, --listen); `url` is where this
        process answers."""
        self.directory = directory
        self.url = url
        self.log_path = log_path
        self.options = options
        self.process: subprocess.Popen | None = None

    async def start(self) -> ServeProcess:
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen([sys.executable, "-m", "web.cli", "serve", str(self.directory),
                                         *self.options], env=ENV, stdout=self.log, stderr=subprocess.STDOUT)
        await wait_for(self._answers, timeout=30, message=f"archipel serve on {self.url}")
        return self

    async def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"archipel serve exited with {self.process.returncode}: "
                                 f"{open(self.log_path).read()[-2000:]}")
        if "worker" in self.options:  # no pages: started once it says so
            with open(self.log_path) as log:
                return "working (background workers only)" in log.read()
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{self.url}/.well-known/nodeinfo") as response:
                    return response.status == 200
        except aiohttp.ClientError:
            return False

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.log.close()

    async def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.get_running_loop().run_in_executor(None, self.process.wait, 15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.log.closed:
            self.log.close()
