"""Webhook signing secrets at rest: Fernet-encrypted with a key from the environment.

`PRECREDIT_WEBHOOK_KEY` holds a Fernet key (`SecretBox.new_key()` makes one). Stored values
start with `fernet:`; a value without it is a secret stored before encryption and is read as
it is (re-register the endpoint to encrypt it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken

from catalog.errors import InvalidInput, PrecreditError

PREFIX = "fernet:"


class SecretKeyMissing(PrecreditError):
    """No (or a wrong) key to encrypt or read webhook secrets."""

    http_status = 503
    code = "webhook_key_unavailable"


@dataclass(frozen=True)
class SecretBox:
    """Encrypts and decrypts webhook secrets with one Fernet key."""

    key: str = field(repr=False)

    def __post_init__(self) -> None:
        try:
            Fernet(self.key.encode())
        except (ValueError, TypeError) as error:
            raise InvalidInput("PRECREDIT_WEBHOOK_KEY is not a Fernet key") from error

    @staticmethod
    def new_key() -> str:
        """A fresh key for PRECREDIT_WEBHOOK_KEY."""
        return Fernet.generate_key().decode()

    def seal(self, secret: str) -> str:
        """The stored form of `secret`."""
        return PREFIX + Fernet(self.key.encode()).encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        """The secret behind a stored value (a value stored before encryption as it is)."""
        return open_secret(self, stored)


def open_secret(box: SecretBox | None, stored: str) -> str:
    """The secret behind `stored`; SecretKeyMissing when it is sealed and no key opens it."""
    if not stored.startswith(PREFIX):
        return stored
    if box is None:
        raise SecretKeyMissing("webhook secrets are encrypted: set PRECREDIT_WEBHOOK_KEY")
    try:
        return Fernet(box.key.encode()).decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken as error:
        raise SecretKeyMissing("PRECREDIT_WEBHOOK_KEY does not open this secret") from error


def seal_secret(box: SecretBox | None, secret: str) -> str:
    """`secret` sealed with `box` (as it is without one: development and tests only)."""
    return secret if box is None else box.seal(secret)


def box_for(key: str | None) -> SecretBox | None:
    """The box for a configured key (PRECREDIT_WEBHOOK_KEY), None without one."""
    return None if key is None else SecretBox(key)
