"""Campaigns: audiences, channels, policies, send time, uplift, delivery through a durable outbox, and
results against a holdout. The faces call :mod:`.audiences`, :mod:`.engine`, :mod:`.outbox`,
:mod:`.inbound` and :mod:`.report`."""

from liveloop.campaigns import coupons, engine, sendtime  # coupons registers its explainers

engine.register_preferences(sendtime.preferences)

__all__ = ["coupons", "engine", "sendtime"]
