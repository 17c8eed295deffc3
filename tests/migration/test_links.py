"""Shared links: max-min fair rates and the event-driven simulation of concurrent migrations."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.migration.links import MoveSpec, SharedLinkSimulation, link_shares, max_min_fair_rates
from scheduler.migration.precopy import MigrationInput, PrecopyRun, simulate
from scheduler.migration.presets import preset_for

LINK = MigrationInput(memory_mib=1024).link_mibps  # 10 Gbit/s at the default efficiency


def test_progressive_filling_hand_case() -> None:
    """Flows 1 and 3 share b's ingress (1100): 550 each; flow 2 is limited by its demand of 300."""
    rates = max_min_fair_rates(
        {1: ("a", "b", 1000.0), 2: ("a", "c", 300.0), 3: ("c", "b", 2000.0)},
        {"a": 1100.0, "b": 1100.0, "c": 1100.0},
    )
    assert rates == pytest.approx({1: 550.0, 2: 300.0, 3: 550.0})


def test_egress_and_ingress_are_separate() -> None:
    """a→b and b→a use different directions of each NIC, so both get the full capacity."""
    rates = max_min_fair_rates({"x": ("a", "b", 1e9), "y": ("b", "a", 1e9)}, {"a": 1000.0, "b": 1000.0})
    assert rates == pytest.approx({"x": 1000.0, "y": 1000.0})


def test_freed_capacity_goes_to_the_others() -> None:
    """Three flows out of one host: the small one is served, the other two split the rest."""
    rates = max_min_fair_rates({1: ("a", "b", 100.0), 2: ("a", "c", 1e9), 3: ("a", "d", 1e9)}, {"a": 1000.0})
    assert rates == pytest.approx({1: 100.0, 2: 450.0, 3: 450.0})


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.integers(0, 20),
        st.tuples(st.sampled_from("abcd"), st.sampled_from("abcd"), st.floats(0, 2000)),
        min_size=1,
        max_size=8,
    ),
    st.dictionaries(st.sampled_from("abcd"), st.floats(1, 3000), min_size=4, max_size=4),
)
def test_fair_rates_are_feasible_and_bottlenecked(
    flows: dict[int, tuple[str, str, float]], capacity: dict[str, float]
) -> None:
    """No flow above its demand, no link above capacity, and every unsatisfied flow crosses a full link."""
    rates = max_min_fair_rates(flows, capacity)
    load: dict[tuple[str, str], float] = {}
    for key, (src, dst, demand) in flows.items():
        assert -1e-9 <= rates[key] <= demand + 1e-6
        load[(src, "out")] = load.get((src, "out"), 0.0) + rates[key]
        load[(dst, "in")] = load.get((dst, "in"), 0.0) + rates[key]
    for (host, _direction), used in load.items():
        assert used <= capacity[host] + 1e-6
    for key, (src, dst, demand) in flows.items():
        if rates[key] < demand - 1e-6:
            full = [load[(src, "out")] >= capacity[src] - 1e-6, load[(dst, "in")] >= capacity[dst] - 1e-6]
            assert any(full)


def test_link_shares_give_each_flow_its_fair_rate_plus_what_its_links_leave() -> None:
    """m1's pre-copy keeps to a 128 MiB/s cap, and alone it may use the whole link (its uncapped
    final copy). With m2 out of a and m3 into c: c's ingress holds m2 to half the link, so a's
    egress leaves m1 the other half (its 128 fair, plus the rest)."""
    assert link_shares({"m1": ("a", "b", 128.0)}, {"a": LINK, "b": LINK}) == pytest.approx({"m1": LINK})
    flows = {"m1": ("a", "b", 128.0), "m2": ("a", "c", LINK), "m3": ("d", "c", LINK)}
    shares = link_shares(flows, dict.fromkeys("abcd", LINK))
    assert shares == pytest.approx({"m1": LINK / 2, "m2": LINK / 2, "m3": LINK / 2})
    assert max_min_fair_rates(flows, dict.fromkeys("abcd", LINK))["m1"] == pytest.approx(128.0)


def _spec(key: str, src: str, dst: str, dirty: float, memory: float = 4096.0) -> MoveSpec[str]:
    return MoveSpec(
        key, src, dst, MigrationInput(memory_mib=memory, dirty_rate_mibps=dirty), preset_for("fusioncompute")
    )


def test_a_lone_move_matches_the_one_shot_estimate() -> None:
    """With the NIC as fast as the link, a single move takes exactly its estimate."""
    sim: SharedLinkSimulation[str] = SharedLinkSimulation({"a": LINK, "b": LINK})
    spec = _spec("m1", "a", "b", 100.0)
    sim.start(spec)
    start, end, est = sim.run_to_completion()["m1"]
    assert start == 0.0
    assert end == pytest.approx(simulate(spec.inp, spec.preset).total_s)
    assert est.total_s == pytest.approx(end - start)


def test_two_moves_out_of_one_host_share_its_nic() -> None:
    """Two identical idle moves out of one host each get half the NIC and take twice as long."""
    sim: SharedLinkSimulation[str] = SharedLinkSimulation({"a": LINK, "b": LINK, "c": LINK})
    sim.start(_spec("m1", "a", "b", 0.0))
    sim.start(_spec("m2", "a", "c", 0.0))
    assert sim.rates() == pytest.approx({"m1": LINK / 2, "m2": LINK / 2})
    done = sim.run_to_completion()
    alone = simulate(_spec("x", "a", "b", 0.0).inp, preset_for("fusioncompute")).total_s
    assert done["m1"][1] == pytest.approx(2 * (alone - 1.0 / LINK) + 1.0 / (LINK / 2), rel=1e-3)


def test_a_later_start_slows_the_running_move_only_while_both_run() -> None:
    """A move started at 2 s halves the first move's rate from then on; the first ends later than alone."""
    sim: SharedLinkSimulation[str] = SharedLinkSimulation({"a": LINK, "b": LINK, "c": LINK})
    sim.start(_spec("m1", "a", "b", 10.0))
    sim.add(_spec("m2", "a", "c", 10.0), start_s=2.0)
    done = sim.run_to_completion()
    alone = simulate(_spec("x", "a", "b", 10.0).inp, preset_for("fusioncompute")).total_s
    assert done["m2"][0] == pytest.approx(2.0)
    assert done["m1"][1] > alone
    assert done["m1"][2].converges
    assert done["m2"][2].converges


def test_starting_one_more_move_can_break_a_running_one() -> None:
    """At 700 MiB/s of dirtying a move converges alone on 10 Gbit/s but not at half the NIC."""
    sim: SharedLinkSimulation[str] = SharedLinkSimulation({"a": LINK, "b": LINK, "c": LINK})
    sim.start(_spec("hot", "a", "b", 700.0))
    assert sim.would_break_convergence(_spec("big", "a", "c", 0.0, memory=65536.0))
    preview = sim.preview_start(_spec("big", "a", "c", 0.0, memory=65536.0))
    assert not preview["hot"].converges
    assert preview["big"].converges
    assert sim.running == ("hot",)  # previews leave the simulation untouched


def test_a_move_on_other_links_does_not_break_anything() -> None:
    """A move between two other hosts shares no NIC direction with the running one."""
    sim: SharedLinkSimulation[str] = SharedLinkSimulation(dict.fromkeys("abcd", LINK))
    sim.start(_spec("hot", "a", "b", 700.0))
    assert not sim.would_break_convergence(_spec("big", "c", "d", 0.0, memory=65536.0))


def test_duplicate_ids_and_past_starts_are_refused() -> None:
    """Move ids are unique and time only moves forward."""
    sim: SharedLinkSimulation[str] = SharedLinkSimulation({"a": LINK, "b": LINK})
    sim.start(_spec("m1", "a", "b", 0.0))
    with pytest.raises(ValueError, match="duplicate"):
        sim.add(_spec("m1", "a", "b", 0.0))
    sim.advance_to(1.0)
    with pytest.raises(ValueError, match="past"):
        sim.add(_spec("m2", "a", "b", 0.0), start_s=0.5)


def _global_resimulation(
    moves: list[tuple[float, MoveSpec[int]]], capacity: dict[str, float]
) -> dict[int, float]:
    """Reference: every share recomputed from scratch at every event, every run advanced and its
    end probed anew. What ``SharedLinkSimulation`` computes by link components and cached ends."""
    pending = sorted(moves, key=lambda m: m[0])
    runs: dict[int, tuple[PrecopyRun, MoveSpec[int], float]] = {}
    ends: dict[int, float] = {}
    now = 0.0
    while pending or runs:
        while pending and pending[0][0] <= now + 1e-9:
            _, spec = pending.pop(0)
            run = PrecopyRun(spec.inp, spec.preset)
            runs[spec.key] = (run, spec, run.demand_mibps)
        if not runs:
            now = pending[0][0]
            continue
        flows = {k: (spec.source, spec.target, demand) for k, (_, spec, demand) in runs.items()}
        shares = link_shares(flows, capacity)
        rates = {k: min(shares[k], spec.inp.link_mibps) for k, (_, spec, _) in runs.items()}
        left = {k: run.time_to_end(rates[k]) for k, (run, _, _) in runs.items()}
        dt = min([*left.values(), (pending[0][0] - now) if pending else float("inf")])
        for k, (run, _, _) in runs.items():
            run.advance(left[k] + 1e-9 if left[k] <= dt + 1e-9 else dt, rates[k])
        now += dt
        for k in [k for k, (run, _, _) in runs.items() if run.finished]:
            ends[k] = now
            del runs[k]
    return ends


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from("abcd"),
            st.sampled_from("abcd"),
            st.sampled_from([0.0, 30.0, 300.0, 700.0]),
            st.sampled_from([1024.0, 4096.0, 16384.0]),
            st.floats(0, 20),
        ),
        min_size=1,
        max_size=7,
    ),
    st.sampled_from(["qemu", "fusioncompute", "vmware"]),
)
def test_rerating_by_link_component_matches_a_global_re_simulation(
    moves: list[tuple[str, str, float, float, float]], hypervisor: str
) -> None:
    """Sharing is recomputed only among the moves linked to an event, and a run's end is kept while
    its share holds: the ends are those of recomputing everything at every event."""
    capacity = dict.fromkeys("abcd", LINK)
    specs = [
        (
            start,
            MoveSpec(
                i, src, dst, MigrationInput(memory_mib=memory, dirty_rate_mibps=dirty), preset_for(hypervisor)
            ),
        )
        for i, (src, dst, dirty, memory, start) in enumerate(moves)
        if src != dst
    ]
    sim: SharedLinkSimulation[int] = SharedLinkSimulation(capacity)
    for start, spec in specs:
        sim.add(spec, start)
    done = sim.run_to_completion()
    reference = _global_resimulation(specs, capacity)
    assert set(done) == set(reference)
    for key, (_start, end, _estimate) in done.items():
        assert end == pytest.approx(reference[key], rel=1e-9, abs=1e-9)
