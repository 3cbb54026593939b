"""The command line: click commands that wire the parts together. No business logic lives here.

`main` is the group; each submodule registers its commands on it when imported.
"""

from monitor.cli import alerts, archive, channels, db, edit, ingest, nodes, pages, review, rules, status  # noqa: F401  (registers the commands)
from monitor.cli.base import main

__all__ = ["main"]
