"""liveloop: an AI-driven personalised-marketing engine for live-stream e-commerce."""

__version__ = "0.1.0"
