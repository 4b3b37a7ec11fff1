"""Shared fixtures: a fresh LIVELOOP_HOME and warehouse per test, real data sets from LIVELOOP_DATA_HOME."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from liveloop.core.config import Settings
from liveloop.core.crypto import generate_key
from liveloop.warehouse import Warehouse


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """An isolated LIVELOOP_HOME with its own secret key."""
    home = tmp_path / "home"
    monkeypatch.setenv("LIVELOOP_HOME", str(home))
    monkeypatch.setenv("LIVELOOP_SECRET_KEY", generate_key())
    return Settings.from_env()


@pytest.fixture
def wh(settings: Settings) -> Iterator[Warehouse]:
    """A real DuckDB warehouse file in a temporary LIVELOOP_HOME."""
    warehouse = Warehouse.open(settings)
    yield warehouse
    warehouse.close()


@pytest.fixture(scope="session")
def data_home() -> Path:
    """The real public data sets. Missing data fails the test: it is never skipped silently."""
    path = Path(os.environ.get("LIVELOOP_DATA_HOME", "../shared/data"))
    if not path.is_dir():
        pytest.fail(f"LIVELOOP_DATA_HOME={path} is not a directory: the real data sets are required")
    return path


# --- Live service fixtures (service shell): a real uvicorn server on 127.0.0.1, a real Chromium. ---------
# `server`: one shared server for the session (empty warehouse at start; other tests may add data).
# `live_server_factory`: start your own server, optionally seeding its warehouse first:
#     srv = live_server_factory(seed=lambda wh: my_loader(wh), env={"LIVELOOP_X": "1"})
# A LiveServer has base_url, admin_key, home, key(role) -> API key, headers(role), client(role),
# kill() (SIGKILL), stop(), start() (again on the same home and port).
# `browser_page`: a Playwright page in headless /usr/bin/chromium; `page.console_errors` collects
# console errors and page errors; `dashboard_login(page, server, role)` logs in through the form.

import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A `liveloop serve` subprocess on 127.0.0.1 with its own LIVELOOP_HOME and an admin key."""

    def __init__(
        self, home: Path, *, seed: Callable[[Warehouse], Any] | None = None, env: dict[str, str] | None = None
    ):
        from liveloop.privacy.keys import create_key

        self.home = home
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "LIVELOOP_HOME": str(home),
            "LIVELOOP_SECRET_KEY": generate_key(),
            "LIVELOOP_AUTH_MAX_FAILURES": "1000",
            # no server trains the full comment model behind a test's back (minutes of a core); the tests
            # of live rooms give the small model, the test of background training turns this on
            "LIVELOOP_NLP_AUTOTRAIN": "off",
            **(env or {}),
        }
        self.settings = settings = Settings(
            home=home,
            data_home=Path(self.env.get("LIVELOOP_DATA_HOME", "../shared/data")),
            secret_key=self.env["LIVELOOP_SECRET_KEY"],
        )
        with Warehouse.open(settings) as wh:
            if seed is not None:
                seed(wh)
            self.admin_key = create_key(wh, "admin", "test-admin").key
        self._keys: dict[str, str] = {"admin": self.admin_key}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = home / "server.log"
        self.start()

    def start(self, timeout_s: float = 90.0) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "liveloop.cli.main",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"liveloop serve exited with {code}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"liveloop serve did not become healthy in {timeout_s} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else ""

    def key(self, role: str) -> str:
        """An API key of ``role`` (created through the API once, then reused)."""
        if role not in self._keys:
            resp = httpx.post(
                f"{self.base_url}/v1/keys",
                json={"role": role, "name": f"test-{role}"},
                headers={"X-API-Key": self.admin_key},
                timeout=30,
            )
            resp.raise_for_status()
            self._keys[role] = resp.json()["key"]
        return self._keys[role]

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key(role)}"}

    def client(self, role: str | None = "admin", **kwargs: Any) -> httpx.Client:
        headers = self.headers(role) if role else {}
        timeout = kwargs.pop("timeout", 60)
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, **kwargs)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def live_server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LiveServer]]:
    """Start servers of your own: ``live_server_factory(seed=fn(wh), env={...})``; all stopped afterwards."""
    started: list[LiveServer] = []

    def start(
        *, seed: Callable[[Warehouse], Any] | None = None, env: dict[str, str] | None = None
    ) -> LiveServer:
        srv = LiveServer(tmp_path_factory.mktemp("server") / "home", seed=seed, env=env)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real server shared by the session (its warehouse starts empty; don't assume it stays so)."""
    srv = LiveServer(tmp_path_factory.mktemp("shared-server") / "home")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright (fails, never skips, when it is missing)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps`")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def browser_page(browser: Any) -> Iterator[Any]:
    """A fresh browser context and page; ``page.console_errors`` lists console and page errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.console_errors = errors
    yield page
    context.close()


@pytest.fixture
def dashboard_login() -> Callable[..., None]:
    """``dashboard_login(page, server, role="admin")``: log in through the real login form (staying on a
    login page the app redirected to, so its ``next`` is kept)."""

    def login(page: Any, srv: LiveServer, role: str = "admin") -> None:
        if not page.url.startswith(f"{srv.base_url}/login"):
            page.goto(f"{srv.base_url}/login")
        page.fill("#key", srv.key(role))
        page.click("#login-form button[type=submit]")
        page.wait_for_load_state("networkidle")

    return login


@pytest.fixture(scope="session")
def small_comment_model() -> Path:
    """The live tests' small comment model (trained once per process on real-data subsamples)."""
    sys.path.insert(0, str(Path(__file__).parent / "live"))
    from live_support import model_dir

    return Path(model_dir())


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """Run ``liveloop ARGS`` in process through its entry point: (exit code, stdout, stderr)."""
    from liveloop.cli import common
    from liveloop.cli.main import main

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["liveloop", *args])
        monkeypatch.setenv("COLUMNS", "200")
        # the consoles' width, whatever the process's terminal (an xdist worker has none to measure)
        monkeypatch.setattr(common.console, "_width", 200)
        monkeypatch.setattr(common.err_console, "_width", 200)
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


#: Fixtures that make a test a browser test (headless Chromium) or a slow one (a real server, a trained
#: comment model, a simulated world): ``make test-fast`` leaves those out, ``make test`` runs everything.
BROWSER_FIXTURES = frozenset({"browser", "browser_page"})
SLOW_FIXTURES = frozenset({"live_server_factory", "server", "small_comment_model", "demo_world"})
#: Test modules whose every test trains or loads a real model first.
SLOW_MODULES = frozenset(
    {"test_live_nlp", "test_live_room", "test_live_record", "test_live_faces", "test_live_cli"}
)


#: The longest modules, started first so that parallel workers (``make test`` runs two) finish together.
#: The first trains the shared small comment model (about 3 minutes under load); the next four need no
#: comment model, so the other worker is busy meanwhile instead of waiting for it (xdist's loadscope hands
#: each worker two modules at the start, then the next one in this order as each finishes).
LONGEST_FIRST = (
    "test_readme_tour",
    "test_recommend_gate",
    "test_recommend_value",
    "test_api_tls",
    "test_api_fuzz",
    "test_live_nlp",
    "test_live_room",
    "test_live_cli",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if (
            fixtures & (SLOW_FIXTURES | BROWSER_FIXTURES)
            or item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES
        ):
            item.add_marker(pytest.mark.slow)
