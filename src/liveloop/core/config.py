"""Settings read from the environment (LIVELOOP_*), with defaults that work out of the box."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from liveloop.core.errors import ValidationFailed

#: How money is shown per currency code (``LIVELOOP_CURRENCY``); another code is shown as ``CODE 1.00``.
CURRENCY_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$", "TWD": "NT$"}


def env_switch(name: str, default: bool, env: Mapping[str, str] | None = None) -> bool:
    """An on/off environment variable (on, off, true, false, yes, no, 1, 0; unset: ``default``); any
    other value is refused naming the variable."""
    value = (os.environ if env is None else env).get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValidationFailed(f"{name} must be on or off, got {value!r}", field=name)


@dataclass(frozen=True)
class Settings:
    """Where liveloop keeps its state and reads public data sets from."""

    home: Path = field(default_factory=lambda: Path("liveloop-data"))
    data_home: Path = field(default_factory=lambda: Path.home() / ".cache" / "liveloop" / "data")
    timezone: str = "Asia/Shanghai"
    currency: str = "CNY"
    secret_key: str | None = None
    #: DuckDB's memory limit (``LIVELOOP_DUCKDB_MEMORY``: ``50%`` of RAM by default, or ``4GB``…): the
    #: rest stays for the models and the server (DuckDB alone would take 80%).
    duckdb_memory: str = "50%"
    #: Purposes that need a grant before use (``LIVELOOP_CONSENT_OPT_IN``, comma-separated); the others are
    #: part of the service until the user says no.
    consent_opt_in: tuple[str, ...] = ("marketing", "sharing")
    #: Whether a server without a comment model trains one in the background on first use
    #: (``LIVELOOP_NLP_AUTOTRAIN``, on by default; ``off``: live rooms answer 503 until `liveloop nlp train`).
    nlp_autotrain: bool = True
    #: Whether live Q&A may use e5 sentence embeddings (``LIVELOOP_EMBEDDINGS``, on by default; ``off``:
    #: lexical similarity only). Read again where used (:func:`liveloop.live.embeddings.enabled`); here
    #: so that a bad value stops ``serve`` and every command at once.
    embeddings: bool = True
    #: Where ``--engine spark`` runs (``LIVELOOP_SPARK_MASTER``): ``local[2]`` on this machine, or a
    #: cluster's ``spark://host:7077``.
    spark_master: str = "local[2]"
    #: Redis for the state several server processes share (``LIVELOOP_REDIS_URL``, e.g.
    #: ``redis://127.0.0.1:6379/0``): the failed-key limiter and Idempotency-Key responses. None: in-process.
    redis_url: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        defaults = cls()
        return cls(
            home=Path(env.get("LIVELOOP_HOME", str(defaults.home))),
            data_home=Path(env.get("LIVELOOP_DATA_HOME", str(defaults.data_home))),
            timezone=env.get("LIVELOOP_TIMEZONE", defaults.timezone),
            currency=env.get("LIVELOOP_CURRENCY", defaults.currency),
            secret_key=env.get("LIVELOOP_SECRET_KEY") or None,
            duckdb_memory=env.get("LIVELOOP_DUCKDB_MEMORY") or defaults.duckdb_memory,
            consent_opt_in=tuple(
                p.strip()
                for p in env.get("LIVELOOP_CONSENT_OPT_IN", ",".join(defaults.consent_opt_in)).split(",")
                if p.strip()
            ),
            nlp_autotrain=env_switch("LIVELOOP_NLP_AUTOTRAIN", defaults.nlp_autotrain, env),
            embeddings=env_switch("LIVELOOP_EMBEDDINGS", defaults.embeddings, env),
            spark_master=env.get("LIVELOOP_SPARK_MASTER") or defaults.spark_master,
            redis_url=env.get("LIVELOOP_REDIS_URL") or None,
        )

    @property
    def currency_symbol(self) -> str:
        """``¥`` for CNY (the default), ``$`` for USD …; an unknown code followed by a space."""
        return CURRENCY_SYMBOLS.get(self.currency.upper(), f"{self.currency} ")

    def money(self, amount: float | None) -> str:
        """An amount as shown to people: ``¥1,691.08``; ``—`` when there is none."""
        return "—" if amount is None else f"{self.currency_symbol}{float(amount):,.2f}"

    @property
    def db_path(self) -> Path:
        return self.home / "liveloop.duckdb"

    @property
    def key_path(self) -> Path:
        return self.home / "secret.key"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def lake_dir(self) -> Path:
        """The Parquet lake ``--engine spark`` reads (refreshed from the warehouse before each run)."""
        return self.home / "lake"

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"


def get_settings() -> Settings:
    """Settings from the current environment (read afresh on each call; cheap)."""
    return Settings.from_env()
