"""Smoke test of docker/: build the image, start the compose set with podman, publish a fiche and
read it through Caddy over TLS.

No image registry is needed: the base images (Python, PostgreSQL, Caddy) are made from Debian
packages with mmdebstrap and `podman import`; their root file systems are cached in
$ARCHIPEL_CONTAINER_CACHE (default /var/tmp/archipel-container-tests), each keyed by a hash of
its recipe, with podman's storage (the imported base images and the build's layers). A fresh
machine builds them once (about two minutes); later runs reuse them.

Podman runs with its own configuration and storage (see `engine`): Debian's runc (crun cannot
set up containers on every host), netavark and aardvark-dns (service names resolve between
containers), cgroupfs (no systemd needed), and limits a container may set without
CAP_SYS_RESOURCE.

Everything the test starts is removed at the end: the compose set's containers, networks and
volumes, the Archipel image it built, and the iptables chains netavark leaves behind (when no
other netavark network is left on the host). What stays is the cache: the root file systems,
the base images and the build stage (its dependency layer is reused while pyproject.toml does
not change); `rm -rf /var/tmp/archipel-container-tests` removes it once no test runs.

Measured on a 2-core machine shared with other work (load average 10 to 17): 2 min with the
cache warm; 4 to 6 min when the dependency layer is rebuilt (pyproject.toml or the Dockerfile's
first steps changed); the first run on a machine adds about 2 min for the root file systems.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.docker.conftest import DOCKER, HERE, ROOT, unavailable, venv_tool

CACHE = Path(os.environ.get("ARCHIPEL_CONTAINER_CACHE", "/var/tmp/archipel-container-tests"))
SITE = "archipel.test"
BUILD_CACHE = "localhost/archipel-test-build-cache:latest"
SUITE = "bookworm"

# The base images, each made from Debian packages: name -> mmdebstrap packages, extra files,
# and the image settings `podman import --change` gives it.
POSTGRES_ENTRYPOINT = HERE / "images" / "postgres-entrypoint.sh"
RECIPES = {
    # What python:3.11-slim-bookworm offers the Dockerfile: Python 3.11 with venv, useradd.
    "python": {
        "packages": ["ca-certificates", "python3", "python3-venv", "passwd"],
        "files": {},
        "changes": ['CMD ["python3"]'],
    },
    # The part of the official postgres image's interface that compose.yaml uses.
    "postgres": {
        "packages": ["postgresql-15"],
        "files": {"/usr/local/bin/docker-entrypoint.sh": POSTGRES_ENTRYPOINT},
        "changes": ['ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]', "EXPOSE 5432"],
    },
    # The official caddy image's layout: /etc/caddy/Caddyfile, data in /data, config in /config.
    "caddy": {
        "packages": ["ca-certificates", "caddy"],
        "files": {},
        "changes": ["ENV XDG_DATA_HOME=/data", "ENV XDG_CONFIG_HOME=/config",
                    'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]'],
    },
}
# No default cluster in the PostgreSQL image: the entry point makes one in the volume.
NO_MAIN_CLUSTER = ('mkdir -p "$1/etc/postgresql-common" && '
                   'echo "create_main_cluster = false" >"$1/etc/postgresql-common/createcluster.conf"')

CONTAINERS_CONF = """\
[containers]
default_capabilities = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE",
                        "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]
# Limits a container may set on a host that does not give CAP_SYS_RESOURCE.
default_ulimits = ["nofile=8192:8192", "nproc=8192:8192"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
network_backend = "netavark"
"""

TOOLS = {"podman": "podman", "runc": "runc", "mmdebstrap": "mmdebstrap", "curl": "curl",
         "iptables": "iptables", "netavark": "/usr/lib/podman/netavark",
         "aardvark-dns": "/usr/lib/podman/aardvark-dns"}

FICHE = """\
---
title: Atelier de réparation de vélos
summary: Un samedi par mois, on répare ensemble.
---
Chacun vient avec son vélo ; les outils sont prêtés.
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(command: list[str], *, env=None, timeout=300, check=True, input=None, cwd=None) -> subprocess.CompletedProcess:
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout,
                            input=input, cwd=cwd)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def recipe_key(name: str) -> str:
    recipe = RECIPES[name]
    digest = hashlib.sha256(json.dumps([SUITE, recipe["packages"], recipe["changes"],
                                        NO_MAIN_CLUSTER if name == "postgres" else ""]).encode())
    for target, source in sorted(recipe["files"].items()):
        digest.update(target.encode() + source.read_bytes())
    return digest.hexdigest()[:16]


def iptables_chains() -> set[tuple[str, str]]:
    chains = set()
    for table in ("filter", "nat"):
        result = run(["iptables", "-t", table, "-S"], check=False)
        chains |= {(table, line.split()[1]) for line in result.stdout.splitlines() if line.startswith("-N ")}
    return chains


def remove_idle_netavark_chains() -> None:
    """netavark leaves chains behind when it removes the last network (its shared chains, and
    empty per-network ones): remove them when none is in use on this host, i.e. when the only
    rules left in netavark's chains are the two constant ones of its shared chains, so that a
    network someone else's podman still uses keeps its rules."""
    netavark = {chain for chain in iptables_chains() if chain[1].startswith("NETAVARK")}
    constant = {("nat", "NETAVARK-HOSTPORT-MASQ"), ("nat", "NETAVARK-HOSTPORT-SETMARK")}
    for table in ("filter", "nat"):
        for line in run(["iptables", "-t", table, "-S"], check=False).stdout.splitlines():
            words = line.split()
            if words[:1] == ["-A"] and (table, words[1]) in netavark - constant:
                return  # a rule of a network still in use
    remove_chains(netavark)


def remove_chains(chains: set[tuple[str, str]]) -> None:
    """Remove these iptables chains, and the rules of other chains that jump to them."""
    for table in sorted({table for table, _ in chains}):
        names = {chain for t, chain in chains if t == table}
        for line in run(["iptables", "-t", table, "-S"], check=False).stdout.splitlines():
            words = line.split()
            if words[:1] == ["-A"] and words[1] not in names and "-j" in words \
                    and words[words.index("-j") + 1] in names:
                run(["iptables", "-t", table, "-D", *shlex.split(line)[1:]], check=False)
        for chain in names:
            run(["iptables", "-t", table, "-F", chain], check=False)
        for chain in names:
            run(["iptables", "-t", table, "-X", chain], check=False)


@pytest.fixture(scope="module")
def engine():
    """Environment for podman and podman-compose: their own configuration and storage."""
    for name, program in TOOLS.items():
        if not (shutil.which(program) or Path(program).is_file() or Path("/usr/sbin", program).is_file()):
            unavailable(f"{name} is not installed")
    if os.geteuid() != 0:
        unavailable("the smoke test runs rootful podman: it needs root")
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / "containers.conf").write_text(CONTAINERS_CONF, "utf-8")
    (CACHE / "storage.conf").write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{CACHE / "storage"}"\n'
        f'runroot = "/run/archipel-container-tests"\n', "utf-8")
    env = {**os.environ, "CONTAINERS_CONF": str(CACHE / "containers.conf"),
           "CONTAINERS_STORAGE_CONF": str(CACHE / "storage.conf")}
    return env


def base_images(env) -> dict[str, str]:
    """The three base images, built from Debian packages when their recipe changed."""
    images, builds = {}, {}
    for name, recipe in RECIPES.items():
        key = recipe_key(name)
        images[name] = f"localhost/archipel-test-{name}:{key}"
        if run(["podman", "image", "exists", images[name]], env=env, check=False).returncode == 0:
            continue
        tarball = CACHE / f"{name}-{key}.tar"
        if not tarball.is_file():
            hooks = []
            for target, source in recipe["files"].items():
                hooks += [f"--customize-hook=upload {source} {target}",
                          f"--customize-hook=chmod 755 \"$1{target}\""]
            if name == "postgres":
                hooks.append(f"--essential-hook={NO_MAIN_CLUSTER}")
            command = ["mmdebstrap", "--quiet", "--variant=minbase", "--include=" + ",".join(recipe["packages"]),
                       *hooks, SUITE, str(partial(tarball))]
            builds[name] = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for name, process in builds.items():  # the missing root file systems, made in parallel
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, f"mmdebstrap for {name} failed:\n{output[-4000:]}"
        tarball = CACHE / f"{name}-{recipe_key(name)}.tar"
        os.replace(partial(tarball), tarball)
    for name, recipe in RECIPES.items():
        if run(["podman", "image", "exists", images[name]], env=env, check=False).returncode != 0:
            changes = [f"--change={change}" for change in recipe["changes"]]
            run(["podman", "import", "--quiet", *changes, str(CACHE / f"{name}-{recipe_key(name)}.tar"),
                 images[name]], env=env)
    return images


def logs(env, container: str) -> str:
    result = run(["podman", "logs", container], env=env, check=False)
    return result.stdout + result.stderr


def partial(tarball: Path) -> Path:
    """Where mmdebstrap writes a tarball until it is complete (its format follows the suffix)."""
    return tarball.with_name(tarball.stem + ".part.tar")


def curl(*args: str, timeout: int = 20) -> subprocess.CompletedProcess:
    # curl takes no "--option=value": split the --resolve=VALUE given here.
    args = [part for arg in args for part in (arg.split("=", 1) if arg.startswith("--resolve=") else [arg])]
    return run(["curl", "--silent", "--show-error", "--max-time", str(timeout), *args],
               check=False, timeout=timeout + 5)


# On a new machine the base images are made from Debian packages and the image's dependencies
# installed from the package index: up to ten minutes each, then the set started and checked.
@pytest.mark.timeout(2400)
def test_an_island_in_containers_behind_caddy(engine, tmp_path):
    env = engine
    started = time.monotonic()
    images = base_images(env)
    log(f"base images ready ({time.monotonic() - started:.0f} s)")

    tag = secrets.token_hex(4)
    image = f"localhost/archipel-smoke:{tag}"
    project = f"archipel-smoke-{tag}"
    https_port, http_port = free_port(), free_port()
    compose_env = {
        **env,
        "ARCHIPEL_IMAGE": image, "POSTGRES_IMAGE": images["postgres"], "CADDY_IMAGE": images["caddy"],
        "ARCHIPEL_URL": f"https://{SITE}", "ARCHIPEL_NAME": "Île de test",
        "ARCHIPEL_SITE_ADDRESS": SITE, "CADDY_GLOBAL_OPTIONS": "local_certs",
        "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
        "HTTPS_PORT": f"127.0.0.1:{https_port}", "HTTP_PORT": f"127.0.0.1:{http_port}",
    }
    compose_files = ["-f", str(DOCKER / "compose.yaml")]
    compose = [venv_tool("podman-compose"), "--project-name", project]
    try:
        # The image, built the way an operator would (the CA bundle lets pip through this
        # machine's proxy; without the secret, the build uses the base's own certificates).
        build = ["podman", "build", "--quiet", "--format", "docker", "--file", str(DOCKER / "Dockerfile"),
                 "--build-arg", f"BASE_IMAGE={images['python']}"]
        bundle = Path(os.environ.get("ARCHIPEL_BUILD_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))
        if bundle.is_file():
            build += ["--secret", f"id=ca,src={bundle}"]
        # The build stage first, tagged: its layers (the dependencies, which change only with
        # pyproject.toml) stay as a cache for the next run, while the image itself is removed.
        run([*build, "--target", "build", "--tag", BUILD_CACHE, str(ROOT)], env=env, timeout=600)
        run([*build, "--tag", image, str(ROOT)], env=env, timeout=600)
        log(f"image built ({time.monotonic() - started:.0f} s)")
        inspected = json.loads(run(["podman", "image", "inspect", image], env=env).stdout)[0]
        config = inspected["Config"]
        assert config["User"] == "10001:10001", config["User"]
        healthcheck = inspected.get("Healthcheck") or config.get("Healthcheck") or {}  # podman: the former
        assert "/livez" in " ".join(healthcheck.get("Test", [])), inspected
        assert config["Volumes"] == {"/island": {}}, config["Volumes"]

        services = ["web", "worker", "caddy"]

        # podman-compose waits for `service_completed_successfully` with `podman wait
        # --condition=stopped`, which never returns for an exited container, and podman 4.3 cannot
        # wait for `service_healthy`: the test walks the dependency order itself (Docker Compose
        # follows the conditions written in compose.yaml).
        run([*compose, *compose_files, "up", "-d", "db"], env=compose_env, cwd=DOCKER)
        db = f"{project}_db_1"
        deadline = time.monotonic() + 90
        while run(["podman", "exec", db, "pg_isready", "--username=archipel", "--dbname=archipel"],
                  env=env, check=False).returncode != 0:
            assert time.monotonic() < deadline, "PostgreSQL did not become ready in 90 s:\n" + \
                run(["podman", "logs", db], env=env, check=False).stderr[-3000:]
            time.sleep(1)
        run([*compose, *compose_files, "up", "-d", "--no-deps", "migrate"], env=compose_env, cwd=DOCKER)
        exit_code = run(["podman", "wait", f"{project}_migrate_1"], env=env, timeout=120).stdout.strip()
        migrate_logs = run(["podman", "logs", f"{project}_migrate_1"], env=env, check=False)
        migrate_output = migrate_logs.stdout + migrate_logs.stderr
        assert exit_code == "0", migrate_output
        assert "creating it for https://archipel.test" in migrate_output, migrate_output
        run([*compose, *compose_files, "up", "-d", "--no-deps", *services], env=compose_env, cwd=DOCKER)
        log(f"compose set up ({time.monotonic() - started:.0f} s)")

        # Caddy's internal root certificate: the only certificate authority curl trusts here.
        root_ca = tmp_path / "caddy-root.crt"
        caddy = f"{project}_caddy_1"
        web = f"{project}_web_1"
        base = f"https://{SITE}:{https_port}"
        resolve = f"--resolve={SITE}:{https_port}:127.0.0.1"  # curl reads it as --resolve VALUE
        probe = got = None
        deadline = time.monotonic() + 90
        while True:
            got = run(["podman", "exec", caddy, "cat", "/data/caddy/pki/authorities/local/root.crt"],
                      env=env, check=False)
            if got.returncode == 0:
                root_ca.write_text(got.stdout, "utf-8")
                probe = curl(resolve, "--cacert", str(root_ca), "--output", "/dev/null",
                             "--write-out", "%{http_code}", f"{base}/readyz")
                if probe.stdout == "200":
                    break
            assert time.monotonic() < deadline, (
                f"the island did not answer through Caddy in 90 s: {got.stderr}"
                f" {probe and (probe.stdout, probe.stderr)}\n"
                f"web: {logs(env, web)[-3000:]}\ncaddy: {logs(env, caddy)[-1500:]}")
            time.sleep(1)
        log(f"island answers through Caddy ({time.monotonic() - started:.0f} s)")
        # The worker serves no pages but its own probes: the image's health check holds for it.
        # Tried again as the engine would (the image allows three failures, 30 s apart): on a
        # busy machine the first try can outlast the check's five seconds while the worker starts.
        worker = f"{project}_worker_1"
        deadline = time.monotonic() + 60
        while (healthy := run(["podman", "healthcheck", "run", worker], env=env, check=False)).returncode != 0:
            assert time.monotonic() < deadline, \
                f"worker unhealthy for 60 s: {healthy.stdout}{healthy.stderr}\n{logs(env, worker)[-2000:]}"
            time.sleep(2)

        # A user and a fiche, with the command line inside the web container.
        added = run(["podman", "exec", web, "archipel", "user", "add", "/island", "alice",
                     "--role", "admin"], env=env)
        assert "user @alice@archipel.test added" in added.stdout
        run(["podman", "exec", "-i", web, "sh", "-c", "cat >/tmp/fiche.md"], env=env, input=FICHE)
        published = run(["podman", "exec", web, "archipel", "publish", "/island", "/tmp/fiche.md",
                         "--as", "alice"], env=env)
        uri = published.stdout.strip().splitlines()[-1]
        assert uri.startswith(f"https://{SITE}/"), published.stdout

        # Read through Caddy over TLS, the certificate checked against Caddy's root.
        page = curl(resolve, "--cacert", str(root_ca), "--fail", uri.replace(f"https://{SITE}", base))
        assert page.returncode == 0, page.stderr
        assert "Atelier de réparation de vélos" in page.stdout
        as_json = curl(resolve, "--cacert", str(root_ca), "--fail", "--header",
                       "Accept: application/activity+json", uri.replace(f"https://{SITE}", base))
        assert json.loads(as_json.stdout)["id"] == uri
        # Plain http is redirected to https, and an unknown authority is refused.
        redirect = curl("--resolve", f"{SITE}:{http_port}:127.0.0.1", "--output", "/dev/null",
                        "--write-out", "%{http_code} %{redirect_url}", f"http://{SITE}:{http_port}/")
        assert redirect.stdout.startswith("308 https://"), redirect.stdout
        untrusted = curl(resolve, "--output", "/dev/null", f"{base}/")
        assert untrusted.returncode == 60, untrusted  # curl: the peer's certificate is not trusted
        log(f"fiche published and read through Caddy ({time.monotonic() - started:.0f} s)")
    finally:
        run([*compose, *compose_files, "down", "--volumes", "--timeout", "5"], env=compose_env,
            cwd=DOCKER, check=False, timeout=180)
        run(["podman", "rmi", "--force", image], env=env, check=False)
        run(["podman", "image", "prune", "--force"], env=env, check=False)  # older build stages
        remove_idle_netavark_chains()
        log(f"cleaned up ({time.monotonic() - started:.0f} s)")
    leftovers = run(["podman", "ps", "--all", "--filter", f"label=io.podman.compose.project={project}",
                     "--format", "{{.Names}}"], env=env, check=False).stdout.strip()
    assert not leftovers, f"containers left behind: {leftovers}"
