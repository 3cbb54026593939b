"""Drain the outbox: send due alerts through their channels and record every outcome durably.

Each send is followed by its own commit, so a crash repeats at most the one alert (or digest) that
was in flight — at-least-once delivery, with the same alert id on every attempt so receivers can
drop repeats. A failure is retried on the Standard Webhooks schedule with jitter, honouring
Retry-After; a permanent failure is dead at once; 410 Gone also disables the channel. Channels send
side by side (one worker each), so one slow endpoint delays only its own alerts.

The stages of a drain, per channel: due rows -> messages (`group`: one message per release, naming
every rule that matched it; or `_digests`: one per digest period) -> send -> one committed outcome
per message. A message's id is its lowest row's alert id (`pm-INSTALL-N`), recorded on its rows
(`group_id`) when it fails, so a retry is the same message under the same id.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from monitor.clock import Clock
from monitor.errors import DeliveryError, MonitorError
from monitor.retry_after import MAX_RETRY_AFTER
from monitor.types import AnyNotice, ChannelSpec

log = logging.getLogger(__name__)

# Delays after the 1st, 2nd, ... failed attempt; when they run out the alert is dead.
RETRY_SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
JITTER = 0.1
BATCH = 1000  # due rows read at a time; a drain reads batches until nothing due is left
MAX_PARALLEL = 8  # channels sending at the same time
# Alerts rendered ahead for each channel's sender: in practice a channel's whole batch, rendered
# while its sender starts on the first ones, then this thread only commits outcomes. Rendering one
# alert per outcome instead (2 ahead) interleaved ~4 SQLite calls per alert with the sender's work:
# ~10% more CPU draining 3,000-4,000 alerts to a loopback webhook (3 pairs of runs at load ~4), for
# no gain in wall time.
LOOKAHEAD = 1000
FAILURES_META = "channel_failures:"  # + channel name -> {"failures", "since", "last_error"} (meta table)


class Channel(Protocol):
    def send(self, notices: Sequence[AnyNotice], *, now: datetime, message_id: str, digest: bool = False) -> None: ...


class Claims(Protocol):
    """A node's leases (cluster.LeaseKeeper), when several daemons drain one outbox (issue 19)."""

    def claim(self, store, resources: Sequence[str]) -> set[str]: ...
    def holds(self, resource: str) -> bool: ...
    def release(self, store, resources: Sequence[str], *, until: datetime | None = None) -> None: ...


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


def drain(
    store, channels: Mapping[str, Channel], specs: Mapping[str, ChannelSpec], clock: Clock, *,
    timezone: str = "UTC", rng: random.Random | None = None, batch: int = BATCH,
    on_event: Callable[[str], None] | None = None, claims: Claims | None = None,
) -> Report:
    """Send every alert due now once (no cap: batches of `batch` rows until none is left); return the
    counts. Channels send concurrently, each its own alerts in order, so a slow or hanging endpoint
    (bounded by its timeout) holds up only itself. Never raises for a channel's failure.

    The store is used from this thread only; worker threads do nothing but channel.send().

    claims (several nodes on one archive): only rows this node wins a lease on are sent — "alert:<id>",
    or for a digest channel "job:digest:<channel>:<period end or digest id>", so one node binds and
    sends each period's digest — re-read after the claim (another node may have just sent them), and
    each send starts only while the lease is certainly still held (claims.holds: the node's fence).
    """
    rng = rng or random.Random()
    emit = on_event or (lambda _msg: None)
    disabled = set(store.disabled_channels())
    report = Report()
    handled: set[int] = set()  # rows met in this drain: each is tried (or counted waiting) once
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_PARALLEL, len(channels))),
                            thread_name_prefix="deliver") as pool:
        while True:
            limit = batch + len(handled)
            due = store.due_alerts(clock.now(), limit)
            rows = [r for r in due if r.id not in handled]
            if len(due) == limit:
                rows = _whole_releases(rows)
            if not rows:
                return report
            handled.update(r.id for r in rows)
            won: set[str] = set()
            if claims is not None:
                rows, won = _claim(store, rows, claims, specs, disabled, clock, timezone)
                if not rows:
                    claims.release(store, list(won))
                    continue
            by_channel: dict[str, list] = {}
            for row in rows:
                by_channel.setdefault(row.channel, []).append(row)
            queues: dict[str, list[tuple[list, str, bool]]] = {}
            for name, chan_rows in by_channel.items():
                spec, channel = specs.get(name), channels.get(name)
                if spec is None or channel is None or not spec.enabled or name in disabled:
                    # Not configured (removed from config.toml), switched off, or disabled by a 410: keep
                    # the alerts; they go out when the channel comes back.
                    report += Report(waiting=len(chan_rows))
                    continue
                if spec.digest:
                    # A spike is a signal, at most one per rule per window: it does not wait for the digest.
                    batches = _digests(store, spec, [r for r in chan_rows if r.spike_id is None], clock, timezone)
                    batches += [([r], r.alert_id, False) for r in chan_rows if r.spike_id is not None]
                else:
                    batches = group(chan_rows)
                report += Report(waiting=len(chan_rows) - sum(len(group) for group, _, _ in batches))
                queues[name] = batches
            fence = None if claims is None else _fence(claims, specs, timezone)
            try:
                report += _send_all(store, pool, channels, queues, disabled, clock, rng, emit, fence)
            finally:
                if claims is not None:
                    claims.release(store, list(won))


def lease_name(row, spec: ChannelSpec | None, timezone: str) -> str:
    """The lease a node holds to send this outbox row (see drain)."""
    if spec is None or spec.digest is None:
        return f"alert:{row.id}"
    if row.digest_id:
        return f"job:digest:{row.channel}:{row.digest_id}"
    end = spec.digest.period_end(row.created_at, timezone).astimezone(UTC)
    return f"job:digest:{row.channel}:{end:%Y-%m-%dT%H:%M:%SZ}"


def held_elsewhere(store, rows: Sequence, specs: Mapping[str, ChannelSpec], timezone: str,
                   now: datetime) -> tuple[int, datetime | None]:
    """How many of these rows another node holds a live lease on, and when the last of those leases
    ends (a node killed mid-drain holds its rows until then; a running one renews them as it sends)."""
    live = {lease.resource: lease.expires_at for lease in store.live_leases(now)}
    ends = [live[name] for r in rows if (name := lease_name(r, specs.get(r.channel), timezone)) in live]
    return len(ends), max(ends, default=None)


def _claim(store, rows: list, claims: Claims, specs: Mapping[str, ChannelSpec], disabled: set[str], clock: Clock,
           timezone: str) -> tuple[list, set[str]]:
    """Return the rows this node won a lease on, as they are after the claim, and the leases won."""
    sendable = [r for r in rows if r.channel in specs and specs[r.channel].enabled and r.channel not in disabled]
    names = {r.id: lease_name(r, specs[r.channel], timezone) for r in sendable}
    won = claims.claim(store, sorted(set(names.values())))
    mine = [i for i, name in names.items() if name in won]
    fresh = store.still_due(mine, clock.now()) if mine else []
    return [r for r in fresh if lease_name(r, specs[r.channel], timezone) in won], won


def _fence(claims: Claims, specs: Mapping[str, ChannelSpec], timezone: str) -> Callable[[list], bool]:
    def may_send(group: list) -> bool:
        return all(claims.holds(lease_name(r, specs.get(r.channel), timezone)) for r in group)
    return may_send


def group(rows: Sequence) -> list[tuple[list, str, bool]]:
    """Return one channel's due rows as messages: (rows, message id, False), in the order of their first row.

    Rows of one release never sent before (the rules that matched it in one commit) make one message,
    under the lowest row's alert id. A row already tried keeps the message it was tried in: its
    `group_id` (several rows), else alone under its own id; so a receiver never sees one id with two
    contents. A spike row is always alone.
    """
    groups: dict[tuple[str, object], list] = {}
    for row in rows:
        if row.group_id:
            key: tuple[str, object] = ("message", row.group_id)
        elif row.attempts == 0 and row.release_id is not None:
            key = ("release", row.release_id)
        else:
            key = ("row", row.id)
        groups.setdefault(key, []).append(row)
    out = []
    for members in groups.values():
        members.sort(key=lambda r: r.id)
        out.append((members, members[0].group_id or members[0].alert_id, False))
    return out


def _whole_releases(rows: list) -> list:
    """Hold back the fresh rows of the batch's last release (the batch may have cut it) for the next batch,
    so a release's rules are not split over two messages; unless they are the whole batch."""
    last = rows[-1] if rows else None
    if last is None or last.release_id is None:
        return rows
    kept = [r for r in rows if not (r.release_id == last.release_id and r.attempts == 0 and not r.group_id)]
    return kept or rows


def _send_all(store, pool: ThreadPoolExecutor, channels: Mapping[str, Channel],
              queues: dict[str, list[tuple[list, str, bool]]], disabled: set[str], clock: Clock,
              rng: random.Random, emit: Callable[[str], None],
              fence: Callable[[list], bool] | None = None) -> Report:
    """Send each channel's batches in order, channels side by side; record each outcome as it lands.

    One worker per channel sends; this thread does all the SQLite work: it renders the next notices
    while the workers send, and commits every outcome as it is reported. A worker sends its next
    alert only once the previous outcome is committed (`turns`), so a crash repeats at most one
    alert (or digest) per channel.
    """
    report = Report()
    outcomes: queue.SimpleQueue[tuple[str, list, str, BaseException | None]] = queue.SimpleQueue()
    todo = {name: deque(batches) for name, batches in queues.items() if batches}
    inboxes: dict[str, queue.SimpleQueue] = {}
    stops: dict[str, threading.Event] = {}
    # A plain Lock as a binary semaphore (the sender takes it, this thread gives it back after each
    # outcome): threading.Semaphore is a Condition written in Python; a ping-pong of the two threads
    # costs ~16 µs of CPU with a Lock against ~26 µs with a Semaphore.
    turns: dict[str, threading.Lock] = {}
    queued = dict.fromkeys(todo, 0)  # handed to the worker, outcome not yet recorded
    streaks = {name for name in todo if store.meta(FAILURES_META + name)}

    def feed(name: str) -> None:
        """Keep LOOKAHEAD rendered batches in the channel's inbox (fewer once its list runs out)."""
        nonlocal report
        while todo[name] and queued[name] < LOOKAHEAD and not stops[name].is_set():
            group, message_id, digest = todo[name].popleft()
            try:
                notices = store.notices(group)
            except MonitorError as exc:  # could not even render it (release gone): retrying cannot help
                report += _record(store, name, group, message_id, DeliveryError(str(exc), permanent=True),
                                  clock, rng, emit)[0]
                continue
            inboxes[name].put((group, message_id, digest, notices))
            queued[name] += 1
        if not queued[name]:
            inboxes[name].put(None)  # nothing more: the worker ends

    for name in todo:
        inboxes[name], stops[name], turns[name] = queue.SimpleQueue(), threading.Event(), threading.Lock()
        pool.submit(_sender, channels[name], name, inboxes[name], clock, stops[name], turns[name], outcomes, fence)
        feed(name)
    while any(queued.values()):
        name, group, message_id, error = outcomes.get()
        queued[name] -= 1
        if error is _SKIPPED:  # not sent: the channel went away earlier in this drain
            report += Report(waiting=len(group))
        else:
            outcome, gone = _record(store, name, group, message_id, error, clock, rng, emit,
                                    streak=name in streaks)
            report += outcome
            if error is None:
                streaks.discard(name)
            else:
                streaks.add(name)
            if gone:  # the endpoint is gone for good: everything else for it waits for `alerts enable`
                disabled.add(name)
                report += Report(waiting=sum(len(g) for g, _, _ in todo[name]))
                todo[name].clear()
        turns[name].release()
        feed(name)
    return report


_SKIPPED = DeliveryError("skipped")


def _sender(channel: Channel, name: str, inbox: queue.SimpleQueue, clock: Clock, stop: threading.Event,
            turn: threading.Lock, outcomes: queue.SimpleQueue, fence: Callable[[list], bool] | None = None) -> None:
    """Send one channel's batches in order as they arrive (a worker thread); report every outcome.
    fence: checked right before each send; a lease this node may no longer hold sends nothing."""
    while (item := inbox.get()) is not None:
        group, message_id, digest, notices = item
        turn.acquire()  # the previous outcome is committed
        skip = stop.is_set() or (fence is not None and not fence(group))
        error = _SKIPPED if skip else _send(channel, name, notices, clock.now(), message_id, digest)
        if isinstance(error, DeliveryError) and error.gone:
            stop.set()  # 410: send nothing more to it (decided here, not after the outcome is committed)
        outcomes.put((name, group, message_id, error))


def _send(channel: Channel, name: str, notices: list[AnyNotice], now: datetime, message_id: str,
          digest: bool) -> BaseException | None:
    """Send (in a worker thread); return None on success or the error (a DeliveryError for a failure)."""
    try:
        channel.send(notices, now=now, message_id=message_id, digest=digest)
    except DeliveryError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - a bug in one channel must not stop the others
        log.exception("channel %s crashed while sending %s", name, message_id)
        return DeliveryError(f"internal error: {type(exc).__name__}: {exc}")
    return None


def _digests(store, spec: ChannelSpec, rows, clock: Clock, timezone: str) -> list[tuple[list, str, bool]]:
    """Return the digests to send now: retries keep their digest; fresh alerts wait for their period's end."""
    now = clock.now()
    groups: dict[str, list] = {}
    ready = []
    for row in rows:
        if row.digest_id:
            groups.setdefault(row.digest_id, []).append(row)
            continue
        assert spec.digest is not None
        end = spec.digest.period_end(row.created_at, timezone)
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


def _record(store, name: str, rows: list, message_id: str, error: BaseException | None, clock: Clock,
            rng: random.Random, emit: Callable[[str], None], *, streak: bool = True) -> tuple[Report, bool]:
    """Commit the outcome of one send; return its counts and whether the channel is gone.
    `streak`: the channel may have a failure streak to clear (False saves a write per success)."""
    ids = [r.id for r in rows]
    now = clock.now()
    if error is None:
        with store.transaction():
            store.mark_sent(ids, now)
            if streak:
                store.set_meta(FAILURES_META + name, None)
        emit(f"sent {message_id} via {name} ({len(ids)} alert{'s' if len(ids) != 1 else ''})")
        return Report(sent=len(ids)), False
    exc = error if isinstance(error, DeliveryError) else DeliveryError(str(error))
    attempts = max(r.attempts for r in rows) + 1
    when = None if exc.permanent else next_attempt(attempts, now, retry_after=exc.retry_after, rng=rng)
    # Several rows of one release sent as one message (its id is its first row's alert id; a digest's
    # is "…-digest", bound by digest_id already): their retry must be that message, under that id.
    grouped = message_id if len(rows) > 1 and message_id in (rows[0].alert_id, rows[0].group_id) else None
    with store.transaction():
        store.mark_failed(ids, str(exc), when, grouped)
        store.set_meta(FAILURES_META + name, json.dumps(_failures(store, name, now, str(exc))))
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


def _failures(store, name: str, now: datetime, error: str) -> dict[str, object]:
    before = channel_failures(store, name)
    return {"failures": (before.failures if before else 0) + 1,
            "since": (before.since if before else now).isoformat(), "last_error": error[:500]}


@dataclass(frozen=True)
class ChannelFailures:
    """A channel's unbroken run of failed sends (reset by its next success): what `status` shows."""

    failures: int
    since: datetime
    last_error: str


def channel_failures(store, name: str) -> ChannelFailures | None:
    """Return the channel's consecutive failures, or None when its last send worked (or none was made)."""
    raw = store.meta(FAILURES_META + name)
    if not raw:
        return None
    data = json.loads(raw)
    return ChannelFailures(int(data["failures"]), datetime.fromisoformat(data["since"]), str(data["last_error"]))
