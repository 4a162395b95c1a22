"""The sandbox's memory: shipments, issued tokens, faults to inject and every call seen.

One lock guards it all; every method takes it, so handler threads never see half a change.
A shipment moves along five steps (label created, picked up, in transit, out for delivery,
delivered); each step taken is an event with its own time, which each courier module spells
in that courier's codes.
"""

from __future__ import annotations

import random
import secrets
import string
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

STEPS = ("label_created", "picked_up", "in_transit", "out_for_delivery", "delivered")
FAULT_MODES = ("latency", "rate_limit", "error", "hang", "drop")
CALL_LOG_LIMIT = 20_000


@dataclass
class Shipment:
    courier: str
    courier_id: str  # what void takes (AusPost shipment_id; the tracking number elsewhere)
    tracking_number: str
    pieces: list[str]
    references: list[str]
    account: str
    created_at: float
    request: dict[str, Any] = field(default_factory=dict)
    label: bytes = b""
    label_format: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # courier-specific bits (item ids, product)
    events: list[tuple[int, float]] = field(default_factory=list)  # (step index, epoch seconds)
    voided: bool = False
    voided_at: float | None = None
    order_id: str = ""  # AusPost: the order (manifest) it is in

    @property
    def step(self) -> int:
        return self.events[-1][0] if self.events else 0

    @property
    def status(self) -> str:
        return STEPS[self.step]

    def summary(self) -> dict[str, Any]:
        return {
            "courier": self.courier,
            "courier_id": self.courier_id,
            "tracking_number": self.tracking_number,
            "pieces": list(self.pieces),
            "references": list(self.references),
            "account": self.account,
            "status": self.status,
            "events": [{"status": STEPS[s], "time": t} for s, t in self.events],
            "created_at": self.created_at,
            "voided": self.voided,
            "voided_at": self.voided_at,
            "order_id": self.order_id,
            "extra": self.extra,
        }


@dataclass
class Fault:
    id: int
    courier: str  # "" = every courier
    path: str  # prefix of the path relative to the courier; "" = every path
    mode: str
    seconds: float
    status: int
    count: int  # calls left; 0 = until cleared

    def matches(self, courier: str, path: str) -> bool:
        return (not self.courier or self.courier == courier) and path.startswith(self.path)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "courier": self.courier,
            "path": self.path,
            "mode": self.mode,
            "seconds": self.seconds,
            "status": self.status,
            "count": self.count,
        }


class SandboxState:
    def __init__(self, *, token_ttl: float = 3600.0):
        self.lock = threading.RLock()
        self.token_ttl = token_ttl
        self.random = random.Random()  # noqa: S311 - sandbox numbers, not secrets
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.shipments: dict[str, list[Shipment]] = {}
            self._by_number: dict[tuple[str, str], Shipment] = {}  # (courier, any of its numbers): the first added
            self.tokens: dict[str, tuple[str, float]] = {}
            self.faults: list[Fault] = []
            self.calls: list[dict[str, Any]] = []
            self.labels: dict[str, dict[str, Any]] = {}  # AusPost label requests by request_id
            self.orders: dict[str, dict[str, Any]] = {}  # AusPost orders by order_id
            self._fault_ids = 0
            self._serial = 0

    # --- shipments ---------------------------------------------------------------------
    def add(self, shipment: Shipment) -> Shipment:
        with self.lock:
            if not shipment.events:
                shipment.events.append((0, shipment.created_at))
            self.shipments.setdefault(shipment.courier, []).append(shipment)
            for number in (shipment.tracking_number, shipment.courier_id, *shipment.pieces):
                self._by_number.setdefault((shipment.courier, number), shipment)
            return shipment

    def all(self, courier: str = "") -> list[Shipment]:
        with self.lock:
            if courier:
                return list(self.shipments.get(courier, []))
            return [s for group in self.shipments.values() for s in group]

    def find(self, courier: str, number: str, *, include_voided: bool = True) -> Shipment | None:
        """By tracking number, piece number or courier id."""
        with self.lock:
            indexed = self._by_number.get((courier, number))
            if indexed is not None and (include_voided or not indexed.voided):
                return indexed
            for shipment in self.shipments.get(courier, []):
                if shipment.voided and not include_voided:
                    continue
                if number in (shipment.tracking_number, shipment.courier_id) or number in shipment.pieces:
                    return shipment
            return None

    def by_reference(self, courier: str, reference: str, *, include_voided: bool = False) -> list[Shipment]:
        with self.lock:
            return [
                s
                for s in self.shipments.get(courier, [])
                if reference in s.references and (include_voided or not s.voided)
            ]

    def void(self, shipment: Shipment) -> None:
        with self.lock:
            shipment.voided = True
            shipment.voided_at = time.time()

    def advance(self, *, courier: str = "", number: str = "", steps: int = 1) -> list[Shipment]:
        """Move shipments ``steps`` events along (voided and delivered ones stay put)."""
        with self.lock:
            moved = []
            for shipment in self.all(courier):
                if number and number not in (shipment.tracking_number, shipment.courier_id, *shipment.pieces):
                    continue
                if self._step(shipment, steps):
                    moved.append(shipment)
            return moved

    def advance_due(self, every: float, now: float | None = None) -> list[Shipment]:
        """The clock: each live shipment whose last event is ``every`` seconds old moves one step."""
        now = time.time() if now is None else now
        with self.lock:
            return [s for s in self.all() if s.events and now - s.events[-1][1] >= every and self._step(s, 1)]

    def _step(self, shipment: Shipment, steps: int) -> bool:
        moved = False
        for _ in range(max(0, steps)):
            if shipment.voided or shipment.step >= len(STEPS) - 1:
                break
            # Strictly increasing event times, so every event has its own (code, time).
            when = max(time.time(), shipment.events[-1][1] + 1.0)
            shipment.events.append((shipment.step + 1, when))
            moved = True
        return moved

    # --- numbers -----------------------------------------------------------------------
    def serial(self) -> int:
        with self.lock:
            self._serial += 1
            return self._serial

    def digits(self, count: int) -> str:
        with self.lock:
            return "".join(self.random.choice(string.digits) for _ in range(count))

    def opaque_id(self, length: int = 24) -> str:
        alphabet = string.ascii_letters + string.digits
        with self.lock:
            return "".join(self.random.choice(alphabet) for _ in range(length))

    # --- tokens ------------------------------------------------------------------------
    def issue_token(self, courier: str, ttl: float | None = None) -> tuple[str, float]:
        ttl = self.token_ttl if ttl is None else ttl
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = (courier, time.time() + ttl)
        return token, ttl

    def token_valid(self, courier: str, token: str) -> bool:
        with self.lock:
            owner, until = self.tokens.get(token, ("", 0.0))
            return owner == courier and until > time.time()

    def expire_tokens(self, courier: str = "") -> int:
        with self.lock:
            expired = [t for t, (owner, _) in self.tokens.items() if not courier or owner == courier]
            for token in expired:
                self.tokens[token] = (self.tokens[token][0], 0.0)
            return len(expired)

    # --- faults ------------------------------------------------------------------------
    def add_fault(self, *, courier: str, path: str, mode: str, seconds: float, status: int, count: int) -> Fault:
        if mode not in FAULT_MODES:
            raise ValueError(f"mode must be one of {', '.join(FAULT_MODES)}")
        with self.lock:
            self._fault_ids += 1
            fault = Fault(self._fault_ids, courier, path, mode, seconds, status, count)
            self.faults.append(fault)
            return fault

    def clear_faults(self, courier: str = "") -> int:
        with self.lock:
            before = len(self.faults)
            self.faults = [f for f in self.faults if courier and f.courier != courier]
            return before - len(self.faults)

    def take_fault(self, courier: str, path: str) -> Fault | None:
        """The first fault for this call; a counted fault is used up one call at a time."""
        with self.lock:
            for fault in self.faults:
                if fault.matches(courier, path):
                    if fault.count > 0:
                        fault.count -= 1
                        if fault.count == 0:
                            self.faults.remove(fault)
                    return fault
            return None

    # --- the call log ------------------------------------------------------------------
    def record_call(self, *, courier: str, method: str, path: str, query: str) -> dict[str, Any]:
        call = {"courier": courier, "method": method, "path": path, "query": query, "time": time.time()}
        with self.lock:
            self.calls.append(call)
            if len(self.calls) > CALL_LOG_LIMIT:
                del self.calls[: len(self.calls) - CALL_LOG_LIMIT]
        return call

    def call_log(self, courier: str = "") -> list[dict[str, Any]]:
        with self.lock:
            return [dict(c) for c in self.calls if not courier or c["courier"] == courier]


def first(values: Iterable[Any], default: Any = None) -> Any:
    return next(iter(values), default)
