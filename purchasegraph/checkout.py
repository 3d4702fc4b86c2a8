"""Before sign-in: what an email address and a product id tell without a directory lookup.

The FAQ's checkout starts with an email address. Before the buyer signs in, the gateway answers
only what the public catalogue and the address itself say: whether the product is sold
self-service at all, and that a personal address (a consumer mail domain) cannot buy for an
organization. Everything else (tenant, user, policy, country) needs the directory, so it is
``SIGN_IN_REQUIRED`` and, after sign-in, ``viewer.eligibility``. Nothing here reads the
directory: the answer for a domain of a real tenant and for an unknown one is the same by
construction: an anonymous caller sees the public catalogue and nothing of any tenant.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# Consumer (personal) mail domains: an address here is a Microsoft account or another personal
# mailbox, never a work or school account. Matched on the whole domain, case-insensitively.
CONSUMER_MAIL_DOMAINS = frozenset(
    {
        # Microsoft accounts
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "passport.com",
        "outlook.de",
        "outlook.fr",
        "hotmail.co.uk",
        "hotmail.de",
        "hotmail.fr",
        "live.co.uk",
        "live.de",
        "live.fr",
        # Google, Apple, Yahoo, AOL
        "gmail.com",
        "googlemail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.co.jp",
        "yahoo.com.br",
        "yahoo.de",
        "yahoo.fr",
        "ymail.com",
        "aol.com",
        # Other large personal mail providers
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "zoho.com",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "naver.com",
        "uol.com.br",
        "bol.com.br",
        "rediffmail.com",
    }
)

SIGN_IN_HINT = "After you sign in, your organization's settings decide whether you can buy it yourself."


class CheckoutReason(enum.Enum):
    PRODUCT_NOT_SOLD_SELF_SERVICE = "This product isn't sold self-service."
    INVALID_EMAIL_ADDRESS = "That isn't an email address."
    PERSONAL_EMAIL_ADDRESS = "Personal email addresses can't buy for an organization: use your work or school account."
    SIGN_IN_REQUIRED = "Sign in with your work or school account to continue."


@dataclass(frozen=True)
class CheckoutAnswer:
    reasons: tuple[CheckoutReason, ...]

    @property
    def can_continue(self) -> bool:
        """Nothing known before sign-in blocks: the next step is signing in."""
        return self.reasons == (CheckoutReason.SIGN_IN_REQUIRED,)

    @property
    def message(self) -> str:
        text = " ".join(reason.value for reason in self.reasons)
        return f"{text} {SIGN_IN_HINT}" if self.can_continue else text


def mail_domain(email: str) -> str | None:
    """The domain of an address (lower case, no trailing dot), or None if it is not one."""
    local, at, domain = email.strip().rpartition("@")
    domain = domain.lower().rstrip(".")
    if not at or not local or "." not in domain or any(c.isspace() for c in email.strip()):
        return None
    return domain


def check_before_sign_in(email: str, *, product_sold_self_service: bool) -> CheckoutAnswer:
    """Every reason the address and the catalogue give, or ``SIGN_IN_REQUIRED`` alone."""
    reasons: list[CheckoutReason] = []
    if not product_sold_self_service:
        reasons.append(CheckoutReason.PRODUCT_NOT_SOLD_SELF_SERVICE)
    domain = mail_domain(email)
    if domain is None:
        reasons.append(CheckoutReason.INVALID_EMAIL_ADDRESS)
    elif domain in CONSUMER_MAIL_DOMAINS:
        reasons.append(CheckoutReason.PERSONAL_EMAIL_ADDRESS)
    return CheckoutAnswer(tuple(reasons) or (CheckoutReason.SIGN_IN_REQUIRED,))
