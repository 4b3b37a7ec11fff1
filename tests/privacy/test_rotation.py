"""Key rotation: every PII value and sealed quarantine row re-encrypted under a new key, blind indexes
recomputed, resumable after an interruption, the old key kept aside for older backups."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from liveloop.analytics.reports import schedules
from liveloop.campaigns.channels import Provider, providers, set_provider
from liveloop.core.config import Settings
from liveloop.core.crypto import cipher_of, load_cipher, reveal_raw
from liveloop.core.errors import LiveloopError
from liveloop.ingest import import_file, ingest_records
from liveloop.privacy.rotation import rotate_secret
from liveloop.warehouse import Warehouse


class Stop(Exception):
    pass


@pytest.fixture
def keyed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Settings, Warehouse]]:
    """A home whose key is its key file (the only key a rotation rotates), and its warehouse."""
    monkeypatch.setenv("LIVELOOP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LIVELOOP_SECRET_KEY", raising=False)
    settings = Settings.from_env()
    with Warehouse.open(settings) as wh:
        yield settings, wh


def test_rotation_re_encrypts_everything_and_resumes_after_an_interruption(
    keyed: tuple[Settings, Warehouse], tmp_path: Path
) -> None:
    settings, wh = keyed
    ring = load_cipher(settings)  # creates the key file; the process's ring, which the rotation changes
    old = cipher_of(settings.key_path.read_text())  # the old key alone
    users = [
        {"user_id": f"u{i:02d}", "phone": f"1380000{i:04d}", "email": f"u{i}@example.cn"} for i in range(7)
    ]
    ingest_records(wh, "users", users, source="test")
    bad = tmp_path / "users.csv"
    bad.write_text("user_id,phone\nu99,not-a-phone-13900000000\n", encoding="utf-8")
    import_file(wh, bad, table="users")
    sealed_before = wh.sql("SELECT raw FROM quarantine")[0][0]
    assert sealed_before.startswith("enc:")
    # the other sealed values: a channel provider's secret and a report schedule's recipients
    set_provider(
        wh, ring, Provider("email", "smtp", {"url": "smtp://127.0.0.1:2525", "from": "a@b.co"}, "pw")
    )
    schedule = schedules.add(wh, ring, "weekly", ["ops@shop.example"])

    def interrupt(batch: int) -> None:
        if batch == 2:
            raise Stop

    with pytest.raises(Stop):
        rotate_secret(wh, settings, actor="t", batch=3, after_batch=interrupt)  # 2 of 3 batches done
    assert settings.key_path.read_text() and settings.key_path.with_name("secret.key.next").exists()
    assert old.decrypt(
        wh.sql("SELECT phone_enc FROM users WHERE user_id = 'u06'")[0][0], context="users.phone"
    )
    report = rotate_secret(wh, settings, actor="t", batch=3)
    assert report["resumed"] and report["quarantine"] == 1
    assert report["users"] == 1  # the 6 of the interrupted run's two batches are passed over
    new = cipher_of(settings.key_path.read_text())  # the new key alone
    assert ring.keys == (new.keys[0], old.keys[0])  # the ring: the new key, then the previous
    assert cipher_of(settings.key_path.with_name("secret.key.previous").read_text()).blind_index(
        "x"
    ) == old.blind_index("x")
    for user_id, phone_enc, phone_index, email_enc in wh.sql(
        "SELECT user_id, phone_enc, phone_index, email_enc FROM users ORDER BY user_id"
    ):
        i = int(user_id[1:])
        assert new.decrypt(phone_enc, context="users.phone") == f"1380000{i:04d}"
        assert new.decrypt(email_enc, context="users.email") == f"u{i}@example.cn"
        assert phone_index == new.blind_index(f"1380000{i:04d}") != old.blind_index(f"1380000{i:04d}")
        with pytest.raises(InvalidTag):
            old.decrypt(phone_enc, context="users.phone")
    assert "not-a-phone" in (reveal_raw(wh.sql("SELECT raw FROM quarantine")[0][0], new) or "")
    assert providers(wh, new)["email"].secret == "pw"
    assert schedules.list_schedules(wh, new)[0]["recipients"] == ["ops@shop.example"]
    with pytest.raises(InvalidTag):
        schedules.list_schedules(wh, old)
    assert report["report_schedules"] == 1 and report["channel_providers"] == 1
    assert schedule["schedule_id"]
    assert wh.sql("SELECT count(*) FROM audit_log WHERE action = 'privacy.key_rotation'")[0][0] == 1


def test_a_key_given_in_the_environment_is_not_rotated_here(wh: Warehouse, settings: Settings) -> None:
    with pytest.raises(LiveloopError, match="LIVELOOP_SECRET_KEY"):
        rotate_secret(wh, settings)


def test_readers_of_the_key_files_during_a_rotation_never_drop_the_new_key(
    keyed: tuple[Settings, Warehouse],
) -> None:
    import threading

    settings, wh = keyed
    ring = load_cipher(settings)
    ingest_records(wh, "users", [{"user_id": f"u{i:03d}", "phone": f"1380000{i:04d}"} for i in range(300)])
    stop, seen = threading.Event(), []

    def reread() -> None:  # what ingest and every request do: load the ring from the key files
        while not stop.is_set():
            seen.append(load_cipher(settings).keys)

    readers = [threading.Thread(target=reread) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        report = rotate_secret(wh, settings, actor="t", batch=7)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    new = cipher_of(settings.key_path.read_text())
    assert report["users"] == 300 and ring.keys[0] == new.keys[0] and len(seen) > 10
    for (blob,) in wh.sql("SELECT phone_enc FROM users"):
        assert new.decrypt(blob, context="users.phone")  # the new key alone opens every value
