"""Strings the database can take: PostgreSQL text holds neither NUL nor lone surrogates.

Such strings are refused at the door as the caller's mistake, instead of failing deep inside a
resolver as an internal error.
"""

from __future__ import annotations


def storable(text: str) -> bool:
    return "\x00" not in text and not any("\ud800" <= c <= "\udfff" for c in text)
