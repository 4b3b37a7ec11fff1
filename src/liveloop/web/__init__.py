"""Web dashboard: Jinja2 pages with offline Plotly; pages under ``liveloop.web.pages``."""
