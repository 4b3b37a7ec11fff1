"""Live copilot: comment NLP, room state windows, host advisor, FAQ answerer, lottery, replay.

Public surface: ``CommentModel`` / ``load_model`` / ``train`` (comment NLP), ``LiveHub`` (sessions,
bounded intake, snapshots), ``RoomState``, ``advise``, ``KnowledgeBase`` / ``Answerer`` (smart Q&A),
``draw`` (lottery) and the replay helpers.
"""

from typing import TYPE_CHECKING

from liveloop.core.lazy import lazy_exports

if TYPE_CHECKING:
    from liveloop.live.advisor import advise
    from liveloop.live.hub import LiveHub
    from liveloop.live.lottery import LotteryRules, draw
    from liveloop.live.mentions import MentionMatcher
    from liveloop.live.nlp import CommentModel, CommentScores
    from liveloop.live.qa import Answerer, KnowledgeBase
    from liveloop.live.room import RoomState
    from liveloop.live.training import load_model, train

#: Each public name and its module (imported on first use: some load torch or scikit-learn).
_EXPORTS = {
    "Answerer": "qa",
    "CommentModel": "nlp",
    "CommentScores": "nlp",
    "KnowledgeBase": "qa",
    "LiveHub": "hub",
    "LotteryRules": "lottery",
    "MentionMatcher": "mentions",
    "RoomState": "room",
    "advise": "advisor",
    "draw": "lottery",
    "load_model": "training",
    "train": "training",
}
__getattr__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "Answerer",
    "CommentModel",
    "CommentScores",
    "KnowledgeBase",
    "LiveHub",
    "LotteryRules",
    "MentionMatcher",
    "RoomState",
    "advise",
    "draw",
    "load_model",
    "train",
]
