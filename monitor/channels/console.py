"""Console channel: a readable block per alert on stdout or stderr."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from typing import TextIO

from monitor.channels.render import check_batch, text_message
from monitor.errors import DeliveryError
from monitor.types import AnyNotice

STREAMS = ("stdout", "stderr")


class ConsoleChannel:
    """Writes alerts as plain text. Feed text is cleaned first, so no terminal escape gets through."""

    def __init__(self, name: str, *, stream: str = "stdout", out: TextIO | None = None) -> None:
        self.name = name
        self.stream = stream
        self._out = out

    def _target(self) -> TextIO:
        # Looked up at send time, not at build time: the daemon (and pytest) may swap
        # sys.stdout/sys.stderr after the channel was built.
        if self._out is not None:
            return self._out
        return sys.stderr if self.stream == "stderr" else sys.stdout

    def send(
        self, notices: Sequence[AnyNotice], *, now: datetime, message_id: str, digest: bool = False
    ) -> None:
        """Write one alert (or a digest) to the stream; return None or raise DeliveryError."""
        check_batch(notices, digest)
        text = text_message(notices, now=now, digest=digest)
        target = self._target()
        try:
            target.write(text + "\n")
            target.flush()
        except (OSError, ValueError) as exc:  # ValueError: write to a closed file
            raise DeliveryError(
                f"console channel {self.name!r}: cannot write to {self.stream}: {exc}"
            ) from exc

    def close(self) -> None:
        """Nothing to release: the stream belongs to the process."""
