"""What a payout destination is made of: a bank account (IBAN) or a crypto address.

``normalise`` checks the player's input and returns the details exactly as payout needs them;
``mask`` is the only form anyone but payout ever sees. The checks catch typing mistakes before
money is sent to a wrong destination: the IBAN mod-97 check digits, Base58Check for legacy
Bitcoin and Tron addresses, the Bech32/Bech32m checksum for SegWit ones.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from enum import StrEnum

from domain.errors import DomainError

__all__ = [
    "InvalidPayoutMethod",
    "NETWORKS",
    "PayoutKind",
    "identity",
    "mask",
    "normalise",
]


class InvalidPayoutMethod(DomainError):
    recorded = False
    code = "invalid_payout_method"


class PayoutKind(StrEnum):
    BANK_ACCOUNT = "bank_account"
    CRYPTO_ADDRESS = "crypto_address"


_FIELDS = {
    PayoutKind.BANK_ACCOUNT: {"iban", "holder_name"},
    PayoutKind.CRYPTO_ADDRESS: {"network", "address"},
}
MAX_HOLDER_NAME = 140

# Lengths of the countries we expect most; any other country still gets the format and
# mod-97 checks.
_IBAN_LENGTHS = {
    "AT": 20, "BE": 16, "CH": 21, "CZ": 24, "DE": 22, "DK": 18, "ES": 24, "FI": 18, "FR": 27,
    "GB": 22, "IE": 22, "IT": 27, "LU": 20, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "SE": 24,
}  # fmt: skip
_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_ETHEREUM = re.compile(r"^0x[0-9a-fA-F]{40}$")
_BITCOIN_LEGACY = re.compile(rf"^[13][{_BASE58}]{{25,34}}$")
_BITCOIN_SEGWIT = re.compile(rf"^bc1[{_BECH32}]{{8,87}}$")
_TRON = re.compile(rf"^T[{_BASE58}]{{33}}$")
NETWORKS = ("bitcoin", "ethereum", "tron")


def normalise(kind: str, details: dict[str, str]) -> dict[str, str]:
    """The details in canonical form, or InvalidPayoutMethod naming what is wrong."""
    try:
        payout_kind = PayoutKind(kind)
    except ValueError:
        raise InvalidPayoutMethod(
            f"kind must be one of {', '.join(k.value for k in PayoutKind)}, got {kind!r}"
        ) from None
    expected = _FIELDS[payout_kind]
    if set(details) != expected or not all(isinstance(v, str) for v in details.values()):
        raise InvalidPayoutMethod(
            f"{kind} needs exactly the text fields {', '.join(sorted(expected))}"
        )
    if payout_kind is PayoutKind.BANK_ACCOUNT:
        return {
            "iban": _iban(details["iban"]),
            "holder_name": _holder_name(details["holder_name"]),
        }
    network = details["network"].strip().lower()
    return {"network": network, "address": _address(network, details["address"].strip())}


def mask(kind: str, details: dict[str, str]) -> str:
    """``DE89 **** **** **** 3000`` for an IBAN (the same width whatever its length), and the
    first 6 and last 4 characters of an address."""
    if kind == PayoutKind.BANK_ACCOUNT:
        iban = details["iban"]
        return f"{iban[:4]} **** **** **** {iban[-4:]}"
    address = details["address"]
    return f"{address[:6]}...{address[-4:]}"


def identity(kind: str, details: dict[str, str]) -> str:
    """What makes two methods the same destination (the holder's name does not)."""
    if kind == PayoutKind.BANK_ACCOUNT:
        return f"iban:{details['iban']}"
    return f"{details['network']}:{details['address']}"


def _iban(raw: str) -> str:
    iban = re.sub(r"[\s-]", "", raw).upper()
    if not _IBAN.match(iban):
        raise InvalidPayoutMethod("IBAN must be a country code, 2 check digits and the account")
    expected = _IBAN_LENGTHS.get(iban[:2])
    if expected is not None and len(iban) != expected:
        raise InvalidPayoutMethod(f"an IBAN of {iban[:2]} has {expected} characters")
    # ISO 13616: move the first four characters to the end, letters become 10..35, mod 97 = 1.
    digits = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4])
    if int(digits) % 97 != 1:
        raise InvalidPayoutMethod("IBAN check digits do not match: please check for a typo")
    return iban


def _holder_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name or len(name) > MAX_HOLDER_NAME or not name.isprintable():
        raise InvalidPayoutMethod(f"holder name must be 1..{MAX_HOLDER_NAME} printable characters")
    return name


def _address(network: str, address: str) -> str:
    check = _ADDRESS_CHECKS.get(network)
    if check is None:
        raise InvalidPayoutMethod(f"network must be one of {', '.join(NETWORKS)}")
    if not check(address):
        raise InvalidPayoutMethod(f"this is not a valid {network} address")
    return address


def _ethereum_address(address: str) -> bool:
    # The EIP-55 mixed-case checksum needs Keccak-256, which the standard library lacks.
    return bool(_ETHEREUM.match(address))


def _tron_address(address: str) -> bool:
    if not _TRON.match(address):
        return False
    payload = _base58check(address)
    return payload is not None and len(payload) == 21 and payload[0] == 0x41


def _bitcoin_address(address: str) -> bool:
    if _BITCOIN_LEGACY.match(address):
        payload = _base58check(address)
        return payload is not None and len(payload) == 21 and payload[0] in (0x00, 0x05)
    return bool(_BITCOIN_SEGWIT.match(address)) and _bech32_checksum_ok(address)


def _base58check(text: str) -> bytes | None:
    """The payload of a Base58Check string, or None if its 4-byte checksum does not match."""
    number = 0
    for char in text:
        number = number * 58 + _BASE58.index(char)
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    raw = b"\x00" * (len(text) - len(text.lstrip("1"))) + raw
    payload, checksum = raw[:-4], raw[-4:]
    digest = hashlib.sha256(hashlib.sha256(payload).digest()).digest()
    return payload if len(raw) > 4 and digest[:4] == checksum else None


def _bech32_checksum_ok(address: str) -> bool:
    """BIP 173 (Bech32, witness v0) and BIP 350 (Bech32m, v1+) checksums."""
    hrp, _, data = address.rpartition("1")
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    values += [_BECH32.index(c) for c in data]
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i, g in enumerate(generator):
            if (top >> i) & 1:
                checksum ^= g
    witness_version = _BECH32.index(data[0])
    return checksum == (1 if witness_version == 0 else 0x2BC830A3)


_ADDRESS_CHECKS: dict[str, Callable[[str], bool]] = {
    "bitcoin": _bitcoin_address,
    "ethereum": _ethereum_address,
    "tron": _tron_address,
}
