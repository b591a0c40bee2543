"""CLI commands (placeholder: filled in by its owner)."""

import click


def register(group: click.Group) -> None:
    """Attach this module's commands to the ``trips`` group."""
