"""Key rotation while `liveloop serve` serves: through the API, and from the CLI (forwarded to the server),
with users written during it; afterwards every value opens with the new key alone."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pyarrow as pa
from cryptography.exceptions import InvalidTag

from liveloop.campaigns.outbox import message_of_token, unsubscribe_token
from liveloop.core.config import Settings
from liveloop.core.crypto import cipher_of, generate_key, load_cipher
from liveloop.warehouse import Warehouse


def _user(i: int) -> dict[str, str]:
    return {
        "user_id": f"rot-{i:03d}",
        "phone": f"1390000{i:04d}",
        "email": f"r{i}@example.cn",
        "region": "浙江",
    }


SEEDED = 6000


def _seed(wh: Warehouse) -> None:
    """Users with PII written straight under the home's key file, so the rotation takes a while."""
    cipher = load_cipher(Settings(home=wh.path.parent))
    phones = [f"1370000{i:04d}" for i in range(SEEDED)]
    wh.append(
        "users",
        pa.table(
            {
                "user_id": [f"seed-{i:05d}" for i in range(SEEDED)],
                "phone_enc": [cipher.encrypt(p, context="users.phone") for p in phones],
                "phone_index": [cipher.blind_index(p) for p in phones],
            }
        ),
    )


def test_the_key_rotates_while_the_server_serves_and_writes_continue(live_server_factory) -> None:
    server = live_server_factory(seed=_seed, env={"LIVELOOP_SECRET_KEY": ""})  # the key file under the home
    key_file = server.home / "secret.key"
    old = cipher_of(key_file.read_text())
    statuses: list[int] = []
    with server.client("ingest") as app, server.client("admin") as admin, server.client("analyst") as analyst:
        for i in range(40):
            assert app.post("/v1/users", json=_user(i)).status_code == 201

        def keep_writing() -> None:  # users written while the rotation runs
            with server.client("ingest") as writer:
                statuses.extend(writer.post("/v1/users", json=_user(i)).status_code for i in range(40, 80))

        writer = threading.Thread(target=keep_writing)
        writer.start()
        rotated = admin.post("/v1/keys/rotate-secret")
        writer.join()
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["users"] >= SEEDED + 40 and rotated.json()["resumed"] is False
        assert statuses == [201] * 40  # no write refused or lost during the rotation
        assert app.post("/v1/keys/rotate-secret").status_code == 403  # admins only
        new = cipher_of(key_file.read_text())
        assert new.keys != old.keys and (server.home / "secret.key.previous").read_text().strip()
        found = analyst.get("/v1/search", params={"q": "13900000077"}).json()["users"]
        assert [u["user_id"] for u in found] == [
            "rot-077"
        ]  # found by phone: its blind index is the new key's
        exported = admin.get("/v1/users/rot-003/export").json()["tables"]["users"][0]
        assert exported["phone"] == "13900000003" and exported["email"] == "r3@example.cn"

    env = dict(server.env)
    forwarded = subprocess.run(  # the CLI, with the server holding the warehouse: forwarded to it
        [sys.executable, "-m", "liveloop.cli.main", "keys", "rotate-secret", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert forwarded.returncode == 0, forwarded.stderr
    assert json.loads(forwarded.stdout)["users"] == SEEDED + 80
    newest = cipher_of(key_file.read_text())
    assert newest.keys != new.keys
    assert cipher_of((server.home / "secret.key.previous").read_text()).keys == new.keys
    (set_aside,) = server.home.glob("secret.key.previous.*")  # the first key, kept for older backups
    assert cipher_of(set_aside.read_text()).keys == old.keys and set_aside.stat().st_mode & 0o077 == 0
    server.stop()

    with Warehouse.open(server.settings) as wh:
        rows = wh.sql("SELECT user_id, phone_enc, phone_index, email_enc FROM users ORDER BY user_id")
    assert len(rows) == SEEDED + 80
    for user_id, phone_enc, phone_index, email_enc in rows:
        i = int(user_id.split("-")[1])
        phone = f"{1370000 if user_id.startswith('seed') else 1390000}{i:04d}"
        assert newest.decrypt(phone_enc, context="users.phone") == phone  # the newest key alone opens it
        if email_enc is not None:
            assert newest.decrypt(email_enc, context="users.email") == f"r{i}@example.cn"
        assert phone_index == newest.blind_index(phone)
        for earlier in (old, new):
            try:
                earlier.decrypt(phone_enc, context="users.phone")
            except InvalidTag:
                continue
            raise AssertionError(f"{user_id} still opens with an earlier key")


def test_a_ring_opens_what_any_of_its_keys_sealed_and_an_unsubscribe_link_outlives_a_rotation() -> None:
    old_key, new_key = generate_key(), generate_key()
    old = cipher_of(old_key)
    blob = old.encrypt("13800000000", context="users.phone")
    link = unsubscribe_token(old, "m-1")
    ring = cipher_of(old_key)
    ring.use(cipher_of(new_key).keys[0], old.keys[0])  # a rotation: the new key first
    assert ring.decrypt(blob, context="users.phone") == "13800000000"
    assert not ring.sealed_by_first(blob, context="users.phone")
    assert ring.sealed_by_first(ring.encrypt("x", context="c"), context="c")
    assert ring.blind_index("a") != old.blind_index("a") and old.blind_index("a") in ring.blind_indexes("a")
    assert message_of_token(ring, link) == "m-1"  # a link sent before the rotation still unsubscribes
    ring.use(cipher_of(new_key).keys[0])  # the previous key deleted: its links and values no longer open
    try:
        ring.decrypt(blob, context="users.phone")
    except InvalidTag:
        pass
    else:
        raise AssertionError("a value sealed by a key no longer in the ring must not open")


def test_a_session_signed_with_the_old_key_lasts_through_a_rotation_and_ends_with_it() -> None:
    from liveloop.privacy.sessions import SessionSigner

    old, new = cipher_of(generate_key()), cipher_of(generate_key())
    ring = cipher_of(generate_key())
    ring.use(old.keys[0])
    signer = SessionSigner(ring)
    before = signer.issue("admin-key")
    ring.use(new.keys[0], old.keys[0], live=2)  # rotating: the new key signs, the old one still verifies
    during = signer.issue("admin-key")
    assert signer.read(before) and signer.read(during)
    ring.use(new.keys[0], old.keys[0])  # rotated: the old key only opens what it sealed
    assert signer.read(before) is None, "a leaked old key must not sign sessions after the rotation"
    assert signer.read(during) is not None
