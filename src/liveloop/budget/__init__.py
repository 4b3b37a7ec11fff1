"""liveloop.budget: bidding for paid traffic (linear and optimal real-time bidding with pacing) and bid
advice per audience for platform ad tools."""

from liveloop.budget.advisor import bid_advice
from liveloop.budget.bidding import STRATEGIES, Bidder, Pacer, fit_bidder, run_auctions
from liveloop.budget.simulation import compare_bidders

__all__ = ["STRATEGIES", "Bidder", "Pacer", "bid_advice", "compare_bidders", "fit_bidder", "run_auctions"]
