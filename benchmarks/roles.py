"""Web and worker processes on PostgreSQL: inbox processing and deliveries with 1 and 2 worker processes.

    .venv/bin/python -m benchmarks.roles [--count 3000] [--rounds 3] [--database-url URL]

One island on a fresh PostgreSQL database (created here, dropped at the end), served by one
`archipel serve --role web` process (pages, inboxes) and N `archipel serve --role worker`
processes (the background loops), N = 1 then 2, all in the same run:

1. Inbox processing, queued: with no worker running, `--count` distinct activities (a third each
   Likes of an article, Follows of alice, replies), from actors written into `remote_actors`
   beforehand (no key fetch), are written straight into `incoming_activities`; then N worker
   processes start together. processed/s from the first row seen settled to the last (the
   queue is polled every 0.1 s), so the workers' start-up is not counted.
2. Inbox processing, posted: the web process and N workers running, another `--count`
   activities of the same mix (fresh actors) are POSTed to the web process's shared inbox,
   `--concurrency` in flight: accepted/s, processed/s (first POST -> last settled) and
   processed / accepted.
3. Deliveries: `--hosts` loopback hosts (127.0.0.2 on) served here with `--per-host` followers
   each, every one with its own inbox (fan-out's personal mode), written into the database
   before the island starts; `archipel publish` runs `--rounds` times per N and each round is
   timed first -> last arrival. Next to it, the same run's signed-POST client ceiling.

Each figure comes with the CPU of every process over its span (web, each worker, PostgreSQL's
processes serving this database as "database", this benchmark process, unrelated work) and a
line saying what limits it, read off those figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, insert, select

from archipel.storage.engine import make_engine
from archipel.storage.tables import Delivery, Follow, RemoteActor, utcnow
from benchmarks import ceilings, fanout
from benchmarks.common import (
    CLK_TCK,
    ISLAND_ENV,
    PYTHON,
    ROOT,
    Island,
    WorkerProcess,
    create_database,
    default_postgres_url,
    drop_database,
    header,
    line,
    load_average,
    machine_busy_seconds,
    per_second,
    percentile,
    post_load,
)
from benchmarks.inbox_processing import Queue, add_actors, follow, like, queue_directly, reply, signed
from tests.remote import RemoteServer

AUTHOR = "perso"  # the island's author whose followers all have their own inbox


# ---- CPU of every process --------------------------------------------------------------------------

SHARED_POSTGRES = ("checkpointer", "background writer", "walwriter", "autovacuum launcher",
                   "logical replication launcher", "stats collector")


def _cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def postgres_pids(database: str) -> list[int]:
    """PostgreSQL's processes working for `database`: its backends and autovacuum workers, the
    postmaster and the server-wide writers. Backends of other databases are left out (they
    count as unrelated)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        words = title.split()
        if (not title.startswith("postgres:")  # the postmaster
                or database in words
                or any(title.endswith(name) for name in SHARED_POSTGRES)):
            pids.append(int(entry.name))
    return pids


@dataclass
class Span:
    """CPU seconds of each process over `wall` seconds (several spans add up)."""

    wall: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)
    machine: float = 0.0

    def __add__(self, other: Span) -> Span:
        seconds = dict(self.seconds)
        for name, value in other.seconds.items():
            seconds[name] = seconds.get(name, 0.0) + value
        return Span(self.wall + other.wall, seconds, self.machine + other.machine)

    def share(self, name: str) -> float:
        return self.seconds.get(name, 0.0) / self.wall if self.wall else 0.0

    @property
    def unrelated(self) -> float:
        return max(0.0, self.machine - sum(self.seconds.values())) / self.wall if self.wall else 0.0

    @property
    def busy(self) -> float:
        return self.machine / self.wall if self.wall else 0.0

    def describe(self) -> str:
        parts = [f"{name} {self.share(name):.0%}" for name in self.seconds]
        return (f"CPU (100 % = one core): {', '.join(parts)}, unrelated {self.unrelated:.0%}; "
                f"machine {self.busy:.0%} of {os.cpu_count() * 100} %")


class Meter:
    """Wall time and CPU of the island's processes, of PostgreSQL's processes serving its database,
    and of this process (`own`: the load generator or the receivers), from `begin()` to `end()`."""

    def __init__(self, processes: dict[str, int], database: str, own: str):
        self.processes = processes
        self.database = database
        self.own = own

    def _sample(self) -> dict:
        return dict(
            wall=time.perf_counter(),
            named={name: _cpu(pid) for name, pid in self.processes.items()},
            database={pid: _cpu(pid) for pid in postgres_pids(self.database)},
            own=time.process_time(),
            machine=machine_busy_seconds(),
        )

    def begin(self) -> Meter:
        self.first = self._sample()
        return self

    def end(self) -> Span:
        last = self._sample()
        first = self.first
        seconds = {}
        for name, value in last["named"].items():
            seconds[name] = (value or 0.0) - (first["named"].get(name) or 0.0)
        # A backend opened during the span counts from zero; one closed during it is lost.
        seconds["database"] = sum((value or 0.0) - (first["database"].get(pid) or 0.0)
                                  for pid, value in last["database"].items())
        seconds[self.own] = last["own"] - first["own"]
        return Span(last["wall"] - first["wall"], seconds, last["machine"] - first["machine"])


def limit(span: Span, own_role: str) -> str:
    """What limits a figure on this machine, read off its CPU figures. `own_role`: what this
    process did over the span (receivers, load generator, queue polling)."""
    cores = os.cpu_count() or 1
    ranked = ", ".join(f"{name} {span.share(name):.0%}"
                       for name in sorted(span.seconds, key=span.share, reverse=True)[:4])
    groups: dict[str, float] = {}
    for name in span.seconds:
        group = ("the worker processes" if name.startswith("worker") else
                 "the database server (PostgreSQL)" if name == "database" else
                 "the web process" if name == "web" else
                 f"the benchmark process ({own_role})" if name in ("benchmark", "load generator") else
                 f"`{name}`")
        groups[group] = groups.get(group, 0.0) + span.share(name)
    top, top_share = max(groups.items(), key=lambda item: item[1])
    if span.busy >= 0.85 * cores:
        ours = sum(groups.values())
        mostly = (f"mostly taken by other work (unrelated {span.unrelated:.0%} against {ours:.0%} for "
                  f"this island and benchmark): the figure is what was left of the machine"
                  if span.unrelated > ours else f"unrelated work {span.unrelated:.0%}")
        return (f"the {cores} cores ({span.busy:.0%} busy of {cores * 100} %), {mostly}; the largest "
                f"share of ours: {top} {top_share:.0%} [{ranked}]")
    full = [name for name in span.seconds if span.share(name) >= 0.85]
    if full:
        return (f"{', '.join(full)} at a full core (one event loop each), the cores not all busy "
                f"({span.busy:.0%} of {cores * 100} %) [{ranked}]")
    return (f"neither the cores ({span.busy:.0%} of {cores * 100} % busy) nor one process at a full "
            f"core: waits (database round trips, locks, poll_interval) [{ranked}]")


# ---- the island ----------------------------------------------------------------------------------

class Roles:
    """The island's web process and its worker processes."""

    def __init__(self, island: Island, database: str):
        self.island = island
        self.database = database
        self.workers: list[WorkerProcess] = []
        self.errors: Counter = Counter()  # tracebacks' last lines in the logs of the processes stopped so far

    async def set_workers(self, count: int) -> list[float]:
        """Start or stop worker processes until `count` run; started ones start together (in
        threads, so that this loop keeps serving). Returns the seconds each new one took."""
        while len(self.workers) > count:
            worker = self.workers.pop()
            await asyncio.to_thread(worker.stop)
            self.errors.update(exceptions(worker.log_path.read_text(), worker.name))
        started = time.perf_counter()
        new = [WorkerProcess(self.island, f"worker{n + 1}") for n in range(len(self.workers), count)]

        async def start(worker: WorkerProcess) -> float:
            await asyncio.to_thread(worker.start)
            return time.perf_counter() - started
        try:
            return list(await asyncio.gather(*(start(worker) for worker in new)))
        finally:
            self.workers += [worker for worker in new if worker.process is not None]

    def meter(self, own: str) -> Meter:
        processes = {"web": self.island.pid}
        processes.update({worker.name.replace("worker", "worker "): worker.pid for worker in self.workers})
        return Meter(processes, self.database, own)

    async def stop(self) -> None:
        await self.set_workers(0)
        self.island.stop()


def exceptions(log: str, process: str) -> Counter:
    """The exception line ending each traceback of a log, by process."""
    found: Counter = Counter()
    inside = False
    for text in log.splitlines():
        if text.startswith("Traceback"):
            inside = True
        elif inside and text and not text.startswith(" ") and not text.startswith(("During handling",
                                                                                     "The above exception")):
            found[f"{process}: {text[:160]}"] += 1
            inside = False
    return found


async def wait_idle_deliveries(database_url: str, timeout: float) -> dict[str, int]:
    """Waits until no delivery is pending or in flight (the Accepts of the mix's Follows)."""
    engine = make_engine(database_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            async with engine.connect() as connection:
                rows = await connection.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
                states = dict(rows.all())
            if not (states.get("pending") or states.get("in_flight")) or time.monotonic() > deadline:
                return states
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


# ---- inbox processing ----------------------------------------------------------------------------

def mix_of(remote: RemoteServer, names: list[str], count: int, article: str, alice: str) -> list[dict]:
    """As inbox_processing's mix: a third each Likes, Follows of alice, replies; one actor per
    three activities."""
    activities = []
    for number in range(count):
        actor = remote.actor_uri(names[number // 3 % len(names)])
        kind = number % 3
        activities.append(like(actor, 0, article) if kind == 0 else
                          follow(actor, alice) if kind == 1 else reply(actor, number, article))
    return activities


@dataclass
class Processed:
    workers: int
    rate: float
    rows: int
    span: Span
    note: str
    accepted_rate: float | None = None


async def queued_run(args, roles: Roles, queue: Queue, activities: list[dict], workers: int) -> Processed:
    """The backlog written with no worker running, then `workers` processes started together."""
    database_url = roles.island.effective_database_url
    await wait_idle_deliveries(database_url, args.drain_timeout)  # the last run's Accepts
    await roles.set_workers(0)
    before_total, before_settled = await queue.counts()
    await queue_directly(database_url, activities)
    expected = before_settled + len(activities)
    starting = asyncio.create_task(roles.set_workers(workers))
    launched = time.perf_counter()
    first = first_at = meter = None
    settled = before_settled
    while settled < expected and time.perf_counter() - launched < args.drain_timeout:
        await asyncio.sleep(0.1)
        _, settled = await queue.counts()
        if first is None and settled > before_settled:
            first, first_at = settled, time.perf_counter()
            ready = await starting  # started before anything settles: the meter sees every worker
            meter = roles.meter("benchmark").begin()
    last_at = time.perf_counter()
    if meter is None:
        await starting
        raise RuntimeError("nothing settled: see the workers' logs\n"
                           + "\n".join(w.log_path.read_text()[-2000:] for w in roles.workers))
    span = meter.end()
    rate = (settled - first) / (last_at - first_at)
    note = (f"{settled - first:,} in {last_at - first_at:.2f} s after the first {first - before_settled:,} "
            f"settled; start -> last settled {last_at - launched:.2f} s (process start-up "
            f"{', '.join(f'{seconds:.1f}' for seconds in ready)} s)")
    if settled < expected:
        note += (f"; NOT ALL SETTLED: {expected - settled:,} of {len(activities):,} still waiting after "
                 f"{args.drain_timeout:.0f} s (--drain-timeout), the rate is of those settled")
    return Processed(workers, rate, len(activities), span, note)


async def posted_run(args, roles: Roles, queue: Queue, requests: list, workers: int) -> Processed:
    """The mix POSTed to the web process while `workers` worker processes run."""
    await roles.set_workers(workers)
    await wait_idle_deliveries(roles.island.effective_database_url, args.drain_timeout)
    before_total, before_settled = await queue.counts()
    meter = roles.meter("load generator").begin()
    start = time.perf_counter()
    result = await post_load(lambda i: requests[i], concurrency=args.concurrency, count=len(requests))
    total, settled_then = await queue.counts()
    expected = before_settled + (total - before_total)
    settled = settled_then
    while settled < expected and time.perf_counter() - start < result.elapsed + args.drain_timeout:
        await asyncio.sleep(0.1)
        _, settled = await queue.counts()
    finished = time.perf_counter() - start
    span = meter.end()
    accepted = result.count(202)
    others = {**result.statuses, **result.errors}
    others.pop(202, None)
    rate = (settled - before_settled) / finished
    note = (f"{settled - before_settled:,} in {finished:.2f} s; accepted {accepted:,} in "
            f"{result.elapsed:.2f} s (p50 / p95 per POST {percentile(result.latencies, 50) * 1000:.0f} / "
            f"{percentile(result.latencies, 95) * 1000:.0f} ms); settled while the POSTs ran "
            f"{settled_then - before_settled:,}, backlog then {total - settled_then:,}"
            + (f"; other answers {others}" if others else "")
            + (f"; NOT ALL SETTLED: {expected - settled:,} still waiting {args.drain_timeout:.0f} s after "
               f"the POSTs (--drain-timeout), the rate is of those settled" if settled < expected else ""))
    return Processed(workers, rate, total - before_total, span, note, accepted_rate=accepted / result.elapsed)


def workers_seconds(span: Span) -> float:
    return sum(value for name, value in span.seconds.items() if name.startswith("worker"))


def island_seconds(span: Span) -> float:
    """CPU seconds of the web process, the worker processes and the database server."""
    return workers_seconds(span) + span.seconds.get("web", 0.0) + span.seconds.get("database", 0.0)


def per_cpu(done: float, span: Span) -> str:
    workers, island = workers_seconds(span), island_seconds(span)
    return (f"{done / workers if workers else float('nan'):,.0f} / "
            f"{done / island if island else float('nan'):,.0f}")


PER_CPU = "per CPU-second of the workers / of the island"
PER_CPU_NOTE = "(island: web + workers + database; less sensitive to other work than the rate)"


def report_processed(label: str, runs: list[Processed], own_role: str) -> None:
    print(f"   {label}:")
    for run in runs:
        if run.accepted_rate is not None:
            line(f"  {run.workers} worker{'s' if run.workers > 1 else ''}: accepted (202) per second",
                 per_second(run.accepted_rate))
        line(f"  {run.workers} worker{'s' if run.workers > 1 else ''}: processed per second",
             per_second(run.rate), run.note)
        if run.accepted_rate is not None:
            keeps = "keeps up" if run.rate >= 0.95 * run.accepted_rate else "falls behind"
            line(f"  {run.workers} worker{'s' if run.workers > 1 else ''}: processed / accepted",
                 f"{run.rate / run.accepted_rate:.0%}", f"processing {keeps} with accepting")
        line("    " + run.span.describe(), "")
        line(f"    processed {PER_CPU}", per_cpu(run.rate * run.span.wall, run.span), PER_CPU_NOTE)
        line("    limited by: " + limit(run.span, own_role), "")
    if len(runs) == 2:
        line("  ratio processed/s, 2 workers / 1 worker", f"{runs[1].rate / runs[0].rate:.2f}")
        one, two = (run.rate * run.span.wall / workers_seconds(run.span) for run in runs)
        line("  ratio processed per CPU-second of the workers, 2 / 1", f"{two / one:.2f}",
             "(1.00: a second worker costs nothing more per activity)")
        if runs[0].accepted_rate:
            line("  ratio accepted/s, 2 workers / 1 worker", f"{runs[1].accepted_rate / runs[0].accepted_rate:.2f}",
                 "(one web process both times)")


# ---- deliveries ----------------------------------------------------------------------------------

async def add_followers(island: Island, receivers: fanout.Receivers, per_host: int) -> int:
    """`per_host` followers of AUTHOR on each receiving host, each with its own inbox."""
    engine = make_engine(island.effective_database_url)
    followed = f"{island.url}/users/{AUTHOR}"
    now = utcnow()
    actors, follows = [], []
    for base in receivers.bases:
        for number in range(per_host):
            uri = f"{base}/users/p{number}"
            actors.append(dict(uri=uri, host=base.split("//")[1], type="Person", username=f"p{number}",
                               display_name="", inbox=f"{uri}/inbox", shared_inbox=None,
                               followers_uri=f"{uri}/followers", key_id=f"{uri}#main-key",
                               public_key_pem=None, document={"id": uri, "type": "Person"}, fetched_at=now))
            follows.append(dict(follower_uri=uri, followed_uri=followed,
                                activity_uri=f"{base}/follows/{uuid.uuid4().hex}",
                                state="accepted", created_at=now, accepted_at=now))
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(RemoteActor), actors)
            await connection.execute(insert(Follow), follows)
    finally:
        await engine.dispose()
    return len(actors)


@dataclass
class Delivered:
    received: int
    spread: float
    pickup: float
    span: Span
    latencies: list[float]

    @property
    def rate(self) -> float:
        return (self.received - 1) / self.spread if self.spread > 0 else float("nan")


async def publish(roles: Roles, title: str, first_arrival: asyncio.Event) -> tuple[str, float, float]:
    """`archipel publish` in its own process (as fanout.publish). Returns the object id, the
    moment it was printed (after the commit) and the command's CPU seconds spent after
    `first_arrival` was set (it may still be running when the first deliveries arrive)."""
    path = roles.island.directory / f"{uuid.uuid4().hex}.md"
    path.write_text(f"---\ntitle: {title}\n---\n{fanout.ARTICLE}\n", "utf-8")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "web.cli", "publish", str(roles.island.directory), str(path), "--as", AUTHOR,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **ISLAND_ENV})
    at_first: list[float | None] = []

    async def watch() -> None:
        await first_arrival.wait()
        at_first.append(_cpu(process.pid))  # None once it has exited and been reaped
    watching = asyncio.create_task(watch())
    uri = (await asyncio.wait_for(process.stdout.readline(), 60)).decode().strip()
    published = time.perf_counter()
    _, errors = await asyncio.wait_for(process.communicate(), 60)
    if process.returncode != 0 or not uri:
        raise RuntimeError(f"archipel publish failed: {errors.decode()}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    if not watching.done():  # it ended before the first arrival
        watching.cancel()
        return uri, published, 0.0
    return uri, published, total - at_first[0] if at_first[0] is not None else 0.0


async def delivery_round(roles: Roles, receivers: fanout.Receivers, expected: int, title: str,
                         timeout: float) -> Delivered:
    """One `archipel publish`; CPU measured from the first arrival to the last."""
    mark = len(receivers.receipts)
    meter = roles.meter("benchmark")
    arrived = asyncio.Event()

    async def first_arrival() -> None:
        while True:
            receivers.arrived.clear()
            if len(receivers.receipts) > mark:
                meter.begin()
                arrived.set()
                return
            await receivers.arrived.wait()

    watching = asyncio.create_task(first_arrival())
    uri, published, publish_cpu = await publish(roles, title, arrived)
    deadline = time.monotonic() + timeout
    while len({r.inbox for r in receivers.of(uri)}) < expected and time.monotonic() < deadline:
        receivers.arrived.clear()
        try:
            await asyncio.wait_for(receivers.arrived.wait(), 1)
        except TimeoutError:
            pass
    if not watching.done():
        watching.cancel()
        raise RuntimeError(f"nothing arrived within {timeout:.0f} s; see the workers' logs")
    span = meter.end()
    span.seconds["archipel publish"] = publish_cpu
    first = {}
    for receipt in sorted(receivers.of(uri), key=lambda r: r.at):
        first.setdefault(receipt.inbox, receipt)
    arrivals = sorted(r.at for r in first.values())
    if len(first) < expected:
        print(f"   (round {title}: {len(first):,} of {expected:,} inboxes within {timeout:.0f} s)")
    return Delivered(len(first), arrivals[-1] - arrivals[0], arrivals[0] - published, span,
                     [at - published for at in arrivals])


def report_deliveries(by_workers: dict[int, list[Delivered]], expected: int, ceiling) -> None:
    medians, per_worker_cpu = {}, {}
    for workers, rounds in by_workers.items():
        plural = "s" if workers > 1 else ""
        for number, r in enumerate(rounds, 1):
            line(f"  {workers} worker{plural}, round {number}: {r.received:,}/{expected:,} arrived",
                 per_second(r.rate), f"first->last {r.spread:.2f} s, publish->first {r.pickup:.2f} s; "
                 f"{r.span.describe()}")
        medians[workers] = statistics.median(r.rate for r in rounds)
        span = sum((r.span for r in rounds[1:]), rounds[0].span)
        latencies = [value for r in rounds for value in r.latencies]
        line(f"  {workers} worker{plural}: deliveries per second (median, first->last)",
             per_second(medians[workers]),
             f"{medians[workers] / ceiling.rate:.0%} of the signed-POST client ceiling; per delivery "
             f"publish->arrival p50 / p95 {percentile(latencies, 50) * 1000:,.0f} / "
             f"{percentile(latencies, 95) * 1000:,.0f} ms")
        line("    " + span.describe() + " (over the rounds, first->last arrival)", "")
        received = sum(r.received for r in rounds)
        per_worker_cpu[workers] = received / workers_seconds(span)
        line(f"    deliveries {PER_CPU}", per_cpu(received, span), PER_CPU_NOTE)
        line("    limited by: " + limit(span, "receivers"), "")
    if len(medians) == 2:
        one, two = medians[1], medians[2]
        line("  ratio deliveries/s, 2 workers / 1 worker", f"{two / one:.2f}")
        line("  ratio deliveries per CPU-second of the workers, 2 / 1",
             f"{per_worker_cpu[2] / per_worker_cpu[1]:.2f}")


# ---- run -----------------------------------------------------------------------------------------

async def run(args) -> None:
    database_url = args.database_url or default_postgres_url()
    database = database_url.rsplit("/", 1)[1]
    keys = ceilings.new_keys()
    print(f"   ceilings (same run; minimal server in a child process, client here, "
          f"{args.concurrency} in flight):")
    verify = await ceilings.signed_verify_parse_rate(args.ceiling_duration, args.concurrency, keys)
    ceilings.print_load("aiohttp server, signed POST: verify + parse", verify)
    client = await ceilings.signed_post_client_rate(args.ceiling_duration, args.concurrency, keys)
    ceilings.print_load("aiohttp client, signed POST 2 KB", client)

    workdir = Path(tempfile.mkdtemp(prefix="archipel-bench-roles-"))
    island = Island(workdir / "island", database_url=database_url)
    remote = RemoteServer("127.0.0.1")
    remote.verify_signatures = False  # the Accepts sent back are only counted
    receivers = await fanout.Receivers(args.hosts, verify=not args.no_verify).start()
    await create_database(database_url)
    roles = Roles(island, database)
    queue = None
    try:
        island.init()
        alice = island.add_user("alice")
        island.add_user(AUTHOR)
        article = island.publish("alice", "Fiche aimée", "Une fiche que l'on aime.")
        batches = {}
        for label in ("q1", "q2", "p1", "p2"):  # fresh actors for each run
            batches[label] = [f"{label}-a{n}" for n in range(max(1, args.count // 3))]
            for name in batches[label]:
                remote.add_actor(name)
        await add_actors(island, [(remote, names) for names in batches.values()])
        expected = await add_followers(island, receivers, args.per_host)
        await remote.start()
        island.start(role="web")
        await fetch_key(island, receivers)
        queue = Queue(database_url)
        print(f"   island (PostgreSQL {database}): one `archipel serve --role web` process and N "
              f"`--role worker` processes, each its own interpreter; load average now {load_average()}")

        queued = []
        for workers, label in ((1, "q1"), (2, "q2")):
            activities = mix_of(remote, batches[label], args.count, article, alice)
            queued.append(await queued_run(args, roles, queue, activities, workers))
        report_processed(f"1. inbox processing, {args.count:,} activities (likes, follows, replies) "
                         f"written into the queue, then N worker processes started", queued, "benchmark")

        posted = []
        for workers, label in ((1, "p1"), (2, "p2")):
            requests = [signed(remote, f"{island.url}/inbox", activity)
                        for activity in mix_of(remote, batches[label], args.count, article, alice)]
            posted.append(await posted_run(args, roles, queue, requests, workers))
        report_processed(f"2. the same mix ({args.count:,} fresh activities) POSTed to the web process's "
                         f"shared inbox, {args.concurrency} in flight, while N workers run", posted,
                         "load generator")
        states = await wait_idle_deliveries(database_url, args.drain_timeout)
        line("  deliveries after the mixes (Accepts of the Follows)", str(states))

        print(f"   3. deliveries: one fiche to {expected:,} inboxes on {args.hosts} hosts "
              f"({args.per_host} followers each, personal inboxes), {args.rounds} rounds per N "
              f"(signatures {'not ' if args.no_verify else ''}checked by the receivers):")
        by_workers: dict[int, list[Delivered]] = {}
        for workers in (1, 2):
            await roles.set_workers(workers)
            by_workers[workers] = []
            for number in range(args.rounds):
                by_workers[workers].append(await delivery_round(
                    roles, receivers, expected, f"Fiche {workers}-{number}", args.timeout))
                await wait_idle_deliveries(database_url, args.timeout)
        report_deliveries(by_workers, expected, client)
        line("  ceiling: aiohttp client, signed POST 2 KB", per_second(client.rate),
             f"{args.concurrency} in flight (delivery_concurrency is per process: "
             f"{args.concurrency * 2} with 2 workers)")
        await roles.set_workers(0)
        errors = roles.errors + exceptions((island.directory / "serve.log").read_text(), "web")
        line("  tracebacks in the processes' logs", str(sum(errors.values())))
        for error, count in errors.most_common(5):
            line(f"    {count} x {error}", "")
        line("  load average (1 min) at the end", load_average())
    finally:
        if queue is not None:
            await queue.close()
        await roles.stop()
        if remote.runner is not None:
            await remote.stop()
        await receivers.stop()
        await drop_database(database_url)
        if args.keep:
            print(f"   kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


async def fetch_key(island: Island, receivers: fanout.Receivers) -> None:
    import aiohttp

    from federation.keys import load_public_key

    async with aiohttp.ClientSession() as session:
        async with session.get(f"{island.url}/users/{AUTHOR}",
                               headers={"Accept": "application/activity+json"}) as response:
            actor = await response.json(content_type=None)
    receivers.keys[actor["publicKey"]["id"]] = load_public_key(actor["publicKey"]["publicKeyPem"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url",
                        help="postgresql+asyncpg://postgres@127.0.0.1:5432/NAME: created here (NAME must "
                             "not exist) and dropped at the end; default: a fresh name on "
                             "postgres@127.0.0.1:5432")
    parser.add_argument("--count", type=int, default=3000,
                        help="activities per inbox run, a third each likes, follows, replies (3000)")
    parser.add_argument("--concurrency", type=int, default=64,
                        help="POSTs in flight, and the ceilings' (64, the island's delivery_concurrency)")
    parser.add_argument("--hosts", type=int, default=100, help="receiving hosts, 127.0.0.2 on (100, max 250)")
    parser.add_argument("--per-host", type=int, default=10, help="followers per host, own inbox each (10)")
    parser.add_argument("--rounds", type=int, default=3, help="fiches published per worker count (3)")
    parser.add_argument("--no-verify", action="store_true", help="receivers skip the signature checks")
    parser.add_argument("--ceiling-duration", type=float, default=2.5, help="seconds per ceiling (2.5)")
    parser.add_argument("--drain-timeout", type=float, default=90,
                        help="seconds allowed for an inbox run to settle, after the POSTs for the posted "
                             "runs; past it the rate is of the rows settled (90)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds allowed per delivery round (60)")
    parser.add_argument("--keep", action="store_true", help="keep the island's folder and its logs")
    args = parser.parse_args()
    if not 1 <= args.hosts <= 250:
        parser.error("--hosts must be between 1 and 250")
    if not 3 <= args.count <= 50_000:
        parser.error("--count must be between 3 and 50000")
    header("web and worker processes: inbox processing and deliveries with 1 and 2 workers", "roles")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
