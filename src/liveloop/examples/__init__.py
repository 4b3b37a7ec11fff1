"""Example files the README tour uses: lifecycle rules, a small event file (GBK), live comments."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from liveloop.core.errors import Conflict

#: What ``liveloop examples`` copies, with what each file is for.
FILES: dict[str, str] = {
    "lifecycle.toml": "lifecycle stage rules for `liveloop profiles build --rules lifecycle.toml`",
    "events.csv": "events in GBK with two bad rows, for `liveloop import events.csv --adapter native`",
    "comments.csv": "live-room comments (弹幕) for `liveloop nlp score comments.csv`",
}


def copy_examples(to: Path, *, overwrite: bool = False) -> list[Path]:
    """Copy the example files into ``to``; an existing file is refused unless ``overwrite``."""
    to.mkdir(parents=True, exist_ok=True)
    targets = [to / name for name in FILES]
    clash = [t for t in targets if t.exists()]
    if clash and not overwrite:
        raise Conflict(f"{clash[0]} exists: pass --overwrite to replace it", field="to")
    source = resources.files(__name__)
    for target in targets:
        with resources.as_file(source / target.name) as path:
            shutil.copyfile(path, target)
    return targets
