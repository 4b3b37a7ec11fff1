"""The README's CLI tour runs as written: every command, in a fresh LIVELOOP_HOME, with `serve` running.

The commands are read from README.md (so an edit there is tested). Placeholders are filled from what
earlier commands printed (USER_ID, SESSION_ID); `a|b|c` runs each choice. `serve` starts in the
background on a free port, and every later command reaches the warehouse through it (cli.bridge).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
LIVELOOP = str(Path(sys.executable).with_name("liveloop"))


def tour_commands(readme: str) -> list[list[str]]:
    """The tour's commands, one argv each (after `liveloop`): comments cut, `&&` split, `a|b` expanded."""
    block = readme.split("## A short tour", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands: list[list[str]] = []
    for line in block.splitlines():
        line = line.split(" #", 1)[0].strip()
        for part in filter(None, (p.strip() for p in line.split("&&"))):
            argv = [a for a in shlex.split(part) if a != "&"]  # `serve … &`: in the background
            assert argv[0] == "liveloop", f"not a liveloop command in the tour: {part}"
            choices = [i for i, a in enumerate(argv) if "|" in a]
            if choices:
                i = choices[0]
                commands += [[*argv[1:i], c, *argv[i + 1 :]] for c in argv[i].split("|")]
            else:
                commands.append(argv[1:])
    return commands


def test_the_tour_parser_reads_every_line() -> None:
    commands = tour_commands(README.read_text(encoding="utf-8"))
    assert ["init"] in commands and ["nlp", "score", "comments.csv"] in commands
    assert any(c[:1] == ["serve"] for c in commands)
    sample = "## A short tour\n```bash\nliveloop a x|y   # c\nliveloop b && liveloop c --k v\n```\n"
    assert tour_commands(sample) == [["a", "x"], ["a", "y"], ["b"], ["c", "--k", "v"]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Tour:
    def __init__(self, cwd: Path, env: dict[str, str]):
        self.cwd, self.env = cwd, env
        self.values: dict[str, str] = {}
        self.timings: list[tuple[str, float]] = []

    def run(self, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        done = subprocess.run(
            [LIVELOOP, *argv], cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=900
        )
        self.timings.append((" ".join(argv), time.monotonic() - started))
        if check:
            assert done.returncode == 0, f"`liveloop {' '.join(argv)}` failed:\n{done.stdout}\n{done.stderr}"
        return done

    def json(self, argv: list[str]) -> object:
        return json.loads(self.run([*argv, "--json"]).stdout)

    def fill(self, argv: list[str]) -> list[str]:
        return [self.values.get(a, a) for a in argv]


@pytest.mark.slow
def test_the_readme_tour_runs_as_written(tmp_path: Path, data_home: Path, small_comment_model: Path) -> None:
    home, cwd = tmp_path / "home", tmp_path / "work"
    cwd.mkdir()
    env = {**os.environ, "LIVELOOP_HOME": str(home), "LIVELOOP_DATA_HOME": str(data_home.resolve())}
    # the comment commands use the tests' small model (as the other live tests do); `nlp train` still
    # trains and writes the full one
    env["LIVELOOP_NLP_MODEL"] = str(small_comment_model)
    # and `recommend train` one SASRec epoch instead of ten (the README's setting; the command is unchanged)
    env["LIVELOOP_SASREC_EPOCHS"] = "1"
    env.pop("LIVELOOP_SECRET_KEY", None)
    tour = Tour(cwd, env)
    server: subprocess.Popen[str] | None = None
    commands = tour_commands(README.read_text(encoding="utf-8"))
    try:
        for argv in commands:
            if argv[0] == "serve":
                port = str(_free_port())
                argv = [a if a != argv[argv.index("--port") + 1] else port for a in argv]
                server = subprocess.Popen([LIVELOOP, *argv], cwd=cwd, env=env, text=True)
                handle = home / "serve.json"
                deadline = time.monotonic() + 60
                while not handle.exists():
                    assert server.poll() is None, "liveloop serve exited"
                    assert time.monotonic() < deadline, "liveloop serve did not start within 60 s"
                    time.sleep(0.2)
                assert stat.S_IMODE(handle.stat().st_mode) == 0o600
                continue
            if "USER_ID" in argv and "USER_ID" not in tour.values:
                listed = tour.json(["users", "list", "--limit", "5"])
                tour.values["USER_ID"] = listed["users"][0]["user_id"]  # type: ignore[index]
            if "SESSION_ID" in argv and "SESSION_ID" not in tour.values:
                sessions = tour.json(["live", "sessions", "--limit", "1"])
                tour.values["SESSION_ID"] = sessions["items"][0]["session_id"]  # type: ignore[index]
            tour.run(tour.fill(argv))
        assert server is not None, "the tour has no `liveloop serve`"
        # what the tour did while the server held the warehouse is in it
        assert (cwd / "lake").is_dir() and any((cwd / "lake").rglob("*.parquet"))
        status = tour.json(["status"])
        assert status["tables"]["events"]["rows"] > 0  # type: ignore[index]
        keys = tour.run(["keys", "list"]).stdout
        assert "alice" in keys
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=60)
        slowest = sorted(tour.timings, key=lambda t: -t[1])[:8]
        print("slowest tour commands:", ", ".join(f"{c} {s:.0f}s" for c, s in slowest))
    assert not (home / "serve.json").exists(), "serve left its handle behind"


@pytest.mark.slow
def test_the_bridge_refuses_a_wrong_token_and_runs_paths_from_the_callers_folder(tmp_path: Path) -> None:
    home, cwd = tmp_path / "home", tmp_path / "work"
    cwd.mkdir()
    env = {**os.environ, "LIVELOOP_HOME": str(home)}
    env.pop("LIVELOOP_SECRET_KEY", None)
    tour = Tour(cwd, env)
    tour.run(["init"])
    tour.run(["examples"])
    port = _free_port()
    server = subprocess.Popen([LIVELOOP, "serve", "--port", str(port)], cwd=tmp_path, env=env, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (home / "serve.json").exists():
            assert server.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        handle = json.loads((home / "serve.json").read_text())
        imported = tour.json(["import", "events.csv", "--adapter", "native"])
        assert imported["loaded"] == 11 and imported["quarantined"] == 2  # type: ignore[index]
        failed = tour.run(["users", "show", "nobody"], check=False)
        assert failed.returncode == 1 and failed.stderr.strip() == "error: user 'nobody' is unknown"
        second = tour.run(["serve", "--port", str(_free_port())], check=False)
        assert second.returncode != 0 and len(second.stderr.strip().splitlines()) == 1
        assert "in use" in second.stderr
        import urllib.error
        import urllib.request

        request = urllib.request.Request(
            handle["url"] + "/v1/cli",
            data=b'{"args": ["status"]}',
            headers={"Content-Type": "application/json", "x-liveloop-cli-token": "not-the-token"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request)
        assert refused.value.code == 403
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert not (home / "serve.json").exists()
    assert re.search(r"\b11\b", tour.run(["status"]).stdout)
