"""A least-recently-used cache bounded by bytes, not by entries.

The gateway caches what clients send (document text, persisted-query registrations), and a
client chooses how big that is: a cap on the number of entries lets 1,000 documents of 250 KB
hold 250 MB for good. Here every entry is weighed when stored (its key and its value, as the
caller's ``weigh`` estimates them) and the least recently used go until the total fits; an
entry heavier than the whole budget is simply not kept.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def text_bytes(text: str) -> int:
    """What a str occupies in memory (CPython stores 1, 2 or 4 bytes a character, plus a header)."""
    return sys.getsizeof(text)


class ByteBoundedLRU(Generic[K, V]):
    def __init__(self, max_bytes: int, weigh: Callable[[K, V], int]) -> None:
        self.max_bytes = max_bytes
        self._weigh = weigh
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: K) -> bool:
        return key in self._entries

    @property
    def bytes(self) -> int:
        """The weight of everything held: never more than ``max_bytes``."""
        return self._bytes

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: K, value: V) -> None:
        self.discard(key)
        weight = self._weigh(key, value)
        if weight > self.max_bytes:
            return
        self._entries[key] = (value, weight)
        self._bytes += weight
        while self._bytes > self.max_bytes:
            _, (_, evicted) = self._entries.popitem(last=False)
            self._bytes -= evicted

    def discard(self, key: K) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[1]
