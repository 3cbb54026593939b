"""Drain the outbox: send due alerts through their channels and record every outcome durably.

Each send is followed by its own commit, so a crash repeats at most the one alert (or digest) that
was in flight — at-least-once delivery, with the same alert id on every attempt so receivers can
drop repeats. A failure is retried on the Standard Webhooks schedule with jitter, honouring
Retry-After; a permanent failure is dead at once; 410 Gone also disables the channel.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from monitor.clock import Clock
from monitor.config import parse_digest
from monitor.errors import DeliveryError, MonitorError
from monitor.types import ChannelSpec, Notice

log = logging.getLogger(__name__)

# Delays after the 1st, 2nd, ... failed attempt; when they run out the alert is dead.
RETRY_SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
MAX_RETRY_AFTER = 86400.0
JITTER = 0.1


class Channel(Protocol):
    def send(self, notices: Sequence[Notice], *, now: datetime, message_id: str, digest: bool = False) -> None: ...


@dataclass(frozen=True)
class Report:
    sent: int = 0  # alerts delivered
    retrying: int = 0  # alerts that failed and will be tried again
    dead: int = 0  # alerts that failed for good
    waiting: int = 0  # alerts held back (digest period not over, channel disabled or unknown)

    def __add__(self, other: Report) -> Report:
        return Report(self.sent + other.sent, self.retrying + other.retrying, self.dead + other.dead,
                      self.waiting + other.waiting)


def next_attempt(attempts: int, now: datetime, *, retry_after: float | None, rng: random.Random) -> datetime | None:
    """Return when to try again after `attempts` failed attempts, or None when the schedule is exhausted."""
    if attempts > len(RETRY_SCHEDULE):
        return None
    delay = RETRY_SCHEDULE[attempts - 1] * (1 + rng.uniform(-JITTER, JITTER))
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return now + timedelta(seconds=delay)


def digest_period_end(created: datetime, digest: str, tz: str) -> datetime:
    """Return the end of the digest period an alert created at `created` belongs to.

    "1h"-style digests cut time into fixed slots counted from the Unix epoch (UTC); "daily HH:MM"
    ends at the next HH:MM in the configured timezone.
    """
    schedule = parse_digest(digest, key="digest")
    if isinstance(schedule, time):
        zone = ZoneInfo(tz)
        local = created.astimezone(zone)
        end = datetime.combine(local.date(), schedule, tzinfo=zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), schedule, tzinfo=zone)
        return end.astimezone(created.tzinfo)
    return datetime.fromtimestamp((created.timestamp() // schedule + 1) * schedule, created.tzinfo)


def drain(
    store, channels: Mapping[str, Channel], specs: Mapping[str, ChannelSpec], clock: Clock, *,
    timezone: str = "UTC", rng: random.Random | None = None, limit: int = 1000,
    on_event: Callable[[str], None] | None = None,
) -> Report:
    """Send every due alert once; return the counts. Never raises for a channel's failure."""
    rng = rng or random.Random()
    emit = on_event or (lambda _msg: None)
    disabled = store.disabled_channels()
    due = store.due_alerts(clock.now(), limit)
    by_channel: dict[str, list] = {}
    for row in due:
        by_channel.setdefault(row.channel, []).append(row)

    report = Report()
    for name, rows in by_channel.items():
        spec, channel = specs.get(name), channels.get(name)
        if spec is None or channel is None or not spec.enabled or name in disabled:
            # Not configured (removed from config.toml), switched off, or disabled by a 410: keep the
            # alerts; they go out when the channel comes back.
            report += Report(waiting=len(rows))
            continue
        if spec.digest:
            batches = _digests(store, spec, rows, clock, timezone)
        else:
            batches = [([row], row.alert_id, False) for row in rows]
        report += Report(waiting=len(rows) - sum(len(group) for group, _, _ in batches))
        for i, (group, message_id, digest) in enumerate(batches):
            outcome, gone = _attempt(store, name, channel, group, message_id, digest, clock, rng, emit)
            report += outcome
            if gone:  # the endpoint is gone for good: everything else for it waits for `alerts enable`
                report += Report(waiting=sum(len(g) for g, _, _ in batches[i + 1:]))
                break
    return report


def _digests(store, spec: ChannelSpec, rows, clock: Clock, timezone: str) -> list[tuple[list, str, bool]]:
    """Return the digests to send now: retries keep their digest; fresh alerts wait for their period's end."""
    now = clock.now()
    groups: dict[str, list] = {}
    ready = []
    for row in rows:
        if row.digest_id:
            groups.setdefault(row.digest_id, []).append(row)
            continue
        end = digest_period_end(row.created_at, spec.digest, timezone)
        if end <= now:
            ready.append(row)
        else:
            with store.transaction():
                store.defer([row.id], end)
    if ready:
        digest_id = f"{ready[0].alert_id}-digest"
        with store.transaction():
            store.set_digest([r.id for r in ready], digest_id)
        groups[digest_id] = ready
    return [(group, digest_id, True) for digest_id, group in groups.items()]


def _attempt(store, name, channel, rows, message_id, digest, clock, rng, emit) -> tuple[Report, bool]:
    """Send one alert or one digest and commit the outcome; return its counts and whether the channel is gone."""
    ids = [r.id for r in rows]
    try:
        notices = [store.notice(r) for r in rows]
        channel.send(notices, now=clock.now(), message_id=message_id, digest=digest)
    except DeliveryError as exc:
        return _failed(store, name, rows, ids, exc, clock, rng, emit)
    except MonitorError as exc:  # could not even render it (release gone): retrying cannot help
        return _failed(store, name, rows, ids, DeliveryError(str(exc), permanent=True), clock, rng, emit)
    except Exception as exc:  # noqa: BLE001 - a bug in one channel must not stop the others
        log.exception("channel %s crashed while sending %s", name, message_id)
        return _failed(store, name, rows, ids, DeliveryError(f"internal error: {type(exc).__name__}: {exc}"),
                       clock, rng, emit)
    with store.transaction():
        store.mark_sent(ids, clock.now())
    emit(f"sent {message_id} via {name} ({len(ids)} alert{'s' if len(ids) != 1 else ''})")
    return Report(sent=len(ids)), False


def _failed(store, name, rows, ids, exc: DeliveryError, clock, rng, emit) -> tuple[Report, bool]:
    now = clock.now()
    attempts = max(r.attempts for r in rows) + 1
    when = None if exc.permanent else next_attempt(attempts, now, retry_after=exc.retry_after, rng=rng)
    with store.transaction():
        store.mark_failed(ids, str(exc), when)
        if exc.gone:
            store.disable_channel(name, str(exc), now)
    if exc.gone:
        log.error("channel %s DISABLED: the endpoint answered 410 Gone. Pending alerts wait until it is "
                  "re-enabled with `press-monitor alerts enable %s`", name, name)
        emit(f"channel {name} disabled: {exc}")
    if when is None:
        log.warning("alert %s via %s is dead after %d attempt(s): %s", rows[0].alert_id, name, attempts, exc)
        emit(f"dead {rows[0].alert_id} via {name}: {exc}")
        return Report(dead=len(ids)), exc.gone
    log.info("alert %s via %s failed (attempt %d), retry at %s: %s", rows[0].alert_id, name, attempts,
             when.isoformat(), exc)
    emit(f"retry {rows[0].alert_id} via {name} at {when:%Y-%m-%d %H:%M:%S}: {exc}")
    return Report(retrying=len(ids)), False
