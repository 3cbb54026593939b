"""press-monitor: watch press-release wires, keep one record per release, alert on watch rules."""

# The single source of the version: pyproject.toml reads it (dynamic), and the CLI prints it without
# importlib.metadata, which costs a noticeable share of start-up.
__version__ = "0.1.0"
