"""The market simulator: a live-commerce world with known ground truth (never presented as real data)."""

from liveloop.datasets.simulator.into_warehouse import simulate_into_warehouse

__all__ = ["simulate_into_warehouse"]
