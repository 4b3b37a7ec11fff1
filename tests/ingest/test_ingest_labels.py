"""Category and region labels are normalised through the ``label_map`` table on import."""

from __future__ import annotations

from pathlib import Path

import pytest

from liveloop.core.errors import ValidationFailed
from liveloop.ingest import add_label, import_file, list_labels
from liveloop.warehouse import Warehouse


def test_category_labels_are_mapped_on_events_and_products(wh: Warehouse, tmp_path: Path) -> None:
    add_label(wh, "category", "女装", "womenswear")
    add_label(wh, "category", "Women's Clothing", "womenswear")
    events = tmp_path / "events.csv"
    events.write_text(
        "event_id,ts,user_id,type,category\n"
        "e1,2024-05-01 10:00:00,u1,view, 女装 \n"
        "e2,2024-05-01 10:00:00,u1,view,WOMEN'S CLOTHING\n"
        "e3,2024-05-01 10:00:00,u1,view,美妆\n"
        "e4,2024-05-01 10:00:00,u1,view,\n",
        encoding="utf-8",
    )
    report = import_file(wh, events)
    assert report.loaded == 4
    got = dict(wh.sql("SELECT event_id, category FROM events"))
    # mapped (trimmed, any case); an unmapped label is kept as it is (trimmed); empty stays NULL
    assert got == {"e1": "womenswear", "e2": "womenswear", "e3": "美妆", "e4": None}

    products = tmp_path / "products.csv"
    products.write_text("product_id,title,category\np1,连衣裙,女装\np2,口红,美妆\n", encoding="utf-8")
    import_file(wh, products)
    assert dict(wh.sql("SELECT product_id, category FROM products")) == {"p1": "womenswear", "p2": "美妆"}


def test_region_labels_are_mapped_on_users(wh: Warehouse, tmp_path: Path) -> None:
    for raw in ("上海市", "SH", "shanghai"):
        add_label(wh, "region", raw, "上海")
    users = tmp_path / "users.csv"
    users.write_text("user_id,region\nu1,上海市\nu2,sh\nu3,Shanghai \nu4,北京\n", encoding="utf-8")
    report = import_file(wh, users)
    assert report.loaded == 4
    got = dict(wh.sql("SELECT user_id, region FROM users"))
    assert got == {"u1": "上海", "u2": "上海", "u3": "上海", "u4": "北京"}


def test_a_mapping_replaces_an_earlier_one_and_applies_to_later_imports(
    wh: Warehouse, tmp_path: Path
) -> None:
    add_label(wh, "region", "沪", "上海市")
    add_label(wh, "region", "沪", "上海")  # the same raw label again: replaced, not added
    assert list_labels(wh, "region") == [{"kind": "region", "raw": "沪", "canonical": "上海"}]
    users = tmp_path / "users.csv"
    users.write_text("user_id,region\nu1,沪\n", encoding="utf-8")
    import_file(wh, users)
    assert wh.sql("SELECT region FROM users")[0][0] == "上海"


def test_bad_mappings_are_refused(wh: Warehouse) -> None:
    with pytest.raises(ValidationFailed, match="unknown label kind"):
        add_label(wh, "colour", "red", "RED")
    with pytest.raises(ValidationFailed, match="not a event_type"):
        add_label(wh, "event_type", "pv", "pageview")
    with pytest.raises(ValidationFailed, match="must not be empty"):
        add_label(wh, "region", " ", "上海")
    assert list_labels(wh) == []
