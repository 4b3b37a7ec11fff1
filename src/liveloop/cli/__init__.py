"""Command-line face (Typer)."""
