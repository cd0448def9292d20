"""Login rate limiting: failed logins counted per user name and per client address over a
sliding window; past a limit, POST /api/login answers 429 with Retry-After before it looks at
the password (so a right password is refused too and the answer says nothing about it).

The same limits apply to names that exist and names that do not, and the 429 text is one text,
so neither the status, the message nor the time taken tells which names exist. An attempt is
counted as failed when it starts and forgiven when it succeeds, so a burst of parallel guesses
cannot slip past the limit while the password hashes are being computed.

Trade-off: anyone can hold a user name off for a window by failing for it; the per-name limit
is kept low enough to stop guessing (5 per 15 minutes: 480 a day) and the window short. Behind
a reverse proxy every client has the proxy's address: the per-address limit then applies to
all of them together (the head end trusts no forwarded-for header)."""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import deque

PER_NAME = 5
PER_ADDRESS = 30
WINDOW = dt.timedelta(minutes=15)
MAX_KEYS = 100_000            # names or addresses remembered; the stalest go first


class LoginLimiter:
    def __init__(self, per_name: int = PER_NAME, per_address: int = PER_ADDRESS,
                 window: dt.timedelta = WINDOW, max_keys: int = MAX_KEYS):
        self.limits = {"name": per_name, "address": per_address}
        self.window, self.max_keys = window, max_keys
        self._fails: dict[str, dict[str, deque]] = {"name": {}, "address": {}}
        self._lock = threading.Lock()

    def _recent(self, kind: str, key: str, now: dt.datetime) -> deque | None:
        q = self._fails[kind].get(key)
        while q and q[0] <= now - self.window:
            q.popleft()
        if q is not None and not q:
            del self._fails[kind][key]
            return None
        return q

    def begin(self, name: str, address: str, now: dt.datetime) -> int:
        """0 and the attempt counted as failed (until `succeeded`), or the seconds to wait."""
        with self._lock:
            wait = 0.0
            for kind, key in (("name", name), ("address", address)):
                q = self._recent(kind, key, now)
                if q is not None and len(q) >= self.limits[kind]:
                    wait = max(wait, (q[-self.limits[kind]] + self.window - now).total_seconds())
            if wait > 0:
                return max(1, math.ceil(wait))
            for kind, key in (("name", name), ("address", address)):
                table = self._fails[kind]
                table.setdefault(key, deque()).append(now)
                if len(table) > self.max_keys:
                    self._prune(table, now)
            return 0

    def succeeded(self, name: str, address: str, now: dt.datetime) -> None:
        """The attempt begun at `now` was right: forgive it; the name's earlier failures go."""
        with self._lock:
            self._fails["name"].pop(name, None)
            q = self._fails["address"].get(address)
            if q and now in q:
                q.remove(now)
                if not q:
                    del self._fails["address"][address]

    def _prune(self, table: dict, now: dt.datetime) -> None:
        for key in [k for k, q in table.items() if not q or q[-1] <= now - self.window]:
            del table[key]
        while len(table) > self.max_keys:
            del table[min(table, key=lambda k: table[k][-1])]
