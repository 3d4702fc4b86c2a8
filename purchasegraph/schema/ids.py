"""Opaque Relay global IDs.

A global ID carries the tenant of the object, so ``node(id)`` knows which tenant's scope to
apply before it runs any SQL (and a distributed database knows which shard to ask).
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class GlobalId:
    type_name: str
    tenant_id: uuid.UUID | None
    key: str

    @property
    def uuid(self) -> uuid.UUID:
        return uuid.UUID(self.key)


def encode_id(type_name: str, key: object, tenant_id: uuid.UUID | None = None) -> str:
    raw = f"{type_name}:{tenant_id}:{key}" if tenant_id is not None else f"{type_name}::{key}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_id(value: str) -> GlobalId | None:
    """The parts of a global ID, or None for anything this API did not issue."""
    try:
        padded = value + "=" * (-len(value) % 4)
        type_name, tenant, key = base64.urlsafe_b64decode(padded.encode()).decode().split(":", 2)
        tenant_id = uuid.UUID(tenant) if tenant else None
    except (binascii.Error, UnicodeError, ValueError):
        return None
    if not type_name or not key or not (type_name + key).isprintable():
        return None  # NUL or control characters: nothing this API issued, and unstorable
    return GlobalId(type_name=type_name, tenant_id=tenant_id, key=key)


def decode_uuid(value: str, type_name: str) -> uuid.UUID | None:
    """A raw UUID, or the UUID inside a global ID of the expected type; None otherwise."""
    try:
        return uuid.UUID(value)
    except ValueError:
        pass
    gid = decode_id(value)
    if gid is None or gid.type_name != type_name:
        return None
    try:
        return gid.uuid
    except ValueError:
        return None


@dataclass(frozen=True)
class Ref:
    """An id a mutation was sent. Known, it carries the object's UUID and the tenant that holds it;
    unknown (no ``key``), it names nothing this API issued, or nothing where the mutation looks,
    and the mutation refuses it as not found before anything runs."""

    type_name: str
    sent: str
    field: tuple[str, ...]
    tenant_id: uuid.UUID | None = None
    key: uuid.UUID | None = None

    @property
    def id(self) -> uuid.UUID:
        """The object's UUID: asked only of a known ref, as an unknown one never reaches an operation."""
        if self.key is None:
            raise LookupError(f"{self.sent!r} names no {self.type_name}")
        return self.key

    @property
    def what(self) -> str:
        """The type in words, for the message its refusal carries: PaymentMethod is "payment method"."""
        return re.sub(r"(?<!^)(?=[A-Z])", " ", self.type_name).lower()

    def within(self, other: Ref) -> Ref:
        """This ref, or an unknown one when it lies in another tenant than the known ``other``."""
        if other.key is None or self.tenant_id == other.tenant_id:
            return self
        return Ref(self.type_name, self.sent, self.field)


def decode_ref(value: str, type_name: str, home: uuid.UUID | None, *field: str) -> Ref:
    """What an id argument names: a global ID of ``type_name`` lies in the tenant it carries, a raw
    UUID in the caller's own (``home``), and a tenant is its own tenant."""
    try:
        key: uuid.UUID | None = uuid.UUID(value)
        tenant_id = home
    except ValueError:
        gid = decode_id(value)
        key = decode_uuid(value, type_name)
        tenant_id = gid.tenant_id if gid is not None else None
    if type_name == "Tenant":
        tenant_id = key
    if key is None or tenant_id is None:
        return Ref(type_name, value, field)
    return Ref(type_name, value, field, tenant_id, key)


# The printable invoice (gateway/invoice_page.py): the invoice's global ID under this path. A
# global ID is base64url without padding, so it needs no escaping in a URL.
INVOICE_PAGE_PREFIX = "/invoices/"


def invoice_page_path(invoice_global_id: str) -> str:
    """``Invoice.printUrl``: the path of the invoice's printable page on this server."""
    return INVOICE_PAGE_PREFIX + invoice_global_id


def product_key(value: str) -> str:
    """A commerce product id, given either raw (CFQ7TTC0H9MP) or as a Product global ID."""
    gid = decode_id(value)
    return gid.key if gid is not None and gid.type_name == "Product" else value
