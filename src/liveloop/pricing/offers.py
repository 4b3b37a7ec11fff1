"""Offers that learn: one published coupon offer per segment and round, chosen by Thompson sampling under
a budget.

Lawful by construction (DESIGN.md §8.2): the only context is the published segment a user is in, and
everyone in a segment gets the same offer in a round — a user's spending level or willingness to pay can
never reach the choice (:func:`offer_for` takes a segment, not a user).

Each (segment, offer) keeps the profit and coupon spend per exposure (a member's product view: traffic
swings from day to day, so per-view figures compare offers of different days) of the rounds it was chosen
in. The offers' effects are pooled across segments as relative lifts over each segment's control
(empirical Bayes), so what an offer did in one segment is the prior of the others (:meth:`posterior`). A
round draws each offer's mean from that posterior and picks the best after charging ``λ`` per yuan of
coupon spend; ``λ`` rises when spend runs ahead of the budget's even pace over the remaining rounds and
falls when it lags (the primal-dual rule of bandits with knapsacks, Badanidiyuru et al. 2013). A round
whose expected spend would overrun what is left of the budget, or run well ahead of its even pace, falls
back segment by segment to cheaper tried offers (the control, index 0: no coupon, last). Each segment's
control goes first; an offer no segment has tried is tried in the largest segment alone, cheapest first,
priced from its nominal depth until seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from liveloop.core.errors import ValidationFailed

#: Step of the budget multiplier per round, relative to the pace's error.
LAMBDA_STEP = 0.5
#: Rounds of an offer in a segment before its own variance is trusted over the pooled one.
MIN_ROUNDS_FOR_VARIANCE = 2
#: The guard's default per objective: a profit policy never falls more than 1 % behind no coupon while it
#: learns (a business default; docs/benchmarks/pricing.md says which simulated worlds were seen before it was
#: set); a GMV policy is unguarded (a coupon seldom lowers GMV, and the guard's caution slows it).
DEFAULT_MAX_LOSS: dict[str, float | None] = {"profit": 0.01, "gmv": None}
#: Least spread of an offer's relative lift between segments (segments may differ; few can't tell how much).
PRIOR_TAU = 0.1
#: A round's expected coupon spend must fit this many times into what is left of the budget.
BUDGET_RESERVE = 1.25
#: A round may spend up to this many times the budget's even pace over the remaining rounds.
PACE_SLACK = 3.0
#: Before any coupon was tried in a segment: spend per exposure ≈ this × depth × the control's value per
#: exposure (the coupon redeemed on purchases worth a few times the profit they leave).
COST_PRIOR = 2.5


@dataclass
class OfferBandit:
    """Thompson sampling over ``n_offers`` offers in each of ``n_segments`` segments (offer 0: control)."""

    n_segments: int
    n_offers: int
    budget: float | None = None
    rounds: int | None = None
    seed: int = 0
    #: each offer's nominal depth (the share of the price it takes off; 0 for the control), for pricing
    #: an offer not yet tried against the budget
    depth: tuple[float, ...] | None = None
    lam: float = 0.0
    spent: float = 0.0
    played: int = 0
    #: the most the policy may fall behind "no coupon" while it learns, as a share of what no coupon would
    #: have earned so far (conservative bandits, Wu et al. 2016); None: no such guard
    max_loss: float | None = None
    earned: float = 0.0
    n: np.ndarray = field(init=False)
    exposed: np.ndarray = field(init=False)
    sum_y: np.ndarray = field(init=False)
    sum_y2: np.ndarray = field(init=False)
    sum_c: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        if self.n_segments < 1 or self.n_offers < 2:
            raise ValidationFailed("an offer policy needs a segment and at least two offers", field="offers")
        if self.budget is not None and (self.budget < 0 or not self.rounds or self.rounds < 1):
            raise ValidationFailed(
                "a budget needs a non-negative amount and a number of rounds", field="budget"
            )
        shape = (self.n_segments, self.n_offers)
        self.n, self.sum_y, self.sum_y2, self.sum_c = (np.zeros(shape) for _ in range(4))
        self.exposed = np.zeros(self.n_segments)
        if self.max_loss is not None and not 0 <= self.max_loss < 1:
            raise ValidationFailed("max_loss is a share between 0 and 1", field="max_loss")
        self._rng = np.random.default_rng([self.seed, 77])

    # -- posterior -------------------------------------------------------------------------
    def means(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean profit and coupon spend per exposure of every (segment, offer) (NaN: never tried)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sum_y / self.n, self.sum_c / self.n

    def _spread(self) -> np.ndarray:
        """Per segment, the round-to-round standard deviation of profit per exposure (pooled over offers)."""
        mean, _ = self.means()
        dev = np.where(
            self.n >= MIN_ROUNDS_FOR_VARIANCE, self.sum_y2 - self.n * np.nan_to_num(mean) ** 2, 0.0
        )
        dof = np.where(self.n >= MIN_ROUNDS_FOR_VARIANCE, self.n - 1, 0).sum(axis=1)
        pooled = np.sqrt(np.maximum(dev.sum(axis=1), 0.0) / np.maximum(dof, 1))
        # before two rounds of any offer: half the size of what was seen, so early draws stay spread
        tried = self.n > 0
        seen = np.abs(np.where(tried, mean, 0.0)).sum(axis=1) / np.maximum(tried.sum(axis=1), 1)
        scale = np.where(tried.any(axis=1), 0.5 * seen, 1.0)
        return np.where(dof > 0, np.maximum(pooled, 1e-9), np.maximum(scale, 1e-9))

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance of every (segment, offer)'s value per exposure, its own rounds combined with
        what the other segments saw (NaN: nothing known yet).

        The offers' effects are pooled across segments as *relative lifts* over each segment's control
        (``mean[s, a] / mean[s, 0] − 1``): their precision-weighted mean ``L[a]`` and their spread between
        segments ``τ[a]`` (method of moments, at least ``PRIOR_TAU``) give a
        segment the prior ``mean[s, 0] · (1 + L[a])`` — so an offer that lost money in one segment is not
        tried blind in every other one. Segments whose control earned nothing keep their own data only.
        """
        mean, _ = self.means()
        own_var = self._spread()[:, None] ** 2 / np.maximum(self.n, 1)
        base = mean[:, 0]
        usable = (self.n[:, 0] > 0) & (np.nan_to_num(base) > 0)
        post_mean = mean.copy()
        post_var = np.where(self.n > 0, own_var, np.nan)
        if not usable.any():
            return post_mean, post_var
        with np.errstate(invalid="ignore", divide="ignore"):
            lift = mean / base[:, None] - 1
            lift_var = (own_var + own_var[:, :1]) / base[:, None] ** 2
        has = usable[:, None] & (self.n > 0)
        for a in range(1, self.n_offers):
            rows = np.flatnonzero(has[:, a])
            if not len(rows):
                continue
            r, v = lift[rows, a], lift_var[rows, a]
            tau2 = PRIOR_TAU**2
            if len(rows) >= 2:
                tau2 = max(float(np.var(r, ddof=1) - np.mean(v)), tau2)
            w = 1 / (v + tau2)
            pooled, pooled_var = float(np.sum(w * r) / np.sum(w)), float(1 / np.sum(w))
            targets = np.flatnonzero(usable)
            prior_mean = base[targets] * (1 + pooled)
            prior_var = base[targets] ** 2 * (pooled_var + tau2) + own_var[targets, 0]
            tried = self.n[targets, a] > 0
            ov = own_var[targets, a]
            combined_var = np.where(tried, 1 / (1 / ov + 1 / prior_var), prior_var)
            combined_mean = np.where(
                tried,
                combined_var * (np.nan_to_num(mean[targets, a]) / ov + prior_mean / prior_var),
                prior_mean,
            )
            post_mean[targets, a], post_var[targets, a] = combined_mean, combined_var
        return post_mean, post_var

    def choose(self, exposures: np.ndarray) -> np.ndarray:
        """The offer of each segment for the next round (``exposures``: the segments' sizes this round).

        A segment's control goes first; an offer no segment has tried yet is tried in one segment per round
        (the largest, cheapest offer first); every other choice is a Thompson draw from :meth:`posterior`
        net of ``λ`` × its expected spend."""
        exposures = np.asarray(exposures, dtype=float)
        post_mean, post_var = self.posterior()
        known = np.isfinite(post_mean)
        draw = post_mean + self._rng.standard_normal(post_mean.shape) * np.sqrt(np.nan_to_num(post_var))
        score = np.where(known, draw - self.lam * self.unit_costs(), -np.inf)
        choice = np.where(known.any(axis=1), np.argmax(score, axis=1), 0).astype(np.int64)
        choice[self.n[:, 0] == 0] = 0
        new = np.flatnonzero(self.n.sum(axis=0) == 0)
        ready = np.flatnonzero(self.n[:, 0] > 0)
        if len(new) and len(ready):
            choice[ready[int(np.argmax(exposures[ready]))]] = new[0]
        choice = self._conservative(choice, exposures, post_mean, post_var)
        return self._within_budget(choice, exposures, score)

    def _conservative(
        self, choice: np.ndarray, exposures: np.ndarray, post_mean: np.ndarray, post_var: np.ndarray
    ) -> np.ndarray:
        """Back off to the control, stage by stage (the most doubtful choice first), until a pessimistic
        view of this round still keeps the policy's earnings within ``max_loss`` of what the control is
        (optimistically) believed to have earned over every round so far and this one."""
        if self.max_loss is None or not (choice > 0).any():
            return choice
        control = np.nan_to_num(post_mean[:, 0])
        control_up = control + np.sqrt(np.nan_to_num(post_var[:, 0]))
        depth = np.asarray(self.depth, dtype=float) if self.depth is not None else None
        # a choice's pessimistic value per exposure: its posterior mean less a s.d.; an offer no stage has
        # seen yet: the control less twice the share of the price it takes off (or a tenth without depth)
        lower = post_mean - np.sqrt(np.nan_to_num(post_var))
        unseen = np.isnan(post_mean)
        guess = control[:, None] * (1 - 2 * (depth[None, :] if depth is not None else 0.1))
        lower = np.where(unseen, guess, lower)
        baseline = float(self.exposed @ control + exposures @ control_up)
        floor = (1 - self.max_loss) * baseline
        rows = np.arange(self.n_segments)
        while (choice > 0).any():
            pessimistic = self.earned + float(exposures @ lower[rows, choice])
            if pessimistic >= floor:
                break
            at_risk = np.where(choice > 0, exposures * (control - lower[rows, choice]), -np.inf)
            choice[int(np.argmax(at_risk))] = 0
        return choice

    def unit_costs(self) -> np.ndarray:
        """Expected coupon spend per exposure of every (segment, offer): the mean seen, or for an offer
        never tried in the segment an estimate from its ``depth`` — scaled by the dearest spend per unit of
        depth seen there, or before any coupon was tried, ``COST_PRIOR`` × depth × the control's value per
        exposure."""
        mean, cost = self.means()
        if self.depth is None:
            seen = np.where(np.isnan(cost), -np.inf, cost).max(axis=1, initial=0.0)
            return np.where(np.isnan(cost), seen[:, None], cost)
        depth = np.asarray(self.depth, dtype=float)
        coupon = depth > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            per_depth = np.where(np.isnan(cost[:, coupon]), -np.inf, cost[:, coupon] / depth[coupon])
        rate = per_depth.max(axis=1, initial=-np.inf)
        prior = COST_PRIOR * np.abs(np.nan_to_num(mean[:, 0]))
        rate = np.where(np.isfinite(rate), rate, prior)
        return np.where(np.isnan(cost), rate[:, None] * depth[None, :], cost)

    def _within_budget(self, choice: np.ndarray, exposures: np.ndarray, score: np.ndarray) -> np.ndarray:
        """Fall back, segment by segment, to the next best tried offer (control last) until the round's
        expected spend fits both what is left of the budget and ``PACE_SLACK`` × its even pace."""
        if self.budget is None or self.rounds is None:
            return choice
        unit = self.unit_costs()
        left = max(self.budget - self.spent, 0.0)
        rounds_left = max(self.rounds - self.played, 1)
        allowance = min(left / BUDGET_RESERVE, PACE_SLACK * left / rounds_left)
        # each segment's fallbacks: tried offers by score, best first, the control always last
        order = [
            [int(k) for k in np.argsort(-score[s], kind="stable") if np.isfinite(score[s, k]) and k != 0]
            + [0]
            for s in range(self.n_segments)
        ]
        expected = exposures * unit[np.arange(self.n_segments), choice]
        while expected.sum() > allowance and (choice > 0).any():
            s_idx = np.flatnonzero(choice > 0)
            # give up the choice that loses least score per yuan of spend saved (an untried one first)
            nxt = np.array(
                [next(k for k in order[s] if unit[s, k] < unit[s, choice[s]] or k == 0) for s in s_idx]
            )
            saved = expected[s_idx] - exposures[s_idx] * unit[s_idx, nxt]
            loss = np.nan_to_num(score[s_idx, choice[s_idx]] - score[s_idx, nxt], nan=0.0, neginf=0.0)
            i = int(np.argmin(loss / np.maximum(saved, 1e-9)))
            s = s_idx[i]
            choice[s] = nxt[i]
            expected[s] = exposures[s] * unit[s, choice[s]]
        return choice

    def update(
        self, choice: np.ndarray, exposures: np.ndarray, profit: np.ndarray, spend: np.ndarray
    ) -> None:
        """Record a round: per segment its offer, exposures, and realised profit and coupon spend."""
        exposures = np.asarray(exposures, dtype=float)
        seen = exposures > 0
        s = np.flatnonzero(seen)
        a = np.asarray(choice)[s]
        y = np.asarray(profit, dtype=float)[s] / exposures[s]
        c = np.asarray(spend, dtype=float)[s] / exposures[s]
        np.add.at(self.n, (s, a), 1)
        np.add.at(self.sum_y, (s, a), y)
        np.add.at(self.sum_y2, (s, a), y * y)
        np.add.at(self.sum_c, (s, a), c)
        self.exposed[s] += exposures[s]
        self.earned += float(np.sum(np.asarray(profit, dtype=float)))
        round_spend = float(np.sum(np.asarray(spend, dtype=float)))
        self.spent += round_spend
        self.played += 1
        if self.budget is not None and self.rounds:
            rounds_left = max(self.rounds - self.played + 1, 1)
            pace = max((self.budget - self.spent + round_spend) / rounds_left, 1e-9)
            self.lam = max(0.0, self.lam + LAMBDA_STEP * (round_spend - pace) / pace)

    def to_state(self) -> dict[str, object]:
        """The sufficient statistics, JSON-ready (:meth:`from_state` restores them)."""
        return {
            "n_segments": self.n_segments,
            "n_offers": self.n_offers,
            "budget": self.budget,
            "rounds": self.rounds,
            "lam": self.lam,
            "spent": self.spent,
            "played": self.played,
            "max_loss": self.max_loss,
            "earned": self.earned,
            "exposed": self.exposed.tolist(),
            "depth": None if self.depth is None else list(self.depth),
            **{k: getattr(self, k).tolist() for k in ("n", "sum_y", "sum_y2", "sum_c")},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], *, seed: int = 0) -> OfferBandit:
        bandit = cls(
            int(state["n_segments"]),
            int(state["n_offers"]),
            budget=state["budget"],
            rounds=state["rounds"],
            seed=seed,
            lam=float(state["lam"]),
            spent=float(state["spent"]),
            played=int(state["played"]),
            max_loss=state.get("max_loss"),
            earned=float(state.get("earned", 0.0)),
            depth=None if state.get("depth") is None else tuple(state["depth"]),
        )
        for k in ("n", "sum_y", "sum_y2", "sum_c"):
            setattr(bandit, k, np.asarray(state[k], dtype=float))
        bandit.exposed = np.asarray(state.get("exposed", np.zeros(bandit.n_segments)), dtype=float)
        return bandit

    def best(self) -> np.ndarray:
        """Each segment's offer with the highest posterior mean net of ``λ`` × spend (control if none)."""
        mean, _ = self.posterior()
        score = np.where(np.isnan(mean), -np.inf, mean - self.lam * self.unit_costs())
        return np.where(np.isfinite(score).any(axis=1), np.argmax(score, axis=1), 0)


def guard_for(objective: str, max_loss: float | None) -> float | None:
    """The bandit's ``max_loss`` for a policy: the objective's default when none is given; 1 turns the
    guard off."""
    if max_loss is None:
        return DEFAULT_MAX_LOSS.get(objective)
    if not 0 <= max_loss <= 1:
        raise ValidationFailed("max_loss is a share between 0 and 1 (1: no guard)", field="max_loss")
    return None if max_loss >= 1 else max_loss


def best_fixed_policy(
    profit: np.ndarray, spend: np.ndarray, budget: float | None, *, per_segment: bool = True
) -> np.ndarray:
    """The offer per segment (or one offer for all, ``per_segment=False``) with the most total ``profit``
    (segments × offers, summed over the rounds) whose total ``spend`` stays within ``budget``: exhaustive
    over the combinations (up to a few million), so it is the exact optimum of fixed policies."""
    n_seg, n_off = profit.shape
    cap = np.inf if budget is None else budget
    if not per_segment:
        total, cost = profit.sum(axis=0), spend.sum(axis=0)
        ok = cost <= cap + 1e-9
        k = int(np.argmax(np.where(ok, total, -np.inf))) if ok.any() else 0
        return np.full(n_seg, k, dtype=np.int64)
    if n_off**n_seg > 5_000_000:
        raise ValidationFailed("too many segments × offers to search exhaustively", field="segments")
    total = np.zeros(1)
    cost = np.zeros(1)
    for s in range(n_seg):
        total = (total[:, None] + profit[s][None, :]).ravel()
        cost = (cost[:, None] + spend[s][None, :]).ravel()
    best = int(np.argmax(np.where(cost <= cap + 1e-9, total, -np.inf)))
    return np.array(np.unravel_index(best, (n_off,) * n_seg), dtype=np.int64)


def offer_for(policy: dict[str, int], segment: str, offers: list[str]) -> str:
    """The offer a member of ``segment`` gets under ``policy`` (segment → offer index): the segment is the
    only input, so two exposures of one segment always get the same offer."""
    return offers[policy.get(segment, 0)]
