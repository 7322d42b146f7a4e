"""The demo's I/O: send the signed webhooks, then follow the instances through the admin API.

Plain ``urllib`` (the webhooks) and :class:`router.cli.admin_client.AdminClient` (the admin
API, with its token logic), so the demo needs nothing the router does not already ship.
Everything it prints is made by :mod:`demo.render` from what is collected here.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from demo.outcome import Outcome
from demo.payloads import Trigger
from router.errors import CliError

SEND_TIMEOUT_S = 10.0
SEND_WORKERS = 8  # a few webhooks in flight at once, as vendors deliver them
BUSY_RETRIES = 5  # 503 + Retry-After is backpressure: wait as told, a few times
LIST_LIMIT = 100
MARKER_GRACE_S = 3.0  # no instance under the expected key by then: look for one keyed otherwise


class UnreachableError(Exception):
    """The router (ingress or admin API) does not answer at all: exit 2."""


def _get(url: str, timeout: float) -> int:
    request = urllib.request.Request(url, method="GET")  # noqa: S310 - the operator's URL
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


_HINT = "is `make run` running?"


def check_router(router_url: str, wait_s: float = 10.0) -> None:
    """The router answers, and is ready (it may still be replaying its journal for a moment).

    Raises:
        UnreachableError: It refuses connections, or stays unready for ``wait_s``.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            status = _get(router_url.rstrip("/") + "/readyz", 3.0)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UnreachableError(
                f"cannot reach the router at {router_url} ({reason}): {_HINT}"
            ) from None
        if status == 200:
            return
        if time.monotonic() >= deadline:
            raise UnreachableError(
                f"the router at {router_url} is not ready (readyz answered {status}): {_HINT}"
            )
        time.sleep(0.25)


def check_admin(admin_url: str) -> None:
    """The admin API answers at all (401 without a token is an answer).

    Raises:
        UnreachableError: It refuses connections.
    """
    try:
        _get(admin_url.rstrip("/") + "/readiness", 3.0)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UnreachableError(
            f"cannot reach the admin API at {admin_url} ({reason}): {_HINT} (or pass --admin-url)"
        ) from None


def _problem(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"{}")
    except (ValueError, OSError):
        return str(exc.reason)
    if not isinstance(body, dict):
        return str(exc.reason)
    return str(body.get("detail") or body.get("title") or exc.reason)


def send(router_url: str, trigger: Trigger, sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """POST one webhook as its vendor would, retrying only the router's backpressure answer."""
    outcome = Outcome(trigger)
    url = f"{router_url.rstrip('/')}/webhooks/{trigger.source}"
    for attempt in range(BUSY_RETRIES + 1):
        request = urllib.request.Request(  # noqa: S310 - the operator's URL
            url, data=trigger.body, headers=trigger.headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_S) as response:  # noqa: S310
                outcome.status = int(response.status)
                answer = json.loads(response.read() or b"{}")
                outcome.message_id = answer.get("id") if isinstance(answer, dict) else None
                return outcome
        except urllib.error.HTTPError as exc:
            outcome.status, outcome.error = exc.code, _problem(exc)
            if exc.code != 503 or attempt == BUSY_RETRIES:
                return outcome
            sleep(min(float(exc.headers.get("Retry-After") or 1), 5.0))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            outcome.error = str(getattr(exc, "reason", exc))
            return outcome
    return outcome


def send_all(router_url: str, triggers: Sequence[Trigger]) -> list[Outcome]:
    """Every trigger, a few at a time; the outcomes keep the triggers' order."""
    with ThreadPoolExecutor(max_workers=SEND_WORKERS, thread_name_prefix="demo-send") as pool:
        return list(pool.map(lambda t: send(router_url, t), triggers))


class AdminApi(Protocol):
    """What the watcher needs of :class:`router.cli.admin_client.AdminClient` (a fake in tests)."""

    def call(
        self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any: ...


class Watcher:
    """Finds each trigger's instance and follows it until it settles (or time runs out)."""

    def __init__(self, api: AdminApi, clock: Callable[[], float] = time.monotonic) -> None:
        self.api = api
        self.clock = clock
        self.started = clock()

    def stats(self) -> list[dict[str, Any]]:
        answer = self.api.call("GET", "/workflows/stats")
        return list(answer.get("workflows") or []) if isinstance(answer, dict) else []

    def _list(self, **params: Any) -> list[dict[str, Any]]:
        answer = self.api.call("GET", "/workflows", params)
        return list(answer.get("instances") or []) if isinstance(answer, dict) else []

    def refresh(self, outcomes: Sequence[Outcome]) -> None:
        """Update every accepted, unsettled outcome's instance summary."""
        waiting = [o for o in outcomes if o.accepted and not o.settled]
        taken = {o.id for o in outcomes if o.id is not None}
        for workflow in dict.fromkeys(o.trigger.workflow for o in waiting):
            mine = [o for o in waiting if o.trigger.workflow == workflow]
            listing: list[dict[str, Any]] | None = None
            by_key: dict[str, dict[str, Any]] = {}
            if len(mine) > 3:  # one listing instead of a look-up each (it may be cut at LIMIT)
                listing = self._list(workflow=workflow, limit=LIST_LIMIT)
                by_key = {str(s.get("key")): s for s in listing}
            for o in mine:
                key = o.trigger.key if o.instance is None else str(o.instance.get("key"))
                found = by_key.get(key) or self._one(workflow, key)
                if found is not None:
                    o.instance = found
                elif o.instance is None and self.clock() - self.started >= MARKER_GRACE_S:
                    if listing is None:
                        listing = self._list(workflow=workflow, limit=LIST_LIMIT)
                    match = _by_marker(o.trigger, listing, taken)
                    if match is not None:
                        o.instance, o.found_by = match, "marker"
                        taken.add(str(match.get("id")))

    def _one(self, workflow: str, key: str) -> dict[str, Any] | None:
        found = self._list(workflow=workflow, key=key, limit=1)
        return found[0] if found else None

    def details(self, outcomes: Sequence[Outcome]) -> None:
        """Replace each summary with the full instance: steps, events, input."""
        for o in outcomes:
            if o.id is not None:
                detail = self.api.call("GET", f"/workflows/{o.id}")
                if isinstance(detail, dict):
                    o.instance = detail

    def diagnose(self, outcomes: Sequence[Outcome]) -> None:
        """Why an accepted trigger has no instance: its message's delivery to the workflow."""
        for o in outcomes:
            if not o.accepted or o.instance is not None or not o.message_id:
                continue
            try:
                message = self.api.call("GET", f"/messages/{o.message_id}")
            except CliError as exc:
                o.error = str(exc)
                continue
            o.error = _delivery_text(message, o.trigger.workflow)


def _by_marker(
    trigger: Trigger, listing: Sequence[dict[str, Any]], taken: set[str]
) -> dict[str, Any] | None:
    """An instance whose key names one of the trigger's ids (a workflow keyed on another id)."""
    for marker in trigger.markers:
        for summary in listing:
            if str(summary.get("id")) not in taken and marker in str(summary.get("key", "")):
                return summary
    return None


def _delivery_text(message: Any, workflow: str) -> str:
    if not isinstance(message, dict):
        return "the trigger message was not found"
    if message.get("unrouted"):
        return "no route or workflow matched the trigger (unrouted)"
    for delivery in message.get("deliveries") or []:
        if delivery.get("route") == workflow or len(message.get("deliveries") or []) == 1:
            status = delivery.get("status", "?")
            error = delivery.get("last_error")
            dead = " (dead letter)" if delivery.get("dead_letter") else ""
            return f"trigger delivery {status}{dead}" + (f": {error}" if error else "")
    return "the trigger was accepted but no instance was found"


def wait(
    watcher: Watcher,
    outcomes: Sequence[Outcome],
    deadline: float,
    tick: Callable[[int], None],
    until: Sequence[Outcome] | None = None,
    interval: float = 0.25,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Poll every outcome until those in ``until`` (default: all) settle, or ``deadline`` passes.

    ``tick(frame)`` redraws the progress after each poll.

    Returns:
        True when they all settled in time.
    """
    awaited = outcomes if until is None else until
    frame = 0
    while True:
        watcher.refresh(outcomes)
        tick(frame)
        if all(o.settled for o in awaited):
            return True
        if clock() >= deadline:
            return False
        frame += 1
        sleep(min(interval, max(0.0, deadline - clock())))
