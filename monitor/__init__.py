"""press-monitor: watch press-release wires, keep one record per release, alert on watch rules."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("press-monitor")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
