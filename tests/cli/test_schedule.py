"""``scheduler schedule``: plan written only when it passes the checker; unreachable and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from migration.planner_cases import drain_and_swap_at_four_per_host

from scheduler.check.verify import verify_plan
from scheduler.cli.schedule import command
from scheduler.errors import InputError
from scheduler.io import read_plan, write_inventory
from scheduler.model import VM, CpuModel, Host, HostState, Instance, PowerModel

GIB = 1024


def host(name: str, *, memory_mib: int = 8 * GIB, state: HostState = HostState.UP, boot_s: float = 0) -> Host:
    return Host(name, 10_000, memory_mib, CpuModel("intel", 4), state=state, power=PowerModel(boot_s=boot_s))


def vm(name: str, on: str, *, memory_mib: int = 4 * GIB) -> VM:
    return VM(
        name, on, vcpus=2, memory_mib=memory_mib, cpu_demand_mhz=1_000, memory_demand_mib=memory_mib // 2
    )


def cluster(hosts: list[Host], vms: list[VM]) -> Instance:
    return Instance("test", tuple(hosts), tuple(vms))


def invoke(*args: str) -> int:
    """Run the command as the CLI group does (standalone off: the callback's int is the exit status)."""
    status = command.main(args=list(args), standalone_mode=False)
    assert isinstance(status, int)
    return status


def swap_cluster() -> Instance:
    """Two full hosts swapping one VM each, a third host with room, a standby host."""
    hosts = [host("a", memory_mib=8 * GIB), host("b", memory_mib=8 * GIB), host("c", memory_mib=8 * GIB)]
    hosts.append(host("s", state=HostState.STANDBY, boot_s=60))
    return cluster(hosts, [vm("x", "a"), vm("x2", "a"), vm("y", "b"), vm("y2", "b")])


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.yaml"
    write_inventory(swap_cluster(), path, "yaml")
    return path


def test_writes_a_verified_plan_with_parking(
    inventory: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump({"placement": {"x": "b", "y": "a"}}))
    out = tmp_path / "plan.json"
    assert invoke(str(inventory), str(target), "-o", str(out)) == 0
    plan = read_plan(out)
    assert plan.status.value == "feasible"
    assert verify_plan(swap_cluster(), plan).valid
    assert [m.reason.value for m in plan.migrations].count("parking") == 1
    assert plan.placement["x"] == "b"
    assert plan.placement["x2"] == "a"
    assert plan.metrics["schedule"]["parking_moves"] == 1
    printed = capsys.readouterr().out
    assert "parking moves" in printed
    assert "makespan" in printed


def test_a_plan_file_is_a_valid_target(inventory: Path, tmp_path: Path):
    """The plan just written, used as a target again, gives the same moves."""
    target = tmp_path / "target.json"
    target.write_text(json.dumps({"placement": {"x": "b", "y": "a"}, "host_states": {"s": "standby"}}))
    first = tmp_path / "first.json"
    assert invoke(str(inventory), str(target), "-o", str(first), "-q") == 0
    second = tmp_path / "second.json"
    assert invoke(str(inventory), str(first), "-o", str(second), "-q") == 0
    assert read_plan(first).migrations == read_plan(second).migrations


def test_unchanged_target_gives_an_unchanged_plan(inventory: Path, tmp_path: Path):
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump({"placement": {"x": "a"}}))
    out = tmp_path / "plan.json"
    assert invoke(str(inventory), str(target), "-o", str(out)) == 0
    assert read_plan(out).status.value == "unchanged"


def test_unreachable_target_exits_1_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    inst = cluster(
        [host("a", memory_mib=8 * GIB), host("b", memory_mib=8 * GIB)],
        [vm("x", "a", memory_mib=8 * GIB), vm("y", "b", memory_mib=8 * GIB)],
    )
    inventory = tmp_path / "inventory.json"
    write_inventory(inst, inventory, "json")
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump({"placement": {"x": "b", "y": "a"}}))
    out = tmp_path / "plan.json"
    assert invoke(str(inventory), str(target), "-o", str(out)) == 1
    assert not out.exists()
    err = capsys.readouterr().err
    assert "unreachable" in err
    assert "hosts: a, b" in err
    assert "VMs:   x, y" in err


def test_a_schedule_run_fewer_moves_per_host_at_once_is_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    inst, placement = drain_and_swap_at_four_per_host()
    inventory = tmp_path / "inventory.json"
    write_inventory(inst, inventory, "json")
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump({"placement": placement}))
    out = tmp_path / "plan.json"
    assert invoke(str(inventory), str(target), "-o", str(out), "-q") == 0
    assert "note: migrations run at most 2 per host at once" in capsys.readouterr().out
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["schedule"]["concurrency_limit"] == 2
    assert metrics["notes"][0].startswith("migrations run at most 2 per host at once")


def test_bad_target_is_an_input_error_and_writes_nothing(inventory: Path, tmp_path: Path):
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump({"placement": {"ghost": "a", "x": "nowhere"}}))
    out = tmp_path / "plan.json"
    with pytest.raises(InputError) as info:
        invoke(str(inventory), str(target), "-o", str(out))
    assert f"{target}: placement: ghost: unknown VM" in str(info.value)
    assert {p.file for p in info.value.problems} == {str(target)}
    assert not out.exists()


def test_target_without_placement_is_an_input_error(inventory: Path, tmp_path: Path):
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump({"host_states": {"a": "up"}}))
    with pytest.raises(InputError):
        invoke(str(inventory), str(target), "-o", str(tmp_path / "plan.json"))


# -- output paths, progress ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "message"),
    [
        pytest.param("missing/plan.json", "no folder", id="no-folder"),
        pytest.param(
            "inventory.yaml", "is the inventory; writing there would replace it", id="the-inventory"
        ),
        pytest.param("target.yaml", "is the target; writing there would replace it", id="the-target"),
    ],
)
def test_bad_output_path_is_refused_before_scheduling(
    inventory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output: str, message: str
):
    import scheduler.cli.schedule as schedule_command

    def no_schedule(*args: object, **kwargs: object) -> None:
        raise AssertionError("the output path is checked before scheduling")

    monkeypatch.setattr(schedule_command, "plan_migrations", no_schedule)
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump({"placement": {"x": "b", "y": "a"}}))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(InputError) as info:
        invoke(str(inventory), str(target), "-o", str(tmp_path / output))
    (problem,) = info.value.problems
    assert problem.field == "--output"
    assert message in problem.message
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_failed_write_is_an_input_error_naming_the_option(
    inventory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import scheduler.io.atomic as atomic

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump({"placement": {"x": "b", "y": "a"}}))
    out = tmp_path / "plan.json"
    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(InputError) as info:
        invoke(str(inventory), str(target), "-o", str(out))
    assert str(info.value) == f"command line: --output: cannot write {out}: No space left on device"
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inventory.yaml", "target.yaml"]


def test_progress_off_a_terminal_is_plain_lines(
    inventory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """rich hides its progress bar when stderr is no terminal; batch logs get lines instead."""
    import scheduler.cli.schedule as schedule_command

    monkeypatch.setattr(schedule_command, "PROGRESS_MIN_MOVES", 1)
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump({"placement": {"x": "b", "y": "a"}}))
    assert invoke(str(inventory), str(target), "-o", str(tmp_path / "plan.json")) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines
    assert all(line.startswith("scheduling moves: ") for line in lines)
    assert lines[-1] == "scheduling moves: 3/3"
    assert invoke(str(inventory), str(target), "-o", str(tmp_path / "plan.json"), "-q") == 0
    assert capsys.readouterr().err == ""
