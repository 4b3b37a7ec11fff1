"""Versioned schema migrations. Append new versions; never edit a released one."""

from __future__ import annotations

V1 = """
CREATE TABLE users (
    user_id      VARCHAR PRIMARY KEY,
    signup_ts    TIMESTAMPTZ,
    gender       VARCHAR,
    age_band     VARCHAR,
    region       VARCHAR,
    city_tier    INTEGER,
    phone_enc    BLOB,
    email_enc    BLOB,
    name_enc     BLOB,
    phone_index  VARCHAR,
    email_index  VARCHAR,
    non_personalised BOOLEAN NOT NULL DEFAULT FALSE,
    props        JSON,
    source       VARCHAR,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE products (
    product_id   VARCHAR PRIMARY KEY,
    title        VARCHAR,
    title_en     VARCHAR,
    category     VARCHAR,
    brand        VARCHAR,
    price        DECIMAL(18,2),
    currency     VARCHAR NOT NULL DEFAULT 'CNY',
    cost         DECIMAL(18,2),
    stock        INTEGER,
    attributes   JSON,
    source       VARCHAR,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE hosts (
    host_id      VARCHAR PRIMARY KEY,
    name         VARCHAR,
    category     VARCHAR,
    props        JSON,
    source       VARCHAR,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE live_sessions (
    session_id   VARCHAR PRIMARY KEY,
    host_id      VARCHAR,
    title        VARCHAR,
    start_ts     TIMESTAMPTZ,
    end_ts       TIMESTAMPTZ,
    lineup       VARCHAR[],
    props        JSON,
    source       VARCHAR,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE events (
    event_id     VARCHAR NOT NULL,
    ts           TIMESTAMPTZ NOT NULL,
    user_id      VARCHAR NOT NULL,
    type         VARCHAR NOT NULL,
    session_id   VARCHAR,
    product_id   VARCHAR,
    category     VARCHAR,
    channel      VARCHAR,
    amount       DECIMAL(18,2),
    quantity     INTEGER,
    text         VARCHAR,
    props        JSON,
    source       VARCHAR,
    ingested_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE orders (
    order_id     VARCHAR PRIMARY KEY,
    user_id      VARCHAR NOT NULL,
    ts           TIMESTAMPTZ NOT NULL,
    status       VARCHAR NOT NULL DEFAULT 'paid',
    amount       DECIMAL(18,2) NOT NULL,
    currency     VARCHAR NOT NULL DEFAULT 'CNY',
    session_id   VARCHAR,
    channel      VARCHAR,
    coupon_id    VARCHAR,
    source       VARCHAR
);
CREATE TABLE order_items (
    order_id     VARCHAR NOT NULL,
    line_no      INTEGER NOT NULL,
    product_id   VARCHAR NOT NULL,
    quantity     INTEGER NOT NULL,
    unit_price   DECIMAL(18,2) NOT NULL,
    amount       DECIMAL(18,2) NOT NULL,
    source       VARCHAR,
    PRIMARY KEY (order_id, line_no)
);
CREATE TABLE comments (
    comment_id   VARCHAR PRIMARY KEY,
    session_id   VARCHAR,
    user_id      VARCHAR,
    ts           TIMESTAMPTZ NOT NULL,
    text         VARCHAR NOT NULL,
    lang         VARCHAR,
    sentiment    VARCHAR,
    sentiment_score DOUBLE,
    intent       VARCHAR,
    aspects      VARCHAR[],
    product_mention VARCHAR,
    source       VARCHAR
);
CREATE TABLE consents (
    user_id      VARCHAR NOT NULL,
    purpose      VARCHAR NOT NULL,
    channel      VARCHAR NOT NULL,
    granted      BOOLEAN NOT NULL,
    ts           TIMESTAMPTZ NOT NULL,
    source       VARCHAR,
    PRIMARY KEY (user_id, purpose, channel)
);
CREATE TABLE campaigns (
    campaign_id  VARCHAR PRIMARY KEY,
    name         VARCHAR NOT NULL,
    status       VARCHAR NOT NULL DEFAULT 'draft',
    channel      VARCHAR,
    segment_id   VARCHAR,
    start_ts     TIMESTAMPTZ,
    end_ts       TIMESTAMPTZ,
    budget       DECIMAL(18,2),
    props        JSON,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE messages (
    message_id   VARCHAR PRIMARY KEY,
    campaign_id  VARCHAR,
    user_id      VARCHAR NOT NULL,
    channel      VARCHAR NOT NULL,
    status       VARCHAR NOT NULL,
    content      VARCHAR,
    reason       VARCHAR,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at      TIMESTAMPTZ,
    opened_at    TIMESTAMPTZ,
    clicked_at   TIMESTAMPTZ
);
CREATE TABLE coupons (
    coupon_id    VARCHAR PRIMARY KEY,
    name         VARCHAR NOT NULL,
    rule         VARCHAR NOT NULL,
    amount       DECIMAL(18,2),
    percent_off  DOUBLE,
    min_spend    DECIMAL(18,2),
    starts_at    TIMESTAMPTZ,
    ends_at      TIMESTAMPTZ,
    props        JSON
);
CREATE SEQUENCE audit_seq;
CREATE TABLE audit_log (
    audit_id     BIGINT PRIMARY KEY DEFAULT nextval('audit_seq'),
    ts           TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor        VARCHAR,
    action       VARCHAR NOT NULL,
    subject      VARCHAR,
    decision     VARCHAR,
    reason       VARCHAR,
    details      JSON
);
CREATE SEQUENCE quarantine_seq;
CREATE TABLE quarantine (
    quarantine_id BIGINT PRIMARY KEY DEFAULT nextval('quarantine_seq'),
    import_id    VARCHAR,
    target_table VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,
    line         BIGINT,
    raw          VARCHAR,
    reason       VARCHAR NOT NULL,
    field        VARCHAR,
    fingerprint  VARCHAR NOT NULL,
    status       VARCHAR NOT NULL DEFAULT 'open',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE imports (
    import_id    VARCHAR PRIMARY KEY,
    source       VARCHAR NOT NULL,
    adapter      VARCHAR NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at  TIMESTAMPTZ,
    status       VARCHAR NOT NULL DEFAULT 'running',
    rows_read    BIGINT NOT NULL DEFAULT 0,
    loaded       BIGINT NOT NULL DEFAULT 0,
    duplicates   BIGINT NOT NULL DEFAULT 0,
    quarantined  BIGINT NOT NULL DEFAULT 0,
    report       JSON
);
CREATE TABLE label_map (
    kind         VARCHAR NOT NULL,
    raw          VARCHAR NOT NULL,
    canonical    VARCHAR NOT NULL,
    PRIMARY KEY (kind, raw)
);
CREATE TABLE api_keys (
    key_id       VARCHAR PRIMARY KEY,
    name         VARCHAR NOT NULL,
    role         VARCHAR NOT NULL,
    hash         VARCHAR NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ
);
CREATE TABLE model_versions (
    name         VARCHAR NOT NULL,
    version      VARCHAR NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    active       BOOLEAN NOT NULL DEFAULT FALSE,
    path         VARCHAR,
    metrics      JSON,
    params       JSON,
    data_window  VARCHAR,
    PRIMARY KEY (name, version)
);
"""

V2_PROFILES = """
CREATE TABLE tag_overrides (
    user_id      VARCHAR NOT NULL,
    tag          VARCHAR NOT NULL,
    action       VARCHAR NOT NULL DEFAULT 'removed',
    actor        VARCHAR,
    ts           TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, tag)
);
CREATE TABLE profiles (
    user_id      VARCHAR PRIMARY KEY,
    features     JSON,
    tags         VARCHAR[],
    value_tier   VARCHAR,
    lifecycle    VARCHAR,
    segment_id   VARCHAR,
    scores       JSON,
    data_window  VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    built_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE segments (
    segment_id   VARCHAR PRIMARY KEY,
    name_zh      VARCHAR NOT NULL,
    name_en      VARCHAR NOT NULL,
    description  VARCHAR,
    size         BIGINT NOT NULL,
    centroid     JSON,
    stats        JSON,
    data_window  VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    built_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""

V3_INGEST = """
ALTER TABLE quarantine ADD COLUMN feed VARCHAR;
"""

V4_LIVE = """
CREATE TABLE live_minutes (
    session_id   VARCHAR NOT NULL,
    minute       TIMESTAMPTZ NOT NULL,
    viewers      INTEGER,
    comments     INTEGER NOT NULL DEFAULT 0,
    positive     INTEGER NOT NULL DEFAULT 0,
    negative     INTEGER NOT NULL DEFAULT 0,
    neutral      INTEGER NOT NULL DEFAULT 0,
    sentiment_index DOUBLE,
    questions    INTEGER NOT NULL DEFAULT 0,
    likes        INTEGER NOT NULL DEFAULT 0,
    enters       INTEGER NOT NULL DEFAULT 0,
    leaves       INTEGER NOT NULL DEFAULT 0,
    shares       INTEGER NOT NULL DEFAULT 0,
    follows      INTEGER NOT NULL DEFAULT 0,
    gifts        INTEGER NOT NULL DEFAULT 0,
    gift_value   DECIMAL(18,2) NOT NULL DEFAULT 0,
    clicks       INTEGER NOT NULL DEFAULT 0,
    carts        INTEGER NOT NULL DEFAULT 0,
    purchases    INTEGER NOT NULL DEFAULT 0,
    gmv          DECIMAL(18,2) NOT NULL DEFAULT 0,
    on_stage     VARCHAR,
    PRIMARY KEY (session_id, minute)
);
CREATE TABLE live_questions (
    session_id   VARCHAR NOT NULL,
    group_id     VARCHAR NOT NULL,
    text         VARCHAR NOT NULL,
    intent       VARCHAR,
    product_id   VARCHAR,
    asks         INTEGER NOT NULL,
    askers       INTEGER NOT NULL,
    first_ts     TIMESTAMPTZ,
    last_ts      TIMESTAMPTZ,
    status       VARCHAR NOT NULL,
    answer       VARCHAR,
    confidence   DOUBLE,
    entry_id     VARCHAR,
    reason       VARCHAR,
    PRIMARY KEY (session_id, group_id)
);
CREATE TABLE live_alerts (
    session_id   VARCHAR NOT NULL,
    ts           TIMESTAMPTZ NOT NULL,
    kind         VARCHAR NOT NULL,
    subject      VARCHAR NOT NULL,
    severity     VARCHAR NOT NULL,
    message      VARCHAR NOT NULL,
    PRIMARY KEY (session_id, kind, subject)
);
CREATE TABLE live_draws (
    session_id   VARCHAR NOT NULL,
    ts           TIMESTAMPTZ NOT NULL DEFAULT now(),
    seed         BIGINT NOT NULL,
    candidates   INTEGER NOT NULL,
    eligible     INTEGER NOT NULL,
    digest       VARCHAR NOT NULL,
    rules        JSON,
    winners      JSON,
    actor        VARCHAR,
    PRIMARY KEY (session_id, seed, digest)
);
CREATE TABLE live_summaries (
    session_id   VARCHAR PRIMARY KEY,
    start_ts     TIMESTAMPTZ,
    end_ts       TIMESTAMPTZ,
    ended_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    summary      JSON NOT NULL
);
"""

V5_CONSENT = """
CREATE TABLE consent_history (
    consent_id   VARCHAR PRIMARY KEY,
    user_id      VARCHAR NOT NULL,
    purpose      VARCHAR NOT NULL,
    channel      VARCHAR NOT NULL DEFAULT 'all',
    status       VARCHAR NOT NULL,
    ts           TIMESTAMPTZ NOT NULL,
    source       VARCHAR,
    proof        VARCHAR,
    recorded_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO consent_history (consent_id, user_id, purpose, channel, status, ts, source)
SELECT 'cs_' || left(md5(concat_ws(chr(31), user_id, purpose, channel, granted, ts)), 24), user_id, purpose,
       channel, CASE WHEN granted THEN 'granted' ELSE 'denied' END, ts, source
FROM consents;
DROP TABLE consents;
ALTER TABLE consent_history RENAME TO consents;
"""

V6_PRIVACY = """
CREATE TABLE lake_exports (
    path         VARCHAR PRIMARY KEY,
    exported_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE retention_policies (
    table_name   VARCHAR PRIMARY KEY,
    days         INTEGER NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by   VARCHAR
);
"""

V7_CAMPAIGNS = """
CREATE TABLE audiences (
    audience_id  VARCHAR PRIMARY KEY,
    name         VARCHAR NOT NULL,
    definition   JSON NOT NULL,
    created_by   VARCHAR,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
ALTER TABLE campaigns ADD COLUMN audience_id VARCHAR;
ALTER TABLE campaigns ADD COLUMN created_by VARCHAR;
ALTER TABLE campaigns ADD COLUMN approved_by VARCHAR;
ALTER TABLE campaigns ADD COLUMN approved_at TIMESTAMPTZ;
ALTER TABLE campaigns ADD COLUMN launched_at TIMESTAMPTZ;
ALTER TABLE campaigns ADD COLUMN done_at TIMESTAMPTZ;
ALTER TABLE messages ADD COLUMN grp VARCHAR NOT NULL DEFAULT 'treatment';
ALTER TABLE messages ADD COLUMN scheduled_at TIMESTAMPTZ;
ALTER TABLE messages ADD COLUMN next_attempt_at TIMESTAMPTZ;
ALTER TABLE messages ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN last_error VARCHAR;
ALTER TABLE messages ADD COLUMN send_reason VARCHAR;
ALTER TABLE messages ADD COLUMN delivered_at TIMESTAMPTZ;
ALTER TABLE messages ADD COLUMN bounced_at TIMESTAMPTZ;
ALTER TABLE messages ADD COLUMN complained_at TIMESTAMPTZ;
ALTER TABLE messages ADD COLUMN unsubscribed_at TIMESTAMPTZ;
ALTER TABLE messages ADD COLUMN source VARCHAR;
CREATE TABLE suppressions (
    user_id      VARCHAR NOT NULL,
    channel      VARCHAR NOT NULL DEFAULT 'all',
    reason       VARCHAR NOT NULL,
    ts           TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor        VARCHAR,
    PRIMARY KEY (user_id, channel)
);
CREATE TABLE channel_providers (
    channel      VARCHAR PRIMARY KEY,
    kind         VARCHAR NOT NULL,
    config       JSON NOT NULL,
    secret_enc   BLOB,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by   VARCHAR
);
"""

V8_JOURNEYS_COUPONS = """
CREATE TABLE journeys (
    journey_id   VARCHAR PRIMARY KEY,
    name         VARCHAR NOT NULL,
    status       VARCHAR NOT NULL DEFAULT 'draft',
    definition   JSON NOT NULL,
    created_by   VARCHAR,
    approved_by  VARCHAR,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    activated_at TIMESTAMPTZ,
    checked_to   TIMESTAMPTZ
);
CREATE TABLE journey_runs (
    journey_id   VARCHAR NOT NULL,
    user_id      VARCHAR NOT NULL,
    entered_at   TIMESTAMPTZ NOT NULL,
    grp          VARCHAR NOT NULL,
    step         INTEGER NOT NULL DEFAULT 0,
    state        VARCHAR NOT NULL,
    next_at      TIMESTAMPTZ,
    exit_reason  VARCHAR,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (journey_id, user_id)
);
ALTER TABLE coupons ADD COLUMN status VARCHAR NOT NULL DEFAULT 'active';
ALTER TABLE coupons ADD COLUMN budget DECIMAL(18,2);
ALTER TABLE coupons ADD COLUMN max_grants INTEGER;
ALTER TABLE coupons ADD COLUMN valid_days INTEGER;
ALTER TABLE coupons ADD COLUMN eligibility VARCHAR;
ALTER TABLE coupons ADD COLUMN created_by VARCHAR;
ALTER TABLE coupons ADD COLUMN created_at TIMESTAMPTZ;
CREATE TABLE coupon_grants (
    grant_id     VARCHAR PRIMARY KEY,
    coupon_id    VARCHAR NOT NULL,
    user_id      VARCHAR NOT NULL,
    source       VARCHAR,
    issued_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ,
    status       VARCHAR NOT NULL DEFAULT 'issued',
    redeemed_at  TIMESTAMPTZ,
    order_id     VARCHAR,
    discount     DECIMAL(18,2)
);
"""

V9_KPI_TARGETS = """
CREATE TABLE kpi_targets (
    metric       VARCHAR NOT NULL,
    grain        VARCHAR NOT NULL DEFAULT 'platform',
    key          VARCHAR NOT NULL DEFAULT 'all',
    period       VARCHAR NOT NULL,
    target       DOUBLE NOT NULL,
    low          DOUBLE,
    high         DOUBLE,
    note         VARCHAR,
    updated_by   VARCHAR,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (metric, grain, key, period)
);
"""

V10_COSTS = """
CREATE TABLE costs (
    cost_id      VARCHAR PRIMARY KEY,
    day          TIMESTAMPTZ NOT NULL,
    channel      VARCHAR NOT NULL,
    campaign_id  VARCHAR,
    session_id   VARCHAR,
    amount       DECIMAL(18,2) NOT NULL,
    currency     VARCHAR,
    source       VARCHAR
);
"""

V11_REPORTS = """
CREATE TABLE reports (
    report_id    VARCHAR PRIMARY KEY,
    kind         VARCHAR NOT NULL,
    subject      VARCHAR NOT NULL,
    period_start TIMESTAMPTZ,
    period_end   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by   VARCHAR,
    schedule_id  VARCHAR,
    data         JSON NOT NULL
);
CREATE TABLE report_files (
    report_id    VARCHAR NOT NULL,
    lang         VARCHAR NOT NULL,
    format       VARCHAR NOT NULL,
    body         BLOB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (report_id, lang, format)
);
CREATE TABLE report_schedules (
    schedule_id  VARCHAR PRIMARY KEY,
    kind         VARCHAR NOT NULL,
    every_s      BIGINT,
    lang         VARCHAR NOT NULL,
    recipients   BLOB,
    active       BOOLEAN NOT NULL DEFAULT true,
    next_run_at  TIMESTAMPTZ NOT NULL,
    last_run_at  TIMESTAMPTZ,
    last_status  VARCHAR,
    created_by   VARCHAR,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""

V12_KPI_ROLLUP = """
CREATE TABLE kpi_rollup_state (
    tz              VARCHAR PRIMARY KEY,
    events_ingested TIMESTAMPTZ,
    refreshed_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    refresh         VARCHAR NOT NULL,
    days_rebuilt    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE kpi_rollup_days (
    tz              VARCHAR NOT NULL,
    day             VARCHAR NOT NULL,
    events_all      BIGINT NOT NULL DEFAULT 0,
    events          BIGINT NOT NULL DEFAULT 0,
    room_views      BIGINT NOT NULL DEFAULT 0,
    impressions     BIGINT NOT NULL DEFAULT 0,
    product_clicks  BIGINT NOT NULL DEFAULT 0,
    viewers         BIGINT NOT NULL DEFAULT 0,
    orders_rows     BIGINT NOT NULL DEFAULT 0,
    orders_fp       BIGINT NOT NULL DEFAULT 0,
    gmv             DECIMAL(18,2) NOT NULL DEFAULT 0,
    orders          BIGINT NOT NULL DEFAULT 0,
    buyers          BIGINT NOT NULL DEFAULT 0,
    refunded_orders BIGINT NOT NULL DEFAULT 0,
    placed_orders   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tz, day)
);
CREATE TABLE kpi_rollup_users (
    tz              VARCHAR NOT NULL,
    day             VARCHAR NOT NULL,
    user_id         VARCHAR NOT NULL,
    room_views      BIGINT NOT NULL,
    paid_orders     BIGINT NOT NULL,
    first_entry     TIMESTAMPTZ,
    last_entry      TIMESTAMPTZ,
    first_paid      TIMESTAMPTZ,
    last_paid       TIMESTAMPTZ
);
"""

V13_EXPERIMENTS = """
CREATE TABLE experiment_layers (
    layer        VARCHAR PRIMARY KEY,
    salt         VARCHAR NOT NULL,
    holdout      DOUBLE NOT NULL DEFAULT 0,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE experiments (
    experiment_id VARCHAR PRIMARY KEY,
    name          VARCHAR NOT NULL,
    target        VARCHAR NOT NULL,
    layer         VARCHAR NOT NULL,
    salt          VARCHAR NOT NULL,
    traffic       DOUBLE NOT NULL,
    bucket_lo     INTEGER NOT NULL,
    bucket_hi     INTEGER NOT NULL,
    arms          JSON NOT NULL,
    metrics       JSON NOT NULL,
    guardrails    JSON NOT NULL,
    settings      JSON NOT NULL,
    status        VARCHAR NOT NULL,
    stopped_arms  JSON NOT NULL,
    created_by    VARCHAR,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    stopped_at    TIMESTAMPTZ
);
CREATE TABLE exposures (
    experiment_id VARCHAR NOT NULL,
    user_id       VARCHAR NOT NULL,
    arm           VARCHAR NOT NULL,
    ts            TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (experiment_id, user_id)
);
"""

V14_RISK = """
CREATE TABLE risk_flags (
    flag_id      VARCHAR PRIMARY KEY,
    kind         VARCHAR NOT NULL,
    subject_type VARCHAR NOT NULL,
    subject      VARCHAR NOT NULL,
    user_id      VARCHAR,
    session_id   VARCHAR,
    score        DOUBLE NOT NULL,
    evidence     JSON NOT NULL,
    fingerprint  VARCHAR NOT NULL,
    status       VARCHAR NOT NULL DEFAULT 'open',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    reviewed_by  VARCHAR,
    reviewed_at  TIMESTAMPTZ,
    review_note  VARCHAR
);
CREATE TABLE risk_flag_members (
    flag_id      VARCHAR NOT NULL,
    user_id      VARCHAR NOT NULL,
    item_type    VARCHAR NOT NULL,
    item_id      VARCHAR NOT NULL,
    ts           TIMESTAMPTZ,
    detail       VARCHAR,
    PRIMARY KEY (flag_id, item_type, item_id)
);
"""

V15_PRICES = """
CREATE TABLE prices (
    price_id     VARCHAR PRIMARY KEY,
    product_id   VARCHAR NOT NULL,
    start_ts     TIMESTAMPTZ NOT NULL,
    end_ts       TIMESTAMPTZ,
    price        DECIMAL(18,2) NOT NULL,
    currency     VARCHAR NOT NULL DEFAULT 'CNY',
    kind         VARCHAR NOT NULL DEFAULT 'list',
    session_id   VARCHAR,
    was_price    DECIMAL(18,2),
    reason       VARCHAR,
    created_by   VARCHAR,
    source       VARCHAR
);
CREATE TABLE elasticity_fits (
    fit_id       VARCHAR PRIMARY KEY,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    context      VARCHAR NOT NULL,
    window_start TIMESTAMPTZ,
    window_end   TIMESTAMPTZ,
    result       JSON NOT NULL
);
CREATE TABLE competitor_prices (
    observation_id VARCHAR PRIMARY KEY,
    product_id   VARCHAR NOT NULL,
    competitor   VARCHAR NOT NULL,
    ts           TIMESTAMPTZ NOT NULL,
    price        DECIMAL(18,2) NOT NULL,
    currency     VARCHAR NOT NULL DEFAULT 'CNY',
    source       VARCHAR
);
"""

V16_OFFERS = """
CREATE TABLE offer_policies (
    policy_id    VARCHAR PRIMARY KEY,
    name         VARCHAR NOT NULL,
    segments     JSON NOT NULL,
    offers       JSON NOT NULL,
    objective    VARCHAR NOT NULL DEFAULT 'profit',
    budget       DECIMAL(18,2),
    rounds       INTEGER NOT NULL,
    round_days   INTEGER NOT NULL DEFAULT 1,
    status       VARCHAR NOT NULL DEFAULT 'active',
    state        JSON NOT NULL,
    created_by   VARCHAR,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE offer_rounds (
    policy_id    VARCHAR NOT NULL,
    round_no     INTEGER NOT NULL,
    segment      VARCHAR NOT NULL,
    offer        INTEGER NOT NULL,
    coupon_id    VARCHAR,
    starts_at    TIMESTAMPTZ NOT NULL,
    ends_at      TIMESTAMPTZ NOT NULL,
    members      INTEGER,
    exposures    INTEGER,
    value        DOUBLE,
    spend        DOUBLE,
    measured_at  TIMESTAMPTZ,
    PRIMARY KEY (policy_id, round_no, segment)
);
"""

V17_BUDGET = """
CREATE TABLE ad_spend (
    day          DATE NOT NULL,
    channel      VARCHAR NOT NULL,
    spend        DOUBLE NOT NULL,
    source       VARCHAR,
    PRIMARY KEY (day, channel)
);
CREATE TABLE budget_plans (
    plan_id      VARCHAR PRIMARY KEY,
    name         VARCHAR NOT NULL,
    starts       DATE NOT NULL,
    ends         DATE NOT NULL,
    total        DOUBLE NOT NULL,
    objective    VARCHAR NOT NULL,
    target_roi   DOUBLE,
    lines        JSON NOT NULL,
    model        JSON NOT NULL,
    expected     JSON NOT NULL,
    created_by   VARCHAR,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""

#: (version, description, SQL). The warehouse's schema version is the highest applied.
MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "core tables of DESIGN.md section 3", V1),
    (2, "profiles: tag overrides, derived profiles and segments", V2_PROFILES),
    (3, "ingest: quarantine.feed, the adapter feed that reads a quarantined row back", V3_INGEST),
    (4, "live: per-minute room snapshots, question groups, alerts, draws, session summaries", V4_LIVE),
    (5, "privacy: consents become a history (granted/denied/revoked, proof); the latest rules", V5_CONSENT),
    (
        6,
        "privacy: where Parquet lakes were exported (an erasure rewrites them), retention policies",
        V6_PRIVACY,
    ),
    (
        7,
        "campaigns: audiences, campaign approvals, the message outbox's delivery columns, suppressions, "
        "channel providers",
        V7_CAMPAIGNS,
    ),
    (
        8,
        "journeys and their runs; coupons get status, budget, caps, validity and eligibility; coupon grants",
        V8_JOURNEYS_COUPONS,
    ),
    (9, "measurement: KPI targets and their acceptable ranges per period", V9_KPI_TARGETS),
    (10, "measurement: marketing costs per day, channel, campaign and session (importable)", V10_COSTS),
    (11, "reports: the archive (data, rendered files) and the delivery schedules", V11_REPORTS),
    (
        12,
        "measurement: the KPI rollup per local day (and per day and user, for exact unique counts), "
        "refreshed incrementally by analytics.rollups",
        V12_KPI_ROLLUP,
    ),
    (
        13,
        "experiments: layers (salt, holdout), definitions (arms, bucket range, metrics, guardrails), "
        "first exposure per user",
        V13_EXPERIMENTS,
    ),
    (
        14,
        "risk: the review queue of risk flags (kind, subject, score, evidence, open/confirmed/dismissed) "
        "and the accounts and items each flag names (a user_id column, so erasure removes them)",
        V14_RISK,
    ),
    (
        15,
        "pricing: the price history (list, festival, live-slot and applied prices, with the was-price "
        "shown), "
        "observed competitor prices (importable) and the fitted elasticities",
        V15_PRICES,
    ),
    (
        16,
        "offers: coupon offer policies per published segment (the bandit's state) and their rounds "
        "(the offer each segment got, its exposures, value and coupon spend)",
        V16_OFFERS,
    ),
    (
        17,
        "budget: daily paid-media spend per channel (importable; the simulator writes it) and budget plans "
        "(the allocation per channel with the fitted response curves it rests on)",
        V17_BUDGET,
    ),
]

LATEST_VERSION = MIGRATIONS[-1][0]
