"""Enums whose members carry the description the GraphQL schema shows beside each value.

A member reads ``NAME = value, description``: the value is what the database stores (or the
stable code a program branches on), and its documentation stands on the same line, so the two
cannot drift apart.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Self, TypeVar

import strawberry
from strawberry.types.enum import has_enum_definition

E = TypeVar("E", bound=enum.Enum)
D = TypeVar("D", bound="DescribedEnum")


class DescribedEnum(enum.Enum):
    _value_: str
    description: str

    # The default lets a lookup by value, `Kind("value")`, type-check: Enum answers lookups with
    # its own __new__, so this one only ever builds the declared members.
    def __new__(cls, value: str, description: str = "") -> Self:
        member = object.__new__(cls)
        member._value_ = value
        member.description = description
        return member


def graphql_enum(description: str) -> Callable[[type[D]], type[D]]:
    """Register the enum with Strawberry under its own name, each value described by its member."""

    def register(enum_type: type[D]) -> type[D]:
        strawberry.enum(enum_type, description=description)
        describe_values(enum_type, {member: member.description for member in enum_type})
        return enum_type

    return register


def describe_values(enum_type: type[E], descriptions: Mapping[E, str]) -> None:
    """Describe the schema values of a Strawberry enum, one text per member."""
    definition = enum_type
    assert has_enum_definition(definition), f"{enum_type.__name__} is not a Strawberry enum"
    for value in definition.__strawberry_definition__.values:
        value.description = descriptions[enum_type(value.value)]
