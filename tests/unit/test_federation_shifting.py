"""Shifting a federated app (pure): which members are scaled up, which down, which cannot be reached, and what the
report says. Tables a reader can check by hand, then properties (hypothesis) on random apps and counts:

- make before break is possible: every replica scaled away is covered, once the scale-ups are made, by the
  distribution's counts (the scale-ups reach their targets, the scale-downs never go below theirs);
- replayed, a shift changes nothing: planning again from the counts the shift leaves gives no scale call;
- a member that gets replicas is never one Ferry cannot see (the app is refused instead), and a failed member
  that cannot be read is never reported done.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferry.domain.detection.transitions import ControlPlaneStatus, ZoneStatus
from ferry.domain.federation.apps import FederatedApp, Placement
from ferry.domain.federation.distribution import ClusterHealth, ZoneNodes, distribute
from ferry.domain.federation.shifting import (
    AppOutcome,
    AppRun,
    Member,
    MemberIssue,
    Scale,
    Scaled,
    ScaleStatus,
    ShiftAway,
    ShiftOutcome,
    Unreached,
    before_shift,
    failback_goal,
    member_from,
    plan_failback_step,
    plan_shift,
    shift_report,
    shift_view,
    zone_nodes,
)

UP, DOWN = ControlPlaneStatus.UP, ControlPlaneStatus.DOWN
WEB = FederatedApp("shop", "web", 6, (Placement("*", weight=1),))
CLUSTERS = ("east-1", "east-2", "east-3")


def shift_away_from(cluster: str, members: dict[str, Member], app: FederatedApp = WEB):
    health = {c: ClusterHealth(DOWN if c == cluster else UP) for c in members}
    return plan_shift(distribute(app, health, {}), members)


def read(**counts: int | None) -> dict[str, Member]:
    return {
        cluster.replace("_", "-"): Member(cluster.replace("_", "-"), count, count)
        if count is not None
        else Member(cluster.replace("_", "-"), issue=MemberIssue.UNREACHABLE, detail="Unavailable: refused")
        for cluster, count in counts.items()
    }


# --- plans -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("members", "ups", "downs", "unreached"),
    [
        pytest.param(
            read(east_1=3, east_2=3),
            (Scale("east-1", 3, 6),),
            (Scale("east-2", 3, 0),),
            (),
            id="reachable-failed-side-is-scaled-down-after",
        ),
        pytest.param(
            read(east_1=3, east_2=None),
            (Scale("east-1", 3, 6),),
            (),
            (Unreached("east-2", "Unavailable: refused"),),
            id="unreachable-failed-side-is-recorded-not-scaled",
        ),
        pytest.param(
            read(east_1=2, east_2=2, east_3=2),
            (Scale("east-1", 2, 3), Scale("east-3", 2, 3)),
            (Scale("east-2", 2, 0),),
            (),
            id="three-members-survivors-share-the-load",
        ),
        pytest.param(read(east_1=6, east_2=0), (), (), (), id="already-shifted-nothing-to-do"),
    ],
)
def test_a_shift_away_from_east_2(members, ups, downs, unreached) -> None:
    shift = shift_away_from("east-2", members)

    assert (shift.ups, shift.downs, shift.unreached, shift.problems) == (ups, downs, unreached, ())


@pytest.mark.parametrize(
    ("members", "problem"),
    [
        pytest.param(
            {"east-1": Member("east-1", issue=MemberIssue.MISSING, detail="no such Deployment"), **read(east_2=3)},
            "clusters.east-1: Deployment not found, cannot take 6 replica(s): no such Deployment",
            id="survivor-without-the-deployment",
        ),
        pytest.param(
            read(east_1=None, east_2=3),
            "clusters.east-1: unreachable, cannot take 6 replica(s): Unavailable: refused",
            id="survivor-unreachable-credentials-or-api",
        ),
    ],
)
def test_an_app_whose_survivor_ferry_cannot_see_is_refused_and_nothing_is_scaled(members, problem) -> None:
    shift = shift_away_from("east-2", members)

    assert shift.refused and shift.problems == (problem,)
    assert not shift.changes


def test_bad_weights_refuse_the_app_with_the_distributions_reason() -> None:
    zero = FederatedApp("shop", "api", 4, (Placement("*", weight=0),))

    shift = shift_away_from("east-2", read(east_1=2, east_2=2), app=zero)

    assert shift.problems == ("clusters: expected weights summing to more than zero, got 0",)
    assert AppRun("run", False, shift).line() == (
        "shop/api: refused: clusters: expected weights summing to more than zero, got 0"
    )


def test_a_failed_member_without_the_deployment_needs_nothing() -> None:
    members = {**read(east_1=3), "east-2": Member("east-2", issue=MemberIssue.MISSING)}

    shift = shift_away_from("east-2", members)

    assert shift.ups == (Scale("east-1", 3, 6),) and not shift.downs and not shift.unreached


def test_a_shortfall_is_reported_and_the_rest_proceeds() -> None:
    capped = FederatedApp("shop", "web", 6, (Placement("*", weight=1, max=4),))

    shift = shift_away_from("east-2", read(east_1=3, east_2=3), app=capped)

    assert shift.ups == (Scale("east-1", 3, 4),) and shift.downs == (Scale("east-2", 3, 0),)
    assert shift.shortfall == 2
    run = AppRun("run", False, shift, ups=(Scaled("east-1", 3, 4, ScaleStatus.DONE, available=4),))
    run = AppRun("run", False, shift, ups=run.ups, downs=(Scaled("east-2", 3, 0, ScaleStatus.DONE),), available=True)
    assert run.outcome() is AppOutcome.PARTIAL
    assert "2 short (east-1 at-max, east-2 control-plane-down)" in run.line()


# --- the inputs of a shift ------------------------------------------------------------------------------------------


def test_a_zone_shift_cuts_each_spanning_clusters_share_alike_so_nothing_moves() -> None:
    nodes = zone_nodes([(z, True) for z in ("us-east-1a", "us-east-1b", "us-east-1c")])
    health, zones = shift_view(
        ShiftAway(zone="us-east-1a"), {"east-1": UP, "east-2": UP}, dict.fromkeys(CLUSTERS[:2], nodes), {}
    )

    shift = plan_shift(distribute(WEB, health, zones), read(east_1=3, east_2=3))

    assert zones == {"us-east-1a": ZoneStatus.IMPAIRED}
    assert not shift.changes
    assert AppRun("run", False, shift).line() == "shop/web: unchanged: every member keeps its share"


def test_a_zone_shift_empties_a_cluster_living_in_that_zone_alone() -> None:
    nodes = {
        "east-1": zone_nodes([("us-east-1a", True), ("us-east-1a", True)]),
        "east-2": zone_nodes([("us-east-1b", True), ("us-east-1b", False), (None, True)]),
    }
    health, zones = shift_view(ShiftAway(zone="us-east-1a"), {"east-1": UP, "east-2": UP}, nodes, {})

    shift = plan_shift(distribute(WEB, health, zones), read(east_1=3, east_2=3))

    assert nodes["east-2"] == (ZoneNodes("us-east-1b", 1, 2),)
    assert shift.ups == (Scale("east-2", 3, 6),) and shift.downs == (Scale("east-1", 3, 0),)


def test_the_cluster_shifted_away_from_counts_as_down_whatever_the_detector_says() -> None:
    health, _ = shift_view(ShiftAway(cluster="east-2"), {"east-1": UP, "east-2": UP}, {}, {})

    assert health["east-2"].control_plane is DOWN and health["east-1"].control_plane is UP


@pytest.mark.parametrize(
    ("deployment", "member", "before"),
    [
        pytest.param({"spec": {"replicas": 3}, "status": {"availableReplicas": 2}}, Member("c", 3, 2), None, id="read"),
        pytest.param({"spec": {}, "status": {}}, Member("c", 1, 0), None, id="api-default-of-one"),
        pytest.param(
            {"metadata": {"annotations": {"ferry.io/replicas-before-shift": "4"}}, "spec": {"replicas": 0}},
            Member("c", 0, 0),
            4,
            id="shifted-before",
        ),
    ],
)
def test_a_members_deployment_is_read(deployment, member, before) -> None:
    assert member_from("c", deployment) == member
    assert before_shift(deployment) == before


# --- failback ---------------------------------------------------------------------------------------------------

ALL_UP = {"east-1": ClusterHealth(UP), "east-2": ClusterHealth(UP)}


@pytest.mark.parametrize(
    ("origin", "goal"),
    [
        pytest.param(None, {"east-1": 3, "east-2": 3}, id="nothing-recorded-the-distribution"),
        pytest.param({"east-1": 4, "east-2": 2}, {"east-1": 4, "east-2": 2}, id="the-recorded-counts"),
        pytest.param({"east-1": 3}, {"east-1": 3, "east-2": 3}, id="a-member-unread-then-takes-its-share"),
        pytest.param({"east-1": 5}, {"east-1": 3, "east-2": 3}, id="counts-that-no-longer-add-up-are-dropped"),
    ],
)
def test_failback_restores_the_counts_recorded_before_the_shift(origin, goal) -> None:
    assert failback_goal(distribute(WEB, ALL_UP, {}), origin) == goal


@pytest.mark.parametrize(
    ("members", "ups", "downs"),
    [
        pytest.param(read(east_1=6, east_2=0), (Scale("east-2", 0, 1),), (Scale("east-1", 6, 5),), id="first-quarter"),
        pytest.param(read(east_1=4, east_2=2), (Scale("east-2", 2, 3),), (Scale("east-1", 4, 3),), id="last-step"),
        pytest.param(
            read(east_1=6, east_2=3), (Scale("east-2", 3, 3),), (Scale("east-1", 6, 5),), id="ran-on-checked-only"
        ),
        pytest.param(read(east_1=3, east_2=3), (), (), id="back"),
    ],
)
def test_a_failback_step_brings_a_quarter_back_and_takes_as_many_away(members, ups, downs) -> None:
    distribution = distribute(WEB, ALL_UP, {})

    shift = plan_failback_step(distribution, failback_goal(distribution, None), members, "east-2")

    assert (shift.ups, shift.downs, shift.problems) == (ups, downs, ())


def test_a_failback_step_toward_a_cluster_that_does_not_answer_stops() -> None:
    distribution = distribute(WEB, ALL_UP, {})

    shift = plan_failback_step(distribution, {"east-1": 3, "east-2": 3}, read(east_1=6, east_2=None), "east-2")

    assert shift.problems == ("clusters.east-2: cannot be read (Unavailable: refused): failback stops here",)
    assert not shift.changes


@given(st.integers(1, 30), st.integers(0, 30), st.integers(1, 4))
def test_failback_ends_in_at_most_four_steps_and_never_leaves_fewer_than_the_goal(share, extra, members) -> None:
    clusters = ["east-2", *(f"west-{n}" for n in range(members))]
    goal = dict.fromkeys(clusters, share)
    current = {"east-2": 0, **{c: share + (extra if c == "west-0" else 0) for c in clusters[1:]}}
    current["west-0"] += share  # the returning cluster's share ran elsewhere
    app = FederatedApp("shop", "web", share * len(clusters), tuple(Placement(c) for c in clusters))
    distribution = distribute(app, {c: ClusterHealth(UP) for c in clusters}, {})
    for _ in range(4):
        shift = plan_failback_step(distribution, goal, {c: Member(c, n, n) for c, n in current.items()}, "east-2")
        assert sum(s.to - s.before for s in shift.downs) >= -math.ceil(share / 4)  # a quarter at most per step
        assert all(s.to >= goal[s.cluster] for s in shift.downs)  # never below its goal
        current |= {s.cluster: s.to for s in (*shift.ups, *shift.downs)}
    assert current["east-2"] == share


# --- outcomes and the report --------------------------------------------------------------------------------------


SHIFT = shift_away_from("east-2", read(east_1=3, east_2=3))
UP_DONE = (Scaled("east-1", 3, 6, ScaleStatus.DONE, available=6),)


@pytest.mark.parametrize(
    ("run", "outcome"),
    [
        pytest.param(
            AppRun("r", False, SHIFT, UP_DONE, (Scaled("east-2", 3, 0, ScaleStatus.DONE),), True),
            AppOutcome.SHIFTED,
            id="shifted",
        ),
        pytest.param(
            AppRun("r", False, SHIFT, UP_DONE, (Scaled("east-2", 3, 0, ScaleStatus.NOT_REACHED, "refused"),), True),
            AppOutcome.PARTIAL,
            id="failed-side-not-reached",
        ),
        pytest.param(
            AppRun("r", False, SHIFT, UP_DONE, (Scaled("east-2", 3, 0, ScaleStatus.HELD, "held"),)),
            AppOutcome.PARTIAL,
            id="not-available-in-time",
        ),
        pytest.param(
            AppRun("r", False, SHIFT, (Scaled("east-1", 3, 6, ScaleStatus.FAILED, "Forbidden"),)),
            AppOutcome.FAILED,
            id="scale-up-failed",
        ),
        pytest.param(AppRun("r", False, SHIFT, failed="the scale-up step failed"), AppOutcome.FAILED, id="step-failed"),
        pytest.param(AppRun("r", False, SHIFT, busy="held by another run"), AppOutcome.BUSY, id="busy"),
        pytest.param(AppRun("r", True, SHIFT), AppOutcome.PLANNED, id="dry-run"),
    ],
)
def test_an_apps_outcome(run: AppRun, outcome: AppOutcome) -> None:
    assert run.outcome() is outcome


@pytest.mark.parametrize(
    ("run", "waiting"),
    [
        pytest.param(AppRun("r", False, SHIFT, UP_DONE), True, id="scaled-up-not-yet-available"),
        pytest.param(AppRun("r", False, SHIFT, UP_DONE, available=True), False, id="available"),
        pytest.param(
            AppRun("r", False, SHIFT, (Scaled("east-1", 3, 6, ScaleStatus.FAILED),)), False, id="scale-up-failed"
        ),
        pytest.param(AppRun("r", False, SHIFT, busy="held"), False, id="left-alone"),
        pytest.param(AppRun("r", False, SHIFT, UP_DONE, failed="step failed"), False, id="step-failed"),
        pytest.param(
            AppRun("r", False, shift_away_from("east-2", read(east_1=6, east_2=0))), False, id="nothing-to-do"
        ),
    ],
)
def test_the_run_waits_only_for_apps_whose_scale_ups_were_all_made(run: AppRun, waiting: bool) -> None:
    assert run.waiting is waiting


def test_the_report_has_a_line_per_app_and_its_outcome_from_theirs() -> None:
    shifted = AppRun("r", False, SHIFT, UP_DONE, (Scaled("east-2", 3, 0, ScaleStatus.DONE),), True)
    held = AppRun("r", False, SHIFT, UP_DONE, (Scaled("east-2", 3, 0, ScaleStatus.HELD, "held: not available"),))

    report = shift_report(
        "run-1", "ShiftReplicas", dry_run=False, away=ShiftAway(cluster="east-2"), reason="maintenance",
        apps=(shifted, held), waited_seconds=20,
    )  # fmt: skip

    assert report.outcome is ShiftOutcome.PARTIAL
    assert report.summary.splitlines() == [
        "ShiftReplicas run-1 (cluster east-2): partial",
        "why: maintenance",
        "apps: 1 shifted, 1 partial",
        "  - shop/web: shifted: east-1 3 -> 6 done (6 available); east-2 3 -> 0 done",
        "  - shop/web: partial: east-1 3 -> 6 done (6 available); east-2 3 -> 0 held: held: not available",
        "waited 20s for the scale-ups to be available",
    ]
    assert shift_report("r", "FailoverCluster", dry_run=True, away=ShiftAway("east-2"), reason="", apps=()).outcome is (
        ShiftOutcome.DRY_RUN
    )
    failed = shift_report(
        "r", "FailoverCluster", dry_run=False, away=ShiftAway("east-2"), reason="", apps=(shifted,),
        error={"Error": "Unavailable", "Cause": "registry"},
    )  # fmt: skip
    assert failed.outcome is ShiftOutcome.FAILED and failed.summary.endswith("error: Unavailable: registry")


def test_an_app_run_crosses_the_state_machine_as_json_unchanged() -> None:
    run = AppRun("r", False, SHIFT, UP_DONE, (Scaled("east-2", 3, 0, ScaleStatus.NOT_REACHED, "x"),), True)

    assert AppRun.from_dict(run.to_dict()) == run
    assert run.to_dict()["shift"]["ups"] == [{"cluster": "east-1", "before": 3, "to": 6}]


# --- properties ---------------------------------------------------------------------------------------------------

counts = st.integers(min_value=0, max_value=12)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[FederatedApp, dict[str, ClusterHealth], dict[str, Member], str]:
    clusters = draw(st.lists(st.sampled_from((*CLUSTERS, "west-1", "west-2")), min_size=2, max_size=5, unique=True))
    placements = tuple(
        Placement(c, weight=draw(st.integers(0, 4)), min=0, max=draw(st.none() | st.integers(0, 10))) for c in clusters
    )
    app = FederatedApp("shop", "web", draw(st.integers(0, 20)), placements)
    failed = draw(st.sampled_from(clusters))
    health = {c: ClusterHealth(DOWN if c == failed else UP) for c in clusters}
    members = {}
    for cluster in clusters:
        unreadable = cluster == failed and draw(st.booleans())
        count = draw(counts)
        members[cluster] = (
            Member(cluster, issue=MemberIssue.UNREACHABLE, detail="down")
            if unreadable
            else Member(cluster, count, count)
        )
    return app, health, members, failed


@given(worlds())
def test_make_before_break_is_always_possible_and_a_replay_changes_nothing(world) -> None:
    app, health, members, failed = world
    distribution = distribute(app, health, {})
    shift = plan_shift(distribution, members)
    if shift.refused:
        assert not shift.changes
        return
    targets = distribution.counts()
    assert all(s.to == targets[s.cluster] and s.to > s.before for s in shift.ups)
    assert all(s.to == targets[s.cluster] and s.to < s.before for s in shift.downs)
    assert failed not in {s.cluster for s in shift.ups}  # nothing goes to the failed side
    # every member the distribution counts on is read and scaled to its target (or already there)
    after = {c: m.replicas for c, m in members.items()} | {s.cluster: s.to for s in (*shift.ups, *shift.downs)}
    assert all(after[c] == t for c, t in targets.items() if t > 0)
    # an unreadable failed member is recorded, never scaled nor reported done
    unreadable = {c for c, m in members.items() if m.replicas is None}
    assert unreadable == {u.cluster for u in shift.unreached}
    assert not unreadable & {s.cluster for s in (*shift.ups, *shift.downs)}
    replay = plan_shift(distribution, {c: Member(c, n, n) if n is not None else members[c] for c, n in after.items()})
    assert not replay.changes
