"""The CLI starts without the models' libraries, and whatever explains decisions knows every kind.

Capabilities are imported lazily (``liveloop.core.lazy``): a command that needs a model imports it when
it runs. The cost of that is side effects on import — the modules that register how their decisions read
(``privacy.audit.register_explainer``) must be loaded before decisions are explained, so
``liveloop.explainers`` lists them; the second test finds every such module in the source and checks the
list is whole, the third that the server loads them all.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("torch", "sklearn", "pandas", "scipy", "lightgbm", "statsforecast", "playwright")


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_the_cli_starts_without_the_models_libraries() -> None:
    loaded = json.loads(
        _python(
            "import sys, json; import liveloop.cli.main; "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
        )
    )
    assert loaded == [], f"`import liveloop.cli.main` loads {loaded}: import them inside the command"


def _registry(setup: str) -> dict[str, list[str]]:
    code = (
        f"import json; {setup}; from liveloop.privacy import audit; "
        "print(json.dumps({'actions': sorted(audit._EXPLAINERS), 'named': sorted(audit._NAMED_IN_DETAILS)}))"
    )
    return json.loads(_python(code))  # type: ignore[no-any-return]


def _registering_modules() -> list[str]:
    found = []
    for path in sorted((SRC / "liveloop").rglob("*.py")):
        if "register_explainer(" in path.read_text(encoding="utf-8"):
            parts = path.relative_to(SRC).with_suffix("").parts
            found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def test_the_explainer_list_names_every_module_that_registers_one() -> None:
    modules = _registering_modules()
    assert "liveloop.live.lottery" in modules and "liveloop.campaigns.coupons" in modules
    everything = _registry(f"import importlib; [importlib.import_module(m) for m in {modules!r}]")
    listed = _registry("from liveloop import explainers; explainers.load()")
    assert listed == everything
    assert {"recommend", "coupon.grant", "campaign.message"} <= set(listed["actions"])
    assert listed["named"], "the lottery's draws name their winners in the details"


def test_the_server_loads_every_explainer() -> None:
    everything = _registry("from liveloop import explainers; explainers.load()")
    served = _registry("from liveloop.server import create_app; create_app()")
    assert served == everything
