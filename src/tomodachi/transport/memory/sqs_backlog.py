"""Where an in-memory SQS queue keeps its messages: states, and the order they are received in.

A standard queue hands out visible messages oldest first; a FIFO queue hands out message groups,
each in order, and holds a group back while one of its messages is in flight.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["DELAYED", "DELETED", "INFLIGHT", "VISIBLE", "FifoBacklog", "StandardBacklog", "Stored"]

#: The state of a stored message.
DELAYED, VISIBLE, INFLIGHT, DELETED = range(4)


@dataclass(slots=True, eq=False)
class Stored:
    seq: int  # send order, the delivery order
    message_id: str
    body: str
    attributes: dict[str, dict[str, Any]]
    group_id: str | None
    deduplication_id: str | None
    sent_timestamp: float
    state: int = VISIBLE
    receive_count: int = 0
    receipt_handle: str | None = None
    version: int = 0  # bumped when the visibility deadline changes: older heap entries are stale


class StandardBacklog:
    """Visible messages of a standard queue, oldest first."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, Stored]] = []  # deleted messages are skipped when popped

    def add(self, message: Stored) -> None:
        pass  # nothing to track until the message is visible

    def visible(self, message: Stored, *, returned: bool) -> None:
        heapq.heappush(self._heap, (message.seq, message))

    def remove(self, message: Stored) -> None:
        pass

    def take(self, limit: int, admit: Callable[[Stored], bool]) -> list[Stored]:
        taken: list[Stored] = []
        while self._heap and len(taken) < limit:
            _, message = heapq.heappop(self._heap)
            if message.state == VISIBLE and admit(message):
                taken.append(message)
        return taken

    def clear(self) -> None:
        self._heap.clear()


class _Group:
    __slots__ = ("inflight", "messages", "queued")

    def __init__(self) -> None:
        self.messages: deque[Stored] = deque()  # every undeleted message of the group, in order
        self.inflight = 0
        self.queued = False  # has a valid entry in FifoBacklog._available


class FifoBacklog:
    """Message groups of a FIFO queue; a group is available when its head is visible and none
    of its messages is in flight. Available groups are served oldest head first."""

    def __init__(self) -> None:
        self._groups: dict[str, _Group] = {}
        self._available: list[tuple[int, str]] = []  # (seq of the group's head, group id)

    def add(self, message: Stored) -> None:
        self._groups.setdefault(message.group_id or "", _Group()).messages.append(message)

    def visible(self, message: Stored, *, returned: bool) -> None:
        group = self._groups[message.group_id or ""]
        if returned:
            group.inflight -= 1
        self._consider(message.group_id or "", group)

    def remove(self, message: Stored) -> None:
        gid = message.group_id or ""
        group = self._groups[gid]
        if message.state == INFLIGHT:
            group.inflight -= 1
        if group.queued and group.messages[0] is message:
            group.queued = False  # its heap entry names this head: stale from now on
        group.messages.remove(message)
        if group.messages:
            self._consider(gid, group)
        else:
            del self._groups[gid]

    def take(self, limit: int, admit: Callable[[Stored], bool]) -> list[Stored]:
        taken: list[Stored] = []
        while self._available and len(taken) < limit:
            head_seq, gid = heapq.heappop(self._available)
            group = self._groups.get(gid)
            if group is None or not group.queued or group.messages[0].seq != head_seq:
                continue  # stale entry
            group.queued = False
            # Like SQS, one receive may return several consecutive messages of a group.
            index = 0
            while len(taken) < limit and index < len(group.messages):
                message = group.messages[index]
                if message.state != VISIBLE:
                    break
                if admit(message):
                    group.inflight += 1
                    taken.append(message)
                    index += 1
                # else: admit moved it to the dead-letter queue (and removed it from the group)
            if gid in self._groups:
                self._consider(gid, group)
        return taken

    def clear(self) -> None:
        self._groups.clear()
        self._available.clear()

    def _consider(self, gid: str, group: _Group) -> None:
        if not group.queued and group.inflight == 0 and group.messages[0].state == VISIBLE:
            group.queued = True
            heapq.heappush(self._available, (group.messages[0].seq, gid))
