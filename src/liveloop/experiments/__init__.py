"""Experiments: hashed, sticky assignment with layers and holdouts (:mod:`.assignment`), definitions and
first exposures in the warehouse (:mod:`.store`), arms at serving time (:mod:`.serving`) and the
statistics (:mod:`.stats`: delta method, CUPED, sequential intervals, SRM, corrections, power). Results
over the KPI registry are :mod:`liveloop.analytics.experiments`."""

from liveloop.experiments import stats, store
from liveloop.experiments.serving import ArmRouter
from liveloop.experiments.store import Experiment, ExperimentSpec

__all__ = ["ArmRouter", "Experiment", "ExperimentSpec", "stats", "store"]
