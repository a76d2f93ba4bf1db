"""Shared pieces of the benchmarks: timing loops, child processes, a load generator, islands.

Only public tools: time.perf_counter for wall time, time.process_time and /proc/PID/stat for
CPU time, /proc/PID/status for memory. All traffic stays on 127.0.0.0/8.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import os
import platform
import selectors
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlsplit
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.nodes import bound_socket

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---- reporting -----------------------------------------------------------------------------------

def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"{now}; nproc {os.cpu_count()} ({cpu or platform.processor()}); "
            f"Python {platform.python_version()}; aiohttp {aiohttp.__version__}")


def reproduce(module: str, argv: list[str] | None = None) -> str:
    argv = sys.argv[1:] if argv is None else argv
    return " ".join([".venv/bin/python", "-m", f"benchmarks.{module}", *map(shlex.quote, argv)])


def header(title: str, module: str) -> None:
    print(f"== {title}")
    print(f"   machine: {machine()}")
    print(f"   command: {reproduce(module)}")
    print(f"   load average (1 min) at start: {load_average()}  (other work on the machine skews "
          f"every figure; each line says how busy the rest of the machine was)")


def line(label: str, value: str, note: str = "") -> None:
    print(f"   {label:<52} {value:>12}  {note}".rstrip(), flush=True)


def per_second(value: float) -> str:
    return f"{value:,.0f} /s"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[rank]


# ---- timing --------------------------------------------------------------------------------------

def rate(operation: Callable[[], object], duration: float, warmup: float = 0.2) -> float:
    """Operations per second of a synchronous callable, run for `duration` seconds."""
    end = time.perf_counter() + warmup
    while time.perf_counter() < end:
        operation()
    done, batch = 0, 1
    start = time.perf_counter()
    end = start + duration
    while True:
        for _ in range(batch):
            operation()
        done += batch
        now = time.perf_counter()
        if now >= end:
            return done / (now - start)
        batch = min(batch * 2, 256)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds spent by every process of the machine, all cores (from /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 1)[0]


def status_kb(pid: int, name: str) -> int:
    for entry in Path(f"/proc/{pid}/status").read_text().splitlines():
        if entry.startswith(name + ":"):
            return int(entry.split()[1])
    raise KeyError(name)


class CpuMeter:
    """Wall time and CPU share of this process and of other processes over a span."""

    def __init__(self, *pids: int):
        self.pids = pids

    def __enter__(self) -> CpuMeter:
        self.wall0 = time.perf_counter()
        self.own0 = time.process_time()
        self.others0 = [cpu_seconds(pid) for pid in self.pids]
        self.machine0 = machine_busy_seconds()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.own = (time.process_time() - self.own0) / self.wall
        self.others = [(cpu_seconds(pid) - start) / self.wall for pid, start in zip(self.pids, self.others0)]
        self.machine = (machine_busy_seconds() - self.machine0) / self.wall

    def describe(self, *names: str) -> str:
        parts = [f"{name} {share:.0%}" for name, share in zip(names, self.others)]
        unrelated = max(0.0, self.machine - self.own - sum(self.others))
        return "CPU: " + ", ".join(parts + [f"generator {self.own:.0%}", f"unrelated {unrelated:.0%}"])


def wait_until_idle(*pids: int, share: float = 0.1, span: float = 1.0, timeout: float = 60) -> float:
    """Seconds until the processes' CPU use over `span` falls under `share` of a core: a started
    island first runs each periodic job once (the search's counts folded: ~1 s of CPU at 100,000
    items), which is not what a visitor of a running island waits on."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        before = sum(cpu_seconds(pid) for pid in pids)
        time.sleep(span)
        if sum(cpu_seconds(pid) for pid in pids) - before < share * span:
            break
    return time.perf_counter() - started


# ---- child processes -----------------------------------------------------------------------------

def _wait_line(process: subprocess.Popen, expected: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=0.1):
                text = process.stdout.readline()
                if not text:
                    break
                if text.strip() == expected:
                    return
            if process.poll() is not None:
                break
    stop_process(process)
    raise RuntimeError(f"child {process.args} did not say {expected!r} within {timeout}s")


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class ChildServer:
    """A minimal aiohttp server (benchmarks.servers) in a child process, on a pre-bound socket."""

    def __init__(self, mode: str, public_key_pem: str | None = None, host: str = "127.0.0.1"):
        self.mode = mode
        self.public_key_pem = public_key_pem
        self.host = host

    def __enter__(self) -> ChildServer:
        self.sock = bound_socket(self.host)
        self.sock.listen(1024)
        self.url = f"http://{self.host}:{self.sock.getsockname()[1]}"
        command = [PYTHON, "-m", "benchmarks.servers", self.mode, "--fd", str(self.sock.fileno())]
        self._key_file = None
        if self.public_key_pem:
            self._key_file = tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False)
            self._key_file.write(self.public_key_pem)
            self._key_file.close()
            command += ["--key", self._key_file.name]
        self.process = subprocess.Popen(command, cwd=ROOT, pass_fds=[self.sock.fileno()],
                                        stdout=subprocess.PIPE, text=True)
        _wait_line(self.process, "ready", 20)
        self.pid = self.process.pid
        return self

    def __exit__(self, *exc) -> None:
        stop_process(self.process)
        self.sock.close()
        if self._key_file:
            os.unlink(self._key_file.name)


# ---- load generator ------------------------------------------------------------------------------

@dataclass
class LoadResult:
    completed: int = 0
    elapsed: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    generator_cpu: float = 0.0  # share of one core used by this process
    server_cpu: float | None = None
    machine_cpu: float = 0.0  # cores busy on the whole machine

    @property
    def rate(self) -> float:
        return self.completed / self.elapsed if self.elapsed else 0.0

    def count(self, status: int) -> int:
        return self.statuses.get(status, 0)

    def cpu(self) -> str:
        server = f"server {self.server_cpu:.0%}, " if self.server_cpu is not None else ""
        unrelated = max(0.0, self.machine_cpu - self.generator_cpu - (self.server_cpu or 0))
        return f"CPU: {server}generator {self.generator_cpu:.0%}, unrelated {unrelated:.0%}"


Request = tuple[str, bytes, dict[str, str]]


async def post_load(make: Callable[[int], Request | None], *, concurrency: int,
                    duration: float | None = None, count: int | None = None,
                    server_pid: int | None = None, timeout: float = 30.0) -> LoadResult:
    """POST what `make(i)` returns from `concurrency` tasks sharing one session, for `duration`
    seconds or until `count` requests (or `make` returning None)."""
    assert duration or count, "give a duration or a count"
    result = LoadResult()
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        # Open the connections before the clock starts.
        warm = make(0)
        if warm is not None:
            await asyncio.gather(*(_get_root(session, warm[0]) for _ in range(concurrency)))
        numbers = itertools.count()
        deadline = None

        async def worker() -> None:
            while True:
                i = next(numbers)
                if count is not None and i >= count:
                    return
                if deadline is not None and time.perf_counter() >= deadline:
                    return
                request = make(i)
                if request is None:
                    return
                url, body, headers = request
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        result.statuses[response.status] += 1
                except (aiohttp.ClientError, TimeoutError) as error:
                    result.errors[type(error).__name__] += 1
                result.latencies.append(time.perf_counter() - started)
                result.completed += 1

        server0 = cpu_seconds(server_pid) if server_pid else None
        cpu0 = time.process_time()
        machine0 = machine_busy_seconds()
        start = time.perf_counter()
        if duration:
            deadline = start + duration
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.elapsed = time.perf_counter() - start
        result.generator_cpu = (time.process_time() - cpu0) / result.elapsed
        result.machine_cpu = (machine_busy_seconds() - machine0) / result.elapsed
        if server_pid:
            result.server_cpu = (cpu_seconds(server_pid) - server0) / result.elapsed
    return result


async def _get_root(session: aiohttp.ClientSession, url: str) -> None:
    base = url.split("/", 3)
    try:
        async with session.get("/".join(base[:3]) + "/") as response:
            await response.read()
    except aiohttp.ClientError:
        pass


# ---- islands -------------------------------------------------------------------------------------

def run_cli(*args: str, env: dict | None = None, timeout: float = 120) -> str:
    """`archipel ARGS` (as `python -m web.cli`), returning stdout; raises with stderr on failure."""
    completed = subprocess.run([PYTHON, "-m", "web.cli", *args], cwd=ROOT, capture_output=True,
                               text=True, timeout=timeout, env={**os.environ, **(env or {})})
    if completed.returncode != 0:
        raise RuntimeError(f"archipel {' '.join(args)} failed:\n{completed.stderr}")
    return completed.stdout


# The brakes on searching per client address off (web/search_guard.py): every visitor of a
# benchmark comes from one address. The bound on searches running at once stays, as in production.
ISLAND_ENV = {"ARCHIPEL_ALLOW_PRIVATE_NETWORKS": "1", "ARCHIPEL_SEARCH_SECONDS_PER_MINUTE": "0",
              "ARCHIPEL_SEARCHES_PER_ADDRESS": "0"}


class Island:
    """A real island made with `archipel init` and run with `archipel serve` in a child process."""

    def __init__(self, directory: Path, *, database_url: str | None = None, host: str = "127.0.0.1",
                 handle: str = "banc"):
        self.directory = Path(directory)
        self.database_url = database_url
        self.host = host
        self.handle = handle
        self.reserve = bound_socket(host)  # keeps the port from being handed out meanwhile
        self.port = self.reserve.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.process: subprocess.Popen | None = None

    def init(self) -> Island:
        args = ["init", str(self.directory), "--url", self.url, "--name", "Banc d'essai",
                "--handle", self.handle, "--allow-private-networks"]
        if self.database_url:
            args += ["--database-url", self.database_url]
        run_cli(*args, env=ISLAND_ENV)
        return self

    def add_user(self, username: str) -> str:
        password = self.directory / f".{username}.password"
        password.write_text(uuid.uuid4().hex)
        run_cli("user", "add", str(self.directory), username, "--password-file", str(password),
                env=ISLAND_ENV)
        return f"{self.url}/users/{username}"

    def publish(self, username: str, title: str, text: str) -> str:
        path = self.directory / f"{uuid.uuid4().hex}.md"
        path.write_text(f"---\ntitle: {title}\n---\n{text}\n", "utf-8")
        return run_cli("publish", str(self.directory), str(path), "--as", username,
                       env=ISLAND_ENV).strip()

    def serve_command(self, profile: str | None = None, role: str = "all") -> list[str]:
        prefix = [PYTHON, "-m", "cProfile", "-o", profile] if profile else [PYTHON]
        roles = ["--role", role] if role != "all" else []
        return prefix + ["-m", "web.cli", "serve", str(self.directory),
                         "--listen", f"{self.host}:{self.port}", *roles]

    def start(self, profile: str | None = None, env: dict | None = None,
              timeout: float = 30, role: str = "all") -> Island:
        """`role`: "all" (one process does everything) or "web" (PostgreSQL only: pages and
        inboxes, the background work left to `start_worker` processes)."""
        self.log = open(self.directory / "serve.log", "w")
        self.process = subprocess.Popen(self.serve_command(profile, role), cwd=ROOT, stdout=self.log,
                                        stderr=subprocess.STDOUT,
                                        env={**os.environ, **ISLAND_ENV, **(env or {})})
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/.well-known/nodeinfo", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"archipel serve did not start; see {self.directory}/serve.log:\n"
                                   + (self.directory / "serve.log").read_text()[-3000:])
            time.sleep(0.05)
        self.reserve.close()
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def start_worker(self, name: str, env: dict | None = None, timeout: float = 30) -> WorkerProcess:
        """One more `archipel serve --role worker` process on this island (PostgreSQL only)."""
        return WorkerProcess(self, name).start(env=env, timeout=timeout)

    def start_web(self, name: str, env: dict | None = None, timeout: float = 30) -> WebProcess:
        """One more `archipel serve --role web` process on this island, on its own port
        (PostgreSQL only): what `docker compose up --scale web=N` runs behind the proxy."""
        return WebProcess(self, name).start(env=env, timeout=timeout)

    def stop(self) -> None:
        if self.process is not None:
            # SIGINT: aiohttp's run_app shuts down cleanly (and cProfile writes its file).
            stop_process(self.process, signal.SIGINT, timeout=20)
            self.process = None
            self.log.close()
        self.reserve.close()

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join((self.directory / "serve.log").read_text().splitlines()[-lines:])

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.directory / 'archipel.db').resolve()}"


class WorkerProcess:
    """`archipel serve DIR --role worker --listen HOST:PORT`: the island's background loops and no
    pages. It still listens on its own port (held by a bound socket until it answers), writes
    `NAME.log` in the island's folder and counts as started once it has said "working" and its
    port answers HTTP (any status: it has no routes), i.e. after the application's start-up."""

    ROLE = "worker"
    LINE = "working (background workers only)"

    def __init__(self, island: Island, name: str):
        self.island = island
        self.name = name
        self.reserve = bound_socket(island.host)
        self.port = self.reserve.getsockname()[1]
        self.log_path = island.directory / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self, env: dict | None = None, timeout: float = 30) -> WorkerProcess:
        self.log = open(self.log_path, "w")
        command = [PYTHON, "-m", "web.cli", "serve", str(self.island.directory), "--role", self.ROLE,
                   "--listen", f"{self.island.host}:{self.port}"]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **ISLAND_ENV, **(env or {})})
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"archipel serve --role {self.ROLE} did not start; see {self.log_path}:\n"
                                   + self.log_path.read_text()[-3000:])
            time.sleep(0.05)
        self.reserve.close()
        return self

    def _answers(self) -> bool:
        if self.LINE not in self.log_path.read_text():
            return False
        try:
            with urllib.request.urlopen(f"http://{self.island.host}:{self.port}/", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # 404: up, with no pages
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, signal.SIGINT, timeout=20)
            self.process = None
            self.log.close()
        self.reserve.close()


class WebProcess(WorkerProcess):
    """`archipel serve DIR --role web --listen HOST:PORT`: one more process serving the island's
    pages and inboxes on its own port, started once its NodeInfo answers. Requests to it name the
    island's host (`headers`), as a proxy in front of several of them would."""

    ROLE = "web"

    @property
    def url(self) -> str:
        return f"http://{self.island.host}:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Host": urlsplit(self.island.url).netloc}

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/.well-known/nodeinfo", timeout=2) as answer:
                return answer.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False


# ---- PostgreSQL ----------------------------------------------------------------------------------

def _admin(url: str) -> tuple[str, str]:
    """(asyncpg URL of the server's `postgres` database, database name) from a SQLAlchemy URL."""
    base, _, name = url.rpartition("/")
    base = base.replace("postgresql+asyncpg://", "postgresql://")
    if not name or not base.startswith("postgresql://"):
        raise SystemExit(f"--database-url must look like postgresql+asyncpg://USER@HOST:PORT/NAME, not {url}")
    host = base.split("@")[-1].split(":")[0]
    if not host.startswith("127."):
        raise SystemExit("benchmarks only talk to 127.0.0.0/8")
    return base + "/postgres", name


async def create_database(url: str) -> None:
    """Create the database named in `url`; refuse one that exists (it would be dropped after)."""
    import asyncpg

    admin, name = _admin(url)
    connection = await asyncpg.connect(admin, timeout=5)
    try:
        if await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            raise SystemExit(f"database {name} exists already: give a new name (it is dropped after)")
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def drop_database(url: str) -> None:
    import asyncpg

    admin, name = _admin(url)
    connection = await asyncpg.connect(admin, timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def default_postgres_url() -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/archipel_bench_{uuid.uuid4().hex[:8]}"


def add_database_arguments(parser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--database-url", help="postgresql+asyncpg://postgres@127.0.0.1:5432/NAME: "
                       "the benchmark creates NAME (which must not exist) and drops it after; "
                       "default: SQLite in a temporary folder")
    group.add_argument("--postgres", action="store_true",
                       help="same, with a fresh name on postgres@127.0.0.1:5432")


def database_url_of(args) -> str | None:
    if getattr(args, "postgres", False):
        return default_postgres_url()
    return args.database_url


def backend_name(database_url: str | None) -> str:
    return "PostgreSQL" if database_url else "SQLite (WAL)"
