"""The market simulator: a live-commerce world with known ground truth (never presented as real data).

``simulate_to_dir`` writes liveloop's native tables as Parquet plus a separate ``truth/`` folder;
``simulate_into_warehouse`` imports the tables through ``liveloop.ingest``; ``Oracle`` answers what the
truth is (purchase probabilities, elasticities, coupon effects, relevance, message responses and uplift
types).
"""

from liveloop.datasets.simulator.config import SCALES, ModelParams, SimConfig
from liveloop.datasets.simulator.into_warehouse import simulate_into_warehouse, simulator_dir
from liveloop.datasets.simulator.oracle import Oracle
from liveloop.datasets.simulator.run import TABLES, TRUTH_TABLES, generate, simulate_to_dir, writable_dir

__all__ = [
    "SCALES",
    "TABLES",
    "TRUTH_TABLES",
    "ModelParams",
    "Oracle",
    "SimConfig",
    "generate",
    "simulate_into_warehouse",
    "simulate_to_dir",
    "simulator_dir",
    "writable_dir",
]
