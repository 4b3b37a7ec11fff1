"""Run every ``benchmarks/bench_*.py`` (or those named on the command line) and collect their JSON."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path

import benchmarks

OUT = Path(__file__).parent / "out"


def main(argv: list[str]) -> int:
    found = pkgutil.iter_modules(benchmarks.__path__)
    names = argv or sorted(m.name for m in found if m.name.startswith("bench_"))
    OUT.mkdir(exist_ok=True)
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"== {name}", flush=True)
        result = module.run()
        (OUT / f"{name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
