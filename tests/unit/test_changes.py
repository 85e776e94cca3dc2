"""Change requests: the ChangeRequest state machine (given/when/then), what a change does to a
pool (apply, describe, revision), and the Changes use cases over the embedded system."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from application.changes import ChangeView
from application.errors import NotFound
from domain.cause import Cause
from domain.changes import (
    ChangeEmpty,
    ChangeKind,
    ChangeRequest,
    ChangeRequestStale,
    NotChangeMaker,
    PreconditionFailed,
    PreconditionRequired,
    change_request_id,
    diff,
)
from domain.errors import IllegalTransition, InvalidAmount, InvalidArgument, SelfApprovalRefused
from domain.pool import PrizePool, UnknownPrize
from domain.pool_changes import ABSENT, apply_to_pool, describe_pool, pool_revision
from domain.prizes import PoolControls, Prize
from infrastructure.bootstrap import System
from tests.unit.conftest import names, payload, refused

MAKER = Cause("operator:alice", "draft-1", "more gold")
CHECKER = Cause("operator:bob", "approve-1", "looks right")
GOLD = {"prize_id": "gold", "name": "Gold", "kind": "cash", "reward": 500, "weight": 10}


def given_change(*steps: str, kind: ChangeKind = ChangeKind.PRIZE_ADD) -> ChangeRequest:
    change = ChangeRequest.draft(kind, "wheel", dict(GOLD), "rev-1", MAKER)
    for step in steps:
        if step == "submitted":
            change.submit(Cause("operator:alice", "given-submit"))
        elif step == "approved":
            change.approve("rev-1", Cause("operator:bob", "given-approve"))
        elif step == "published":
            change.publish("rev-1", Cause("operator:bob", "given-publish"))
    change.collect_events()
    return change


def given_pool(*prizes: dict[str, Any], draw_cost: int = 100) -> PrizePool:
    cause = Cause("operator:alice", "given")
    pool = PrizePool.create("wheel", "Wheel", "EUR", draw_cost, PoolControls(), "s" * 64, cause)
    for prize in prizes:
        pool.add_prize(Prize(**prize), cause)
    pool.collect_events()
    return pool


# ---- draft ---------------------------------------------------------------------------------


def test_draft_records_the_proposal_against_the_targets_revision():
    change = ChangeRequest.draft(ChangeKind.PRIZE_ADD, "wheel", dict(GOLD), "rev-1", MAKER)

    events = change.collect_events()
    assert names(events) == ["Drafted"]
    assert payload(events[0]) == {
        "kind": "prize.add",
        "target": "wheel",
        "payload": GOLD,
        "base_version": "rev-1",
        "maker": "operator:alice",
        "reason": "more gold",
        "actor": "operator:alice",
        "request_id": "draft-1",
    }
    assert change.state == "draft"
    assert change.id == change_request_id("operator:alice", "draft-1")


def test_the_same_drafting_request_always_names_the_same_stream():
    assert change_request_id("operator:a", "r1") == change_request_id("operator:a", "r1")
    assert change_request_id("operator:a", "r1") != change_request_id("operator:b", "r1")
    assert change_request_id("operator:a|b", "r") != change_request_id("operator:a", "b|r")


@pytest.mark.parametrize(
    ("target", "body"),
    [
        ("", {}),
        ("x" * 101, {}),
        ("wheel", ["not", "an", "object"]),
        ("wheel", {"a": 1} | {f"k{i}": i for i in range(40)}),
    ],
)
def test_draft_refuses_a_bad_target_or_payload(target, body):
    with pytest.raises(InvalidArgument):
        ChangeRequest.draft(ChangeKind.POOL_UPDATE, target, body, "rev-1", MAKER)


def test_an_unknown_kind_is_refused():
    with pytest.raises(InvalidArgument):
        ChangeKind.parse("pool.delete")
    assert ChangeKind.parse("prize.restock") is ChangeKind.PRIZE_RESTOCK


# ---- submit / approve ----------------------------------------------------------------------


def test_submit_by_the_maker_records_submitted():
    change = given_change()

    change.submit(Cause("operator:alice", "submit-1", "ready"))

    events = change.collect_events()
    assert names(events) == ["Submitted"]
    assert payload(events[0]) == {
        "reason": "ready",
        "actor": "operator:alice",
        "request_id": "submit-1",
    }
    assert change.state == "submitted"


def test_only_the_maker_submits():
    change = given_change()
    with refused(change, NotChangeMaker):
        change.submit(Cause("operator:bob", "submit-1"))


def test_submit_twice_is_an_illegal_transition():
    change = given_change("submitted")
    with refused(change, IllegalTransition):
        change.submit(Cause("operator:alice", "submit-2"))


def test_approve_by_another_operator_records_the_approver():
    change = given_change("submitted")

    change.approve("rev-1", CHECKER)

    events = change.collect_events()
    assert names(events) == ["Approved"]
    assert payload(events[0]) == {
        "reason": "looks right",
        "actor": "operator:bob",
        "request_id": "approve-1",
    }
    assert (change.state, change.approver) == ("approved", "operator:bob")


def test_self_approval_is_refused():
    change = given_change("submitted")
    with refused(change, SelfApprovalRefused) as excinfo:
        change.approve("rev-1", Cause("operator:alice", "approve-1"))
    assert excinfo.value.code == "self_approval_refused"


def test_approval_of_a_stale_request_is_refused():
    change = given_change("submitted")
    with refused(change, ChangeRequestStale) as excinfo:
        change.approve("rev-2", CHECKER)
    assert excinfo.value.code == "change_request_stale"


@pytest.mark.parametrize("steps", [(), ("submitted", "approved")])
def test_approve_outside_submitted_is_an_illegal_transition(steps):
    change = given_change(*steps)
    with refused(change, IllegalTransition):
        change.approve("rev-1", Cause("operator:carol", "approve-2"))


def test_only_an_operator_approves():
    change = given_change("submitted")
    with refused(change, IllegalTransition):
        change.approve("rev-1", Cause("system:robot", "approve-1"))


# ---- reject / withdraw ---------------------------------------------------------------------


@pytest.mark.parametrize("steps", [("submitted",), ("submitted", "approved")])
def test_reject_records_who_and_why(steps):
    change = given_change(*steps)

    change.reject(Cause("operator:bob", "reject-1", "  not now "))

    events = change.collect_events()
    assert names(events) == ["Rejected"]
    assert payload(events[0])["reason"] == "not now"
    assert (change.state, change.closed_by, change.closing_reason) == (
        "rejected",
        "operator:bob",
        "not now",
    )


def test_reject_needs_a_reason():
    change = given_change("submitted")
    with refused(change, InvalidArgument):
        change.reject(Cause("operator:bob", "reject-1", "   "))


def test_a_draft_cannot_be_rejected():
    change = given_change()
    with refused(change, IllegalTransition):
        change.reject(Cause("operator:bob", "reject-1", "no"))


@pytest.mark.parametrize("steps", [(), ("submitted",), ("submitted", "approved")])
def test_the_maker_withdraws_an_open_request(steps):
    change = given_change(*steps)

    change.withdraw(Cause("operator:alice", "withdraw-1", "changed my mind"))

    assert names(change.collect_events()) == ["Withdrawn"]
    assert (change.state, change.closed_by) == ("withdrawn", "operator:alice")


def test_only_the_maker_withdraws():
    change = given_change("submitted")
    with refused(change, NotChangeMaker):
        change.withdraw(Cause("operator:bob", "withdraw-1", "mine now"))


def test_a_published_request_cannot_be_withdrawn():
    change = given_change("submitted", "approved", "published")
    with refused(change, IllegalTransition):
        change.withdraw(Cause("operator:alice", "withdraw-1", "too late"))


# ---- publish -------------------------------------------------------------------------------


def test_publish_an_approved_fresh_request_records_the_publisher():
    change = given_change("submitted", "approved")

    change.publish("rev-1", Cause("operator:bob", "publish-1", "go"))

    events = change.collect_events()
    assert names(events) == ["Published"]
    assert (change.state, change.publisher) == ("published", "operator:bob")


def test_publish_of_a_stale_request_is_refused():
    change = given_change("submitted", "approved")
    with refused(change, ChangeRequestStale):
        change.publish("rev-2", Cause("operator:bob", "publish-1", "go"))


@pytest.mark.parametrize("steps", [(), ("submitted",), ("submitted", "approved", "published")])
def test_publish_needs_an_approved_request(steps):
    change = given_change(*steps)
    with refused(change, IllegalTransition):
        change.publish("rev-1", Cause("operator:bob", "publish-1", "go"))


# ---- diff ----------------------------------------------------------------------------------


def test_diff_lists_changed_added_and_removed_fields_in_order():
    before = {"name": "A", "cost": 1, "gone": 5, "same": True}
    after = {"name": "B", "cost": 1, "same": True, "new": None}

    assert diff(before, after) == [
        {"field": "name", "before": "A", "after": "B"},
        {"field": "gone", "before": 5, "after": None},
        {"field": "new", "before": None, "after": None},
    ]
    assert diff(before, dict(before)) == []


# ---- what a change does to a pool ----------------------------------------------------------


def test_pool_update_applies_name_cost_and_rtp_through_the_pools_commands():
    pool = given_pool(GOLD)

    apply_to_pool(
        pool,
        ChangeKind.POOL_UPDATE,
        {"name": "Gold rush", "draw_cost": 200, "rtp_target_bps": 9_000},
        MAKER,
    )

    assert names(pool.collect_events()) == ["Renamed", "DrawCostChanged", "ControlsChanged"]
    assert (pool.name, pool.draw_cost, pool.controls.rtp_target_bps) == ("Gold rush", 200, 9_000)


def test_pool_update_sets_new_bounds_before_a_cost_outside_the_old_ones():
    pool = given_pool(draw_cost=100)
    pool.set_controls(PoolControls(cost_min=50, cost_max=150), MAKER)
    pool.collect_events()

    apply_to_pool(
        pool,
        ChangeKind.POOL_UPDATE,
        {"draw_cost": 300, "controls": {"cost_max": 400}},
        MAKER,
    )

    assert names(pool.collect_events()) == ["ControlsChanged", "DrawCostChanged"]
    assert (pool.draw_cost, pool.controls.cost_max) == (300, 400)


@pytest.mark.parametrize(
    ("kind", "body", "error"),
    [
        (ChangeKind.POOL_UPDATE, {"colour": "red"}, InvalidArgument),
        (ChangeKind.POOL_UPDATE, {"controls": {"no_such_control": 1}}, InvalidArgument),
        (ChangeKind.POOL_UPDATE, {"controls": [1]}, InvalidArgument),
        (ChangeKind.POOL_UPDATE, {"draw_cost": "100"}, InvalidAmount),
        (ChangeKind.PRIZE_ADD, {"prize_id": "silver"}, InvalidArgument),
        (ChangeKind.PRIZE_ADD, GOLD, InvalidArgument),  # already exists
        (ChangeKind.PRIZE_CHANGE, {"prize_id": "gold", "stock": 5}, InvalidArgument),
        (ChangeKind.PRIZE_CHANGE, {"prize_id": "silver", "weight": 5}, UnknownPrize),
        (ChangeKind.PRIZE_RETIRE, {"prize_id": "silver"}, UnknownPrize),
        (ChangeKind.PRIZE_RESTOCK, {"prize_id": "gold", "added": 5}, InvalidArgument),
        (ChangeKind.POOL_CREATE, {"name": "x", "draw_cost": 1}, InvalidArgument),
    ],
)
def test_a_change_the_pools_rules_refuse_records_nothing(kind, body, error):
    pool = given_pool(GOLD)  # gold has unlimited stock: it cannot be restocked
    with refused(pool, error):
        apply_to_pool(pool, kind, body, MAKER)


def test_prize_changes_add_edit_restock_and_retire():
    pool = given_pool(GOLD)

    apply_to_pool(pool, ChangeKind.PRIZE_ADD, {**GOLD, "prize_id": "tin", "stock": 3}, MAKER)
    apply_to_pool(pool, ChangeKind.PRIZE_CHANGE, {"prize_id": "gold", "weight": 20}, MAKER)
    apply_to_pool(pool, ChangeKind.PRIZE_RESTOCK, {"prize_id": "tin", "added": 4}, MAKER)
    apply_to_pool(pool, ChangeKind.PRIZE_RETIRE, {"prize_id": "gold"}, MAKER)

    assert names(pool.collect_events()) == [
        "PrizeAdded",
        "PrizeChanged",
        "Restocked",
        "PrizeRetired",
    ]
    assert list(pool.prizes) == ["tin"]
    assert pool.stock == {"tin": 7}


def test_describe_pool_flattens_the_configuration_with_live_stock():
    pool = given_pool({**GOLD, "stock": 2})
    pool.restock("gold", 3, MAKER)

    described = describe_pool(pool)

    assert described["name"] == "Wheel"
    assert described["draw_cost"] == 100
    assert described["controls.rtp_target_bps"] == 9_500
    assert described["prizes.gold.weight"] == 10
    assert described["prizes.gold.stock"] == 5
    assert describe_pool(None) == {}


def test_the_revision_follows_the_configuration_not_the_streams_traffic():
    pool = given_pool({**GOLD, "stock": 2})
    first = pool_revision(pool)

    pool.fund_from_marketing(10_000, MAKER)
    pool.restock("gold", 1, MAKER)
    pool.pause("lunch", MAKER)
    assert pool_revision(pool) == first

    pool.set_draw_cost(150, MAKER)
    assert pool_revision(pool) != first
    assert pool_revision(None) == ABSENT


# ---- the Changes use cases -----------------------------------------------------------------


def op(name: str, step: str, reason: str = "because") -> Cause:
    return Cause(f"operator:{name}", f"{step}-{uuid.uuid4().hex}", reason)


def cid(view: ChangeView) -> uuid.UUID:
    return uuid.UUID(view.change_id)


def through(system: System, view: ChangeView, publish: bool = True) -> ChangeView:
    """Submit (by the maker), approve (by bob) and publish (by bob)."""
    maker = view.maker.removeprefix("operator:")
    system.changes.submit(cid(view), op(maker, "submit"))
    view = system.changes.approve(cid(view), op("bob", "approve"))
    return system.changes.publish(cid(view), op("bob", "publish")) if publish else view


def create_wheel(system: System) -> None:
    body = {"name": "Wheel", "draw_cost": 100, "controls": {"rtp_target_bps": 9_000}}
    through(system, system.changes.draft("pool.create", "wheel", body, None, op("alice", "d")))
    etag = system.changes.revision(ChangeKind.PRIZE_ADD, "wheel")
    add = system.changes.draft("prize.add", "wheel", dict(GOLD), etag, op("alice", "d"))
    through(system, add)


def test_a_published_pool_create_makes_the_pool(embedded: System):
    create_wheel(embedded)

    summary = embedded.pools.summary("wheel")
    assert (summary.name, summary.draw_cost, summary.controls["rtp_target_bps"]) == (
        "Wheel",
        100,
        9_000,
    )
    assert [p["prize_id"] for p in summary.prizes] == ["gold"]


def test_publish_saves_the_change_and_the_published_event_in_one_transaction(embedded: System):
    create_wheel(embedded)
    etag = embedded.changes.revision(ChangeKind.POOL_UPDATE, "wheel")
    draft = embedded.changes.draft(
        "pool.update", "wheel", {"draw_cost": 120}, etag, op("alice", "d")
    )
    head = embedded.ledger.recorder.max_notification_id() or 0

    published = through(embedded, draft)

    assert published.state == "published"
    assert published.publisher == "operator:bob"
    saved = embedded.ledger.recorder.select_notifications(head + 1, 100)[-3:]
    # the publishing save: its receipt, the request's Published and the pool's new cost
    assert [n.topic.rsplit(".", 1)[-1] for n in saved] == [
        "Recorded",
        "Published",
        "DrawCostChanged",
    ]
    events = [embedded.ledger.mapper.to_domain_event(n) for n in saved]
    assert len({e.request_id for e in events}) == 1  # type: ignore[attr-defined]
    assert embedded.pools.summary("wheel").draw_cost == 120


def test_a_failed_apply_records_nothing_and_leaves_the_request_approved(embedded: System):
    create_wheel(embedded)
    etag = embedded.changes.revision(ChangeKind.PRIZE_ADD, "wheel")
    body = {**GOLD, "prize_id": "silver"}
    approved = through(
        embedded,
        embedded.changes.draft("prize.add", "wheel", body, etag, op("alice", "d")),
        publish=False,
    )
    embedded.pools.close("wheel", "season over", op("carol", "close"))  # not a config edit

    with pytest.raises(IllegalTransition):
        embedded.changes.publish(cid(approved), op("bob", "publish"))

    assert embedded.changes.get(cid(approved)).state == "approved"
    assert "silver" not in {p["prize_id"] for p in embedded.pools.summary("wheel").prizes}


def test_drafting_an_edit_needs_the_targets_current_etag(embedded: System):
    create_wheel(embedded)
    body = {"prize_id": "gold", "weight": 50}

    with pytest.raises(PreconditionRequired):
        embedded.changes.draft("prize.change", "wheel", body, None, op("alice", "d"))
    with pytest.raises(PreconditionFailed):
        embedded.changes.draft("prize.change", "wheel", body, "not-the-etag", op("alice", "d"))
    etag = embedded.changes.revision(ChangeKind.PRIZE_CHANGE, "wheel")
    draft = embedded.changes.draft("prize.change", "wheel", body, etag, op("alice", "d"))
    assert (draft.state, draft.base_version) == ("draft", etag)


def test_a_draft_that_changes_nothing_or_breaks_a_rule_is_refused(embedded: System):
    create_wheel(embedded)
    etag = embedded.changes.revision(ChangeKind.POOL_UPDATE, "wheel")

    with pytest.raises(ChangeEmpty):
        embedded.changes.draft("pool.update", "wheel", {"draw_cost": 100}, etag, op("a", "d"))
    with pytest.raises(InvalidArgument):
        embedded.changes.draft("prize.add", "wheel", dict(GOLD), etag, op("a", "d"))
    with pytest.raises(NotFound):
        embedded.changes.draft("prize.add", "other", dict(GOLD), ABSENT, op("a", "d"))


def test_a_retried_draft_returns_the_same_request(embedded: System):
    create_wheel(embedded)
    etag = embedded.changes.revision(ChangeKind.POOL_UPDATE, "wheel")
    cause = op("alice", "draft")

    first = embedded.changes.draft("pool.update", "wheel", {"name": "W2"}, etag, cause)
    again = embedded.changes.draft("pool.update", "wheel", {"name": "W2"}, etag, cause)

    assert again == first


def test_self_approval_is_refused_through_the_use_case(embedded: System):
    create_wheel(embedded)
    etag = embedded.changes.revision(ChangeKind.POOL_UPDATE, "wheel")
    draft = embedded.changes.draft("pool.update", "wheel", {"name": "W2"}, etag, op("alice", "d"))
    embedded.changes.submit(cid(draft), op("alice", "submit"))

    with pytest.raises(SelfApprovalRefused):
        embedded.changes.approve(cid(draft), op("alice", "approve"))
    assert embedded.changes.get(cid(draft)).state == "submitted"


def test_the_second_of_two_requests_drafted_on_one_revision_is_stale(embedded: System):
    create_wheel(embedded)
    etag = embedded.changes.revision(ChangeKind.POOL_UPDATE, "wheel")
    first = embedded.changes.draft("pool.update", "wheel", {"name": "A"}, etag, op("alice", "d"))
    second = embedded.changes.draft("pool.update", "wheel", {"name": "B"}, etag, op("carol", "d"))
    embedded.changes.submit(cid(second), op("carol", "submit"))
    embedded.changes.approve(cid(second), op("bob", "approve"))

    through(embedded, first)

    with pytest.raises(ChangeRequestStale):
        embedded.changes.publish(cid(second), op("bob", "publish"))
    assert embedded.changes.get(cid(second)).state == "approved"
    assert embedded.pools.summary("wheel").name == "A"


def test_funding_and_draws_do_not_make_a_pool_change_stale(embedded: System):
    create_wheel(embedded)
    etag = embedded.changes.revision(ChangeKind.PRIZE_CHANGE, "wheel")
    body = {"prize_id": "gold", "weight": 30}
    draft = embedded.changes.draft("prize.change", "wheel", body, etag, op("alice", "d"))
    embedded.pools.fund("wheel", 50_000, op("carol", "fund"))

    through(embedded, draft)

    assert embedded.pools.summary("wheel").prizes[0]["weight"] == 30


def test_preview_shows_the_diff_and_the_odds_publishing_gives(embedded: System):
    create_wheel(embedded)
    embedded.pools.fund("wheel", 100_000, op("carol", "fund"))
    etag = embedded.changes.revision(ChangeKind.PRIZE_ADD, "wheel")
    body = {"prize_id": "tin", "name": "Tin", "kind": "bonus", "reward": 50, "weight": 40}
    draft = embedded.changes.draft("prize.add", "wheel", body, etag, op("alice", "d"))
    odds_before = embedded.pools.odds("wheel")

    preview = embedded.changes.preview(cid(draft))

    assert preview.stale is False
    assert preview.problem is None
    fields = {row["field"]: (row["before"], row["after"]) for row in preview.diff}
    assert fields["prizes.tin.weight"] == (None, 40)
    assert fields["prizes.tin.reward"] == (None, 50)
    assert "prizes.gold.weight" not in fields
    assert preview.odds_before is not None
    assert preview.odds_before.rows == odds_before.rows
    through(embedded, draft)
    assert preview.odds_after is not None
    assert preview.odds_after.rows == embedded.pools.odds("wheel").rows
    assert preview.odds_after.rows != odds_before.rows


def test_preview_of_a_closed_request_is_empty_and_of_a_broken_one_names_the_problem(
    embedded: System,
):
    create_wheel(embedded)
    etag = embedded.changes.revision(ChangeKind.PRIZE_RETIRE, "wheel")
    retire = embedded.changes.draft(
        "prize.retire", "wheel", {"prize_id": "gold"}, etag, op("alice", "d")
    )
    change = embedded.changes.draft(
        "prize.change", "wheel", {"prize_id": "gold", "weight": 3}, etag, op("carol", "d")
    )
    through(embedded, retire)

    closed = embedded.changes.preview(cid(retire))
    assert (closed.diff, closed.odds_after, closed.problem) == ([], None, None)
    broken = embedded.changes.preview(cid(change))
    assert broken.stale is True
    assert broken.problem is not None
    assert broken.problem["code"] == "unknown_prize"


def test_a_config_set_is_checked_at_draft_and_applied_at_publish(embedded: System):
    with pytest.raises(PreconditionRequired):
        embedded.changes.draft("config.set", "deposit_max", {"value": 5}, None, op("a", "d"))
    with pytest.raises(InvalidArgument):
        embedded.changes.draft("config.set", "deposit_max", {"v": 5}, "v0", op("a", "d"))
    from domain.config import ConfigInvalid

    with pytest.raises(ConfigInvalid):
        embedded.changes.draft("config.set", "deposit_max", {"value": 50}, "v0", op("a", "d"))

    draft = embedded.changes.draft(
        "config.set", "deposit_max", {"value": 5_000}, "v0", op("alice", "d")
    )
    assert embedded.changes.preview(cid(draft)).diff == [
        {"field": "deposit_max", "before": 1_000_000, "after": 5_000}
    ]
    through(embedded, draft)

    assert embedded.config.setting("deposit_max").value == 5_000
    assert embedded.config.setting("deposit_max").revision == "v1"
    assert embedded.config.history("deposit_max")[0].change_id == draft.change_id


def test_unknown_change_requests_are_not_found(embedded: System):
    missing = uuid.uuid4()
    with pytest.raises(NotFound):
        embedded.changes.get(missing)
    with pytest.raises(NotFound):
        embedded.changes.approve(missing, op("bob", "approve"))


def test_the_pool_key_is_checked_at_draft(embedded: System):
    body = {"name": "Bad", "draw_cost": 100}
    head = embedded.ledger.recorder.max_notification_id()

    with pytest.raises(InvalidArgument):
        embedded.changes.draft("pool.create", "Not A Key", body, None, op("a", "d"))

    assert embedded.ledger.recorder.max_notification_id() == head


def project(system: System) -> None:
    projector = system.projector(["change_requests"])
    projector.catch_up()


def test_the_change_requests_read_model_lists_by_state_and_target(embedded: System):
    create_wheel(embedded)  # two published requests: pool.create and prize.add
    etag = embedded.changes.revision(ChangeKind.POOL_UPDATE, "wheel")
    waiting = embedded.changes.draft("pool.update", "wheel", {"name": "W"}, etag, op("alice", "d"))
    embedded.changes.submit(cid(waiting), op("alice", "submit"))
    dropped = embedded.changes.draft(
        "config.set", "draws_enabled", {"value": False}, "v0", op("carol", "d")
    )
    embedded.changes.withdraw(cid(dropped), op("carol", "withdraw", "not needed"))
    project(embedded)

    queue = embedded.read_models.change_requests(state="submitted")
    assert [r.change_id for r in queue.rows] == [waiting.change_id]
    row = queue.rows[0]
    assert (row.kind, row.target, row.maker, row.payload) == (
        "pool.update",
        "wheel",
        "operator:alice",
        {"name": "W"},
    )
    published = embedded.read_models.change_requests(state="published", target="wheel")
    assert [(r.kind, r.publisher) for r in published.rows] == [
        ("pool.create", "operator:bob"),
        ("prize.add", "operator:bob"),
    ]
    closed = embedded.read_models.change_requests(state="withdrawn").rows
    assert [(r.closed_by, r.closing_reason) for r in closed] == [("operator:carol", "not needed")]
    first = embedded.read_models.change_requests(limit=1)
    assert first.next_cursor is not None
    rest = embedded.read_models.change_requests(cursor=first.next_cursor, limit=10)
    assert len(first.rows) + len(rest.rows) == 4
    assert rest.next_cursor is None
