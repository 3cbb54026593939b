"""Every error press-monitor raises on purpose derives from one root.

    MonitorError
    ├── ConfigError        config.toml or a rule is wrong; the message names file, key and problem
    ├── FeedError          one feed could not be polled; `kind` is a short word for tables and logs
    │   ├── FetchTimeout       connect/read timeout or the overall deadline passed
    │   ├── TooLarge           body (after decompression) above max_feed_bytes
    │   ├── HTTPStatusError    a non-2xx/304 answer; carries status and Retry-After
    │   ├── ConnectionFailed   DNS, refused, TLS, too many redirects
    │   └── NotAFeed           HTML page, empty body, zero entries, unparseable bytes
    ├── QueryError         an FTS5 query (search or rule) is invalid
    ├── StoreError         the archive cannot be opened or is from a newer version
    │   ├── StoreUnavailable   the database server cannot be reached (restarting?): retried, not a bug
    │   └── ArchiveInUse       a second daemon on an SQLite archive (one node only): names the running one
    ├── DeliveryError      a channel could not deliver; says whether to retry, when, and if the
    │                      endpoint is gone for good
    ├── NetworkError       an HTTP exchange broke below HTTP (DNS, refused, TLS, reset, timeout, a
    │                      corrupt gzip body); raised by httpclient, turned into one of the errors
    │                      above by its caller (fetch, the webhook channel)
    └── PageError          a release page was not fetched: retry later, failed, or skipped (and why)
"""

from __future__ import annotations


class MonitorError(Exception):
    """Root of every error press-monitor raises deliberately."""


class ConfigError(MonitorError):
    """config.toml (or a rule in it) is invalid."""


class FeedError(MonitorError):
    """A feed could not be fetched or parsed."""

    kind = "error"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FetchTimeout(FeedError):
    kind = "timeout"


class TooLarge(FeedError):
    kind = "too-large"


class HTTPStatusError(FeedError):
    kind = "http"

    def __init__(self, status: int, message: str | None = None, *, retry_after: float | None = None) -> None:
        super().__init__(message or f"HTTP {status}", retry_after=retry_after)
        self.status = status


class ConnectionFailed(FeedError):
    kind = "connection"


class NotAFeed(FeedError):
    kind = "not-a-feed"


class QueryError(MonitorError):
    """An FTS5 query is invalid; the message is one line a user can act on."""


class StoreError(MonitorError):
    """The archive cannot be used."""


class StoreUnavailable(StoreError):
    """The archive's database server does not answer right now (PostgreSQL restarting, network down)."""


class ArchiveInUse(StoreError):
    """Another live daemon already runs on this SQLite archive (several nodes need PostgreSQL)."""


class DeliveryError(MonitorError):
    """A channel failed to deliver.

    permanent: retrying cannot help (4xx other than 408/429, refused recipient) -> dead at once.
    retry_after: seconds the receiver asked us to wait (429/503), or None.
    gone: the endpoint said 410 Gone -> the channel is disabled until re-enabled.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        gone: bool = False,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent or gone
        self.retry_after = retry_after
        self.gone = gone


class NetworkError(MonitorError):
    """An HTTP exchange failed below HTTP; the message is one short line naming the host (never
    the URL's path: a webhook's path may carry its token).

    kind: "timeout"     a connect/read timeout, or the caller's deadline cut the exchange
          "connection"  DNS, refused, TLS, reset, a broken response, a proxy failure
          "bad-body"    the body's gzip/deflate (or br) encoding is corrupt
    """

    def __init__(self, message: str, *, kind: str = "connection") -> None:
        super().__init__(message)
        self.kind = kind


class PageError(MonitorError):
    """A release page could not be fetched or read.

    outcome says what the page queue does with it:
      "retry"    a passing trouble (timeout, 5xx, 429): try again later (after retry_after if given)
      "failed"   retrying cannot help (404, 403, too large): failed at once
      "skipped"  deliberately not fetched (unsafe address, robots.txt, not HTML)
    """

    def __init__(self, message: str, *, kind: str, outcome: str = "retry", retry_after: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.outcome = outcome
        self.retry_after = retry_after
        self.status = status
