"""Privacy by construction: API keys and roles, dashboard sessions, the audit log.

The encryption primitives (AES-GCM, blind indexes) are on the ground floor, ``liveloop.core.crypto``,
so that the warehouse can encrypt PII without importing this package."""
