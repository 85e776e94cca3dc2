"""Provably fair randomness: committed server seed, player client seed, never-reused nonce.

bytes  = HMAC-SHA256(server_seed, f"{client_seed}:{nonce}:{round}")
value  = an integer in [0, total) by rejection sampling over 8-byte chunks (no modulo bias)
choice = binary search of value over the cumulative integer weights

After an epoch rotates, its server seed is revealed; anyone can check SHA-256(seed) against the
commitment published before the epoch's first draw and recompute every draw with ``verify_draw``.
"""

from __future__ import annotations

import hashlib
import hmac
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate

__all__ = [
    "MISS",
    "Pick",
    "commitment_of",
    "pick",
    "random_below",
    "round_bytes",
    "uniform_below",
    "verify_draw",
]

MISS = "miss"
CHUNK_BYTES = 8


def commitment_of(server_seed: str) -> str:
    return hashlib.sha256(server_seed.encode()).hexdigest()


def round_bytes(server_seed: str, client_seed: str, nonce: int, round_: int) -> bytes:
    message = f"{client_seed}:{nonce}:{round_}".encode()
    return hmac.new(server_seed.encode(), message, hashlib.sha256).digest()


def uniform_below(total: int, chunks: Iterator[int], chunk_bits: int) -> tuple[int, int]:
    """(value, chunks used): the first chunk below the largest multiple of ``total`` that fits in
    ``chunk_bits`` bits, reduced modulo ``total``. Every value in [0, total) is equally likely."""
    if total <= 0:
        raise ValueError("total weight must be positive")
    space = 1 << chunk_bits
    if total > space:
        raise ValueError("total weight does not fit the chunk size")
    limit = space - space % total
    for used, chunk in enumerate(chunks, start=1):
        if chunk < limit:
            return chunk % total, used
    raise RuntimeError("random stream ended")  # pragma: no cover - the stream is unbounded


def _chunks(server_seed: str, client_seed: str, nonce: int) -> Iterator[int]:
    round_ = 0
    while True:
        digest = round_bytes(server_seed, client_seed, nonce, round_)
        for i in range(0, len(digest), CHUNK_BYTES):
            yield int.from_bytes(digest[i : i + CHUNK_BYTES], "big")
        round_ += 1


def random_below(server_seed: str, client_seed: str, nonce: int, total: int) -> tuple[int, int]:
    """(value in [0, total), chunks used) for one draw."""
    return uniform_below(total, _chunks(server_seed, client_seed, nonce), CHUNK_BYTES * 8)


@dataclass(frozen=True, slots=True)
class Pick:
    arm: str  # a prize id, or MISS
    value: int
    total: int
    chunks: int


def pick(
    weights: Sequence[tuple[str, int]], server_seed: str, client_seed: str, nonce: int
) -> Pick:
    """Choose one arm of ``weights`` (in their listed order) with probability weight / total."""
    cumulative = list(accumulate(w for _, w in weights))
    total = cumulative[-1]
    value, chunks = random_below(server_seed, client_seed, nonce, total)
    index = bisect_right(cumulative, value)
    return Pick(weights[index][0], value, total, chunks)


def verify_draw(trace: dict[str, object], revealed_seed: str) -> str:
    """Recompute one draw from its stored trace and the revealed seed; returns the arm picked.

    Raises ValueError if the seed does not match the commitment or the trace was altered.
    """
    if commitment_of(revealed_seed) != trace["commitment"]:
        raise ValueError("revealed seed does not match the epoch's commitment")
    raw = trace["weights"]
    if not isinstance(raw, list) or not raw:
        raise ValueError("trace has no weights")
    weights = [(str(arm), int(weight)) for arm, weight in raw]
    nonce, client_seed = trace["nonce"], trace["client_seed"]
    if not isinstance(nonce, int) or not isinstance(client_seed, str):
        raise ValueError("trace has no nonce or client seed")
    recomputed = pick(weights, revealed_seed, client_seed, nonce)
    expected = {
        "value": recomputed.value,
        "arm": recomputed.arm,
        "total": recomputed.total,
        "chunks": recomputed.chunks,
        "outcome": "miss" if recomputed.arm == MISS else "won",
        "prize_id": None if recomputed.arm == MISS else recomputed.arm,
    }
    for key, value in expected.items():
        if key in trace and trace[key] != value:
            raise ValueError(f"trace says {key}={trace[key]!r}, recomputed {value!r}")
    return recomputed.arm
