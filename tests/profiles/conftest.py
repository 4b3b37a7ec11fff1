"""Fixtures of the profile tests: a small synthetic shop in a real warehouse (see profiles_shop.py)."""

from __future__ import annotations

import pytest
from profiles_shop import seed_shop

from liveloop.warehouse import Warehouse


@pytest.fixture
def shop(wh: Warehouse) -> Warehouse:
    seed_shop(wh)
    return wh
