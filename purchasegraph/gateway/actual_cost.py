"""What a request actually returned, in the units its requested cost was counted in.

The requested cost assumes every connection returns a full page; the actual cost counts the
nodes connections did return. Connections are built in many resolvers, so they report to a
per-request meter in a context variable rather than through every resolver's signature.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class NodeMeter:
    nodes: int = 0


METER: ContextVar[NodeMeter | None] = ContextVar("purchasegraph_node_meter", default=None)


def count_nodes(returned: int) -> None:
    meter = METER.get()
    if meter is not None:
        meter.nodes += returned
