"""The payment processor: cards in, tokens and charges out.

The gateway never stores or logs a card number or CVC: it hands them to the processor, keeps
the token, brand, last four digits and expiry, and charges the token. ``SandboxProcessor`` is
the development and test processor; its test card numbers approve, decline and fail the way a
real processor's do (the numbers are the ones card networks publish for testing).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

# Test cards of the sandbox: anything else that passes the Luhn check is approved too.
CARD_DECLINED_NUMBER = "4000000000000002"
CARD_PROCESSOR_ERROR_NUMBER = "4000000000000119"


class CardDeclined(Exception):
    """The issuer refused the charge; nothing was taken."""


class ProcessorUnavailable(Exception):
    """The processor failed or timed out; the charge did not happen and may be retried."""


class InvalidCard(Exception):
    """The card details cannot be a card (number, expiry or CVC)."""


@dataclass(frozen=True)
class CardDetails:
    number: str
    exp_month: int
    exp_year: int
    cvc: str

    def __repr__(self) -> str:  # never let a card number reach a log line through a repr
        return f"CardDetails(last4={self.number[-4:]!r}, exp={self.exp_month}/{self.exp_year})"


@dataclass(frozen=True)
class CardToken:
    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class Charge:
    charge_id: str
    token: str
    amount: Decimal
    currency: str


class PaymentProcessor(Protocol):
    async def tokenize(self, card: CardDetails) -> CardToken: ...

    async def charge(self, token: str, amount: Decimal, currency: str, *, reference: str) -> Charge: ...

    async def void(self, charge_id: str) -> None: ...


def ascii_digits(text: str) -> bool:
    """0-9 only: ``str.isdigit`` also accepts Arabic-Indic, full-width and superscript digits,
    which no card network issues (and ``int("²")`` raises)."""
    return text.isascii() and text.isdigit()


def normalized_number(number: str) -> str:
    """The card number without the spaces and dashes people type between its groups."""
    return number.replace(" ", "").replace("-", "")


def card_problem(card: CardDetails) -> str | None:
    """Why these details cannot be a card, or None. Expiry against the date is the caller's:
    it belongs to the application's clock, which a processor does not know."""
    if not luhn_valid(normalized_number(card.number)):
        return "the card number is not valid"
    if not 1 <= card.exp_month <= 12 or not 2000 <= card.exp_year <= 2100:
        return "the expiry date is not valid"
    if not (ascii_digits(card.cvc) and len(card.cvc) in (3, 4)):
        return "the security code is not valid"
    return None


def luhn_valid(number: str) -> bool:
    if not ascii_digits(number) or not 12 <= len(number) <= 19:
        return False
    total = 0
    for position, digit in enumerate(int(d) for d in reversed(number)):
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def card_brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    if number.startswith("6011") or number.startswith("65"):
        return "discover"
    raise InvalidCard("card brand not accepted")


@dataclass
class SandboxProcessor:
    """In-process processor for development and tests; records what it charged and voided."""

    charges: list[Charge] = field(default_factory=list)
    voided: list[str] = field(default_factory=list)
    # Tokens whose cards decline or fail at charge time (the card's number decides at tokenize).
    _behaviour: dict[str, str] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def tokenize(self, card: CardDetails) -> CardToken:
        problem = card_problem(card)
        if problem is not None:
            raise InvalidCard(problem)
        number = normalized_number(card.number)
        token = f"tok_sandbox_{secrets.token_hex(12)}"
        if number == CARD_DECLINED_NUMBER:
            self._behaviour[token] = "decline"
        elif number == CARD_PROCESSOR_ERROR_NUMBER:
            self._behaviour[token] = "fail"
        return CardToken(token, card_brand(number), number[-4:], card.exp_month, card.exp_year)

    async def charge(self, token: str, amount: Decimal, currency: str, *, reference: str) -> Charge:
        behaviour = self._behaviour.get(token)
        if behaviour == "decline":
            raise CardDeclined("the card was declined")
        if behaviour == "fail":
            raise ProcessorUnavailable("the payment processor did not answer")
        charge = Charge(f"ch_sandbox_{uuid.uuid4().hex}", token, amount, currency)
        async with self._lock:
            self.charges.append(charge)
        return charge

    async def void(self, charge_id: str) -> None:
        async with self._lock:
            self.voided.append(charge_id)

    def settled(self) -> list[Charge]:
        """Charges that were not voided: what the customer really paid."""
        return [c for c in self.charges if c.charge_id not in self.voided]

    def decline_token(self, token: str) -> None:
        """Make a stored card decline from now on (an expired or blocked card), for renewal tests."""
        self._behaviour[token] = "decline"
