"""Provably fair randomness: commitment, HMAC rounds, unbiased sampling, the pick, verification."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from itertools import accumulate
from typing import Any

import pytest

from domain.fairness import (
    MISS,
    Pick,
    commitment_of,
    pick,
    random_below,
    round_bytes,
    uniform_below,
    verify_draw,
)

SEED = "s" * 64
OTHER_SEED = "t" * 64


# ---- commitment and rounds -----------------------------------------------------------------


def test_commitment_is_the_sha256_hex_of_the_seed():
    assert commitment_of("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert commitment_of(SEED) == hashlib.sha256(SEED.encode()).hexdigest()
    assert commitment_of(SEED) != commitment_of(OTHER_SEED)


def test_round_bytes_is_hmac_sha256_of_client_nonce_and_round():
    expected = hmac.new(SEED.encode(), b"player-7:42:3", hashlib.sha256).digest()

    assert round_bytes(SEED, "player-7", 42, 3) == expected
    assert len(expected) == 32


def test_round_bytes_changes_with_every_input():
    base = round_bytes(SEED, "c", 1, 0)
    variants = [
        round_bytes(OTHER_SEED, "c", 1, 0),
        round_bytes(SEED, "d", 1, 0),
        round_bytes(SEED, "c", 2, 0),
        round_bytes(SEED, "c", 1, 1),
    ]
    assert len({base, *variants}) == 5


def test_random_below_reads_big_endian_8_byte_chunks():
    digest = round_bytes(SEED, "c", 5, 0)
    first = int.from_bytes(digest[:8], "big")
    total = 1_000_003  # the rejection limit is far above any likely chunk

    value, used = random_below(SEED, "c", 5, total)

    assert (value, used) == (first % total, 1)


def test_random_below_moves_to_the_next_round_after_four_chunks():
    # total = 2**63 + 1: the limit is 2**63 + 1, so about half of all chunks are rejected.
    total = 2**63 + 1
    seen_rounds = set()
    for nonce in range(200):
        value, used = random_below(SEED, "c", nonce, total)
        assert 0 <= value < total
        chunks = [
            int.from_bytes(round_bytes(SEED, "c", nonce, r)[i : i + 8], "big")
            for r in range(4)
            for i in range(0, 32, 8)
        ]
        limit = 2**64 - 2**64 % total
        expected_used = next(i for i, c in enumerate(chunks, start=1) if c < limit)
        assert used == expected_used
        assert value == chunks[used - 1] % total
        seen_rounds.add((used - 1) // 4)
    assert seen_rounds >= {0, 1}  # some draws needed a second HMAC round


# ---- uniform_below -------------------------------------------------------------------------


def test_uniform_below_has_no_modulo_bias_over_all_8_bit_chunks():
    total = 3
    outcomes: Counter[int] = Counter()
    rejected = []
    for chunk in range(256):
        value, used = uniform_below(total, iter([chunk, 1]), chunk_bits=8)
        if used == 1:
            outcomes[value] += 1
            assert value == chunk % total
        else:
            rejected.append(chunk)
            assert (value, used) == (1, 2)  # the next chunk decided
    # 256 = 3 * 85 + 1: 255 values are accepted, 85 per residue, and only 255 is rejected.
    assert outcomes == {0: 85, 1: 85, 2: 85}
    assert rejected == [255]


def test_uniform_below_skips_every_rejected_chunk():
    assert uniform_below(3, iter([255, 255, 255, 7]), chunk_bits=8) == (1, 4)
    assert uniform_below(3, iter([254]), chunk_bits=8) == (2, 1)


@pytest.mark.parametrize("total", [1, 2, 4, 256])
def test_uniform_below_a_divisor_of_the_space_rejects_nothing(total):
    counts = Counter(uniform_below(total, iter([c]), chunk_bits=8)[0] for c in range(256))
    assert counts == dict.fromkeys(range(total), 256 // total)


@pytest.mark.parametrize("total", [5, 7, 100, 255])
def test_uniform_below_is_exactly_uniform_for_other_totals(total):
    counts: Counter[int] = Counter()
    for chunk in range(256):
        value, used = uniform_below(total, iter([chunk, 0]), chunk_bits=8)
        if used == 1:
            counts[value] += 1
    assert set(counts) == set(range(total))
    assert set(counts.values()) == {256 // total}


@pytest.mark.parametrize("total", [0, -1, 257])
def test_uniform_below_refuses_a_total_outside_the_chunk(total):
    with pytest.raises(ValueError, match="total weight"):
        uniform_below(total, iter([0]), chunk_bits=8)


# ---- pick ----------------------------------------------------------------------------------


def _arm_for(weights: list[tuple[str, int]], value: int) -> str:
    """The arm a value falls in, by a plain linear scan."""
    for arm, upper in zip((a for a, _ in weights), accumulate(w for _, w in weights), strict=True):
        if value < upper:
            return arm
    raise AssertionError(value)


def test_pick_maps_boundary_values_to_the_right_arm(monkeypatch):
    weights = [("a", 2), ("b", 3), (MISS, 5)]  # a: 0-1, b: 2-4, miss: 5-9
    expected = {0: "a", 1: "a", 2: "b", 4: "b", 5: MISS, 9: MISS}
    for value, arm in expected.items():
        monkeypatch.setattr(
            "domain.fairness.random_below", lambda *_args, v=value: (v, 1), raising=True
        )
        assert pick(weights, SEED, "c", 0) == Pick(arm, value, 10, 1)


def test_pick_agrees_with_a_linear_scan_and_the_raw_value():
    weights = [("a", 1), ("b", 7), ("c", 2), (MISS, 90)]
    arms: Counter[str] = Counter()
    for nonce in range(2_000):
        chosen = pick(weights, SEED, "client", nonce)
        value, chunks = random_below(SEED, "client", nonce, 100)
        assert (chosen.value, chosen.total, chosen.chunks) == (value, 100, chunks)
        assert chosen.arm == _arm_for(weights, value)
        arms[chosen.arm] += 1
    assert set(arms) == {"a", "b", "c", MISS}


def test_pick_with_a_single_arm_always_chooses_it():
    assert {pick([("only", 5)], SEED, "c", n).arm for n in range(50)} == {"only"}


def test_pick_is_deterministic_and_depends_on_the_seeds():
    weights = [("a", 1), ("b", 1)]
    first = [pick(weights, SEED, "c", n).value for n in range(64)]
    assert first == [pick(weights, SEED, "c", n).value for n in range(64)]
    assert first != [pick(weights, OTHER_SEED, "c", n).value for n in range(64)]
    assert first != [pick(weights, SEED, "d", n).value for n in range(64)]


# ---- verify_draw ---------------------------------------------------------------------------


def _trace(weights: list[tuple[str, int]], nonce: int, client: str = "c") -> dict[str, Any]:
    chosen = pick(weights, SEED, client, nonce)
    return {
        "nonce": nonce,
        "client_seed": client,
        "commitment": commitment_of(SEED),
        "weights": [[arm, w] for arm, w in weights],
        "value": chosen.value,
        "total": chosen.total,
        "chunks": chosen.chunks,
        "arm": chosen.arm,
        "outcome": "miss" if chosen.arm == MISS else "won",
        "prize_id": None if chosen.arm == MISS else chosen.arm,
    }


def test_verify_draw_reproduces_the_outcome():
    weights = [("a", 3), ("b", 1), (MISS, 6)]
    for nonce in range(100):
        trace = _trace(weights, nonce)
        assert verify_draw(trace, SEED) == trace["arm"]


def test_verify_draw_refuses_a_seed_that_does_not_match_the_commitment():
    trace = _trace([("a", 1), (MISS, 1)], 3)
    with pytest.raises(ValueError, match="commitment"):
        verify_draw(trace, OTHER_SEED)


ALTERED_TRACES: list[tuple[str, Any, str]] = [
    ("arm", "b", "trace says arm='b'"),
    ("value", "+1", "trace says value="),
    ("nonce", "+1", "trace says"),
    ("client_seed", "d", "trace says"),
    ("weights", [["a", 3], ["b", 2], [MISS, 6]], "trace says"),
    ("total", "+1", "trace says total="),
    ("chunks", "+1", "trace says chunks="),
    ("outcome", "miss", "trace says outcome='miss'"),
    ("prize_id", "b", "trace says prize_id='b'"),
    ("weights", [], "no weights"),
    ("nonce", "7", "no nonce"),
    ("client_seed", None, "no nonce or client seed"),
]


@pytest.mark.parametrize(("field", "change", "message"), ALTERED_TRACES)
def test_verify_draw_refuses_an_altered_trace(field, change, message):
    weights = [("a", 3), ("b", 1), (MISS, 6)]
    # A nonce whose honest outcome is "a", so that changing the arm to "b" is a lie.
    trace = next(t for t in (_trace(weights, n) for n in range(100)) if t["arm"] == "a")
    if change == "+1":
        trace[field] += 1
    else:
        trace[field] = change
    with pytest.raises(ValueError, match=message):
        verify_draw(trace, SEED)


def test_verify_draw_refuses_an_altered_commitment():
    trace = _trace([("a", 1), (MISS, 1)], 3)
    trace["commitment"] = commitment_of(OTHER_SEED)
    with pytest.raises(ValueError, match="commitment"):
        verify_draw(trace, SEED)
