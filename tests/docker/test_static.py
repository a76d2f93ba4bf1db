"""Checks that need no container engine: hadolint on the Dockerfile, the Compose schema on
compose.yaml (each takes well under a second)."""

from __future__ import annotations

import subprocess

from tests.docker.conftest import DOCKER, SCHEMA, unavailable, venv_tool


def run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_dockerfile_passes_hadolint():
    hadolint = venv_tool("hadolint")
    result = run([hadolint, "--no-color", str(DOCKER / "Dockerfile")])
    assert result.returncode == 0, result.stdout + result.stderr


def check_compose(path) -> subprocess.CompletedProcess:
    if not SCHEMA.exists():
        unavailable(f"the Compose schema is missing ({SCHEMA})")
    return run([venv_tool("check-jsonschema"), "--schemafile", str(SCHEMA), str(path)])


def test_compose_file_follows_the_compose_specification():
    result = check_compose(DOCKER / "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_wrong_compose_file(tmp_path):
    """The check above is a real one: a misspelt key fails it."""
    wrong = tmp_path / "compose.yaml"
    wrong.write_text((DOCKER / "compose.yaml").read_text("utf-8").replace("depends_on:", "depend_on:", 1),
                     "utf-8")
    result = check_compose(wrong)
    assert result.returncode != 0
    assert "depend_on" in result.stdout + result.stderr


def test_web_and_worker_can_scale():
    """`--scale` needs services without a fixed container name or host port."""
    import yaml

    services = yaml.safe_load((DOCKER / "compose.yaml").read_text("utf-8"))["services"]
    for name in ("web", "worker"):
        assert "container_name" not in services[name], name
        assert "ports" not in services[name], name
