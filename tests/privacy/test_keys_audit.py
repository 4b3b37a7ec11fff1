"""Key changes are decisions too: creation and revocation land in the audit log, never the secret."""

from __future__ import annotations

from liveloop.privacy.keys import create_key, revoke_key
from liveloop.warehouse import Warehouse


def test_key_creation_and_revocation_are_audited_without_the_secret(wh: Warehouse) -> None:
    created = create_key(wh, "analyst", "alice", actor="key:admin0000001")
    revoke_key(wh, created.key_id, actor="cli")
    rows = wh.sql(
        "SELECT actor, action, subject, decision, CAST(details AS VARCHAR), reason FROM audit_log "
        "WHERE action LIKE 'keys.%' ORDER BY audit_id"
    )
    assert [r[:4] for r in rows] == [
        ("key:admin0000001", "keys.create", created.key_id, "analyst"),
        ("cli", "keys.revoke", created.key_id, "revoked"),
    ]
    secret = created.key.partition(".")[2]
    assert all(secret not in str(r) for r in rows)
