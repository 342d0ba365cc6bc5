"""The `infra` command line: thin Typer commands over a deploy service."""

__version__ = "0.1.0"
