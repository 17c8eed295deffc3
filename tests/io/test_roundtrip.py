"""The three inventory forms agree, writing then reading gives the same instance, writes are atomic."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.io import (
    atomic_write_csv,
    atomic_write_figure,
    atomic_write_text,
    inventory_to_dict,
    parse_inventory,
    read_inventory,
    write_inventory,
)
from scheduler.io.atomic import WriteError, atomic_folder
from scheduler.io.writer import InventoryFormat
from scheduler.model import (
    VM,
    CpuModel,
    DpmPolicy,
    Host,
    HostRuleMode,
    HostState,
    Instance,
    MigrationPolicy,
    Policy,
    PowerModel,
    Rule,
    RuleKind,
)

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
FORMATS: tuple[InventoryFormat, ...] = ("yaml", "json", "csv")


@pytest.fixture(scope="module")
def demo() -> Instance:
    return read_inventory(DEMO / "demo.yaml")


def test_demo_forms_are_the_same_cluster(demo: Instance) -> None:
    """demo.json and demo/csv are generated from demo.yaml; they must never drift apart."""
    assert read_inventory(DEMO / "demo.json") == demo
    assert read_inventory(DEMO / "csv") == demo


def test_demo_tells_its_story(demo: Instance) -> None:
    """The demo has what data/README.md promises an operator will see."""
    assert (demo.num_hosts, demo.num_vms) == (8, 80)
    kinds = {(r.kind, r.mode) for r in demo.rules}
    assert {(RuleKind.AFFINITY, None), (RuleKind.ANTI_AFFINITY, None)} <= kinds
    assert {(RuleKind.VM_HOST, m) for m in HostRuleMode} <= kinds
    states = {h.name: h.state for h in demo.hosts}
    assert states["cna-07"] is HostState.MAINTENANCE
    assert states["cna-08"] is HostState.STANDBY
    on = {h.name: [v for v in demo.vms if v.host == h.name] for h in demo.hosts}
    assert len(on["cna-07"]) >= 3
    assert not on["cna-08"]
    assert any(v.immobility_reasons() for v in demo.vms)
    assert {h.cpu.generation for h in demo.hosts} == {3, 4}
    assert demo.policy.imc is None
    assert any(h.datastores != demo.hosts[0].datastores for h in demo.hosts)
    assert not demo.policy.dpm.enabled
    assert sum(1 for v in demo.vms if v.dirty_rate_mibps >= 100) >= 3
    # Every host within capacity at the start; the two hot hosts well above the others on CPU.
    cpu = {n: sum(v.cpu_demand_mhz for v in vs) / demo.host(n).cpu_mhz for n, vs in on.items()}
    for name, vms in on.items():
        assert sum(v.memory_mib for v in vms) <= demo.host(name).memory_mib
        assert cpu[name] <= 1.0
    assert min(cpu["cna-01"], cpu["cna-02"]) > 0.8 > 0.5 > max(cpu[n] for n in ("cna-03", "cna-04", "cna-06"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_demo_round_trips(demo: Instance, tmp_path: Path, fmt: InventoryFormat) -> None:
    path = tmp_path / ("out.csv.d" if fmt == "csv" else f"out.{fmt}")
    write_inventory(demo, path, fmt)
    assert read_inventory(path) == demo


def _odd_instance() -> Instance:
    """Values a careless writer would mangle: YAML-looking strings, tiny floats, new VMs, groups."""
    hosts = (
        Host("yes", 1000, 2048, CpuModel("amd", 0), frozenset({"1.0", "null"}), frozenset({"a b"})),
        Host(
            "h-ü", 3000, 4096, CpuModel("intel", 7), state=HostState.DOWN, power=PowerModel(0.0, 1e-05, 0.0)
        ),
    )
    vms = (
        VM("001", "yes", 1, 2048, 0, 0, 1e-07, frozenset({"1.0"}), devices=("usb", "#gpu"), nonzero_mib=5),
        VM("on", None, 1, 1, 1, 1, 300.25, linked_clone=True, drs_enabled=False, pinned=True),
        VM("x: y", "yes", 2, 2, 2, 2),
    )
    rules = (
        Rule("g", RuleKind.AFFINITY, ("001", "x: y"), vm_group="grp"),
        Rule("m", RuleKind.VM_HOST, ("on",), ("h-ü", "yes"), HostRuleMode.SHOULD_NOT),
        Rule("n", RuleKind.VM_HOST, ("on",), ("yes",), HostRuleMode.MUST, host_group="hg"),
    )
    policy = Policy(
        dpm=DpmPolicy(True, 5, (0.1, 1.0), 0),
        memory_overcommit=1.5,
        imc=CpuModel("intel", 3),
        migration=MigrationPolicy(0.5, 1, 1.0, "xen_legacy", 600.0),
    )
    return Instance(
        "odd", hosts, vms, rules, policy, vm_groups={"grp": ("001", "x: y")}, host_groups={"hg": ("yes",)}
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_odd_values_round_trip(tmp_path: Path, fmt: InventoryFormat) -> None:
    inst = _odd_instance()
    assert parse_inventory(inventory_to_dict(inst), "odd") == inst
    path = tmp_path / f"odd.{fmt}"
    write_inventory(inst, path, fmt)
    assert read_inventory(path) == inst


_names = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cc"], exclude_characters=";"), min_size=1, max_size=12
).filter(lambda s: s == s.strip())
_rates = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(_names, min_size=1, max_size=4, unique=True), rate=_rates, fmt=st.sampled_from(FORMATS))
def test_any_names_and_rates_round_trip(
    tmp_path: Path, names: list[str], rate: float, fmt: InventoryFormat
) -> None:
    """Whatever a name or a float is, every form reads back what was written."""
    hosts = (Host(names[0], 1000, 1000, CpuModel(names[-1], 1), frozenset(names)),)
    vms = tuple(VM(n, names[0], 1, 10, 1, 1, rate, networks=frozenset(names)) for n in names)
    inst = Instance(names[0], hosts, vms, vm_groups={names[-1]: tuple(names)})
    path = tmp_path / f"p.{fmt}"
    write_inventory(inst, path, fmt)
    assert read_inventory(path) == inst


# -- atomic writes --------------------------------------------------------------------------


def test_atomic_write_keeps_the_old_file_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "plan.json"
    target.write_text("old")

    def boom(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(WriteError, match="disk full") as info:
        atomic_write_text(target, "new")
    assert info.value.path == str(target)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to tell what a descriptor is")
def test_atomic_write_syncs_the_file_then_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rename is durable only once the folder's entries are on disk too."""
    synced: list[bool] = []  # per fsync: whether the descriptor is a folder
    real = os.fsync

    def record(fd: int) -> None:
        synced.append(Path(f"/proc/self/fd/{fd}").is_dir())
        real(fd)

    monkeypatch.setattr(os, "fsync", record)
    atomic_write_text(tmp_path / "plan.json", "new")
    assert synced == [False, True]
    assert (tmp_path / "plan.json").read_text() == "new"


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(lambda root: root / "missing" / "plan.json", id="missing-folder"),
        pytest.param(lambda root: root / "file.txt" / "plan.json", id="file-as-folder"),
        pytest.param(lambda root: root / "folder", id="folder-as-file"),
    ],
)
def test_atomic_write_to_an_impossible_path_is_a_write_error_naming_it(
    tmp_path: Path, where: Callable[[Path], Path]
) -> None:
    """Not a traceback: an InputError (exit 2 in the CLI) naming the path, nothing left behind."""
    (tmp_path / "file.txt").write_text("mine")
    (tmp_path / "folder").mkdir()
    target = where(tmp_path)
    with pytest.raises(WriteError) as info:
        atomic_write_text(target, "new")
    assert [p.file for p in info.value.problems] == [str(target)]
    assert "cannot write" in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "folder"]
    assert list((tmp_path / "folder").iterdir()) == []
    assert (tmp_path / "file.txt").read_text() == "mine"


def test_atomic_folder_says_where_the_old_folder_is_when_it_cannot_be_put_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new folder's rename fails, and so does putting the old one back: the error says both,
    and where the old contents are, instead of the second failure alone."""
    target = tmp_path / "report"
    target.mkdir()
    (target / "a.txt").write_text("old")
    real = os.replace
    calls: list[int] = []

    def first_only(src: Any, dst: Any) -> None:
        calls.append(1)
        if len(calls) > 1:
            raise OSError(5, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(os, "replace", first_only)
    with pytest.raises(WriteError) as info, atomic_folder(target, frozenset({"a.txt"})) as tmp:
        (tmp / "a.txt").write_text("new")
    monkeypatch.undo()
    [kept] = [p for p in tmp_path.iterdir() if ".old-" in p.name]
    assert f"could not be put back (Input/output error) and is kept as {kept}" in info.value.reason
    assert (kept / "a.txt").read_text() == "old"
    assert not any(".tmp-" in p.name for p in tmp_path.iterdir())


def test_atomic_folder_turns_a_failed_write_into_a_write_error_and_keeps_the_old_folder(
    tmp_path: Path,
) -> None:
    target = tmp_path / "report"
    target.mkdir()
    (target / "a.txt").write_text("old")

    def fill_then_fail() -> None:
        with atomic_folder(target, frozenset({"a.txt"})) as tmp:
            (tmp / "a.txt").write_text("new")
            raise OSError(28, "No space left on device")

    with pytest.raises(WriteError, match="No space left") as info:
        fill_then_fail()
    assert info.value.path == str(target)
    assert (target / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report"]
    with (
        pytest.raises(WriteError, match="No such file"),
        atomic_folder(tmp_path / "missing" / "r", frozenset()),
    ):
        pass
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_atomic_write_replaces_and_keeps_default_permissions(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_atomic_csv_has_a_header_and_unix_line_ends_and_refuses_unknown_columns(tmp_path: Path) -> None:
    target = tmp_path / "rows.csv"
    atomic_write_csv(target, ["a", "b"], [{"a": 1, "b": "x"}, {"a": 2}])
    assert target.read_bytes() == b"a,b\n1,x\n2,\n"
    with pytest.raises(ValueError, match="c"):
        atomic_write_csv(target, ["a"], [{"a": 1, "c": 3}])
    assert target.read_bytes() == b"a,b\n1,x\n2,\n"  # the failed write left the file alone
    atomic_write_csv(target, ["a"], [{"a": 1, "c": 3}], ignore_extra=True)
    assert target.read_bytes() == b"a\n1\n"
    atomic_write_csv(target, [], [])
    assert target.read_bytes() == b""


def test_atomic_figure_is_a_whole_png_and_a_failed_render_keeps_the_old_file(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    target = tmp_path / "plot.png"
    figure = Figure(figsize=(2, 2))
    figure.add_subplot().plot([0, 1], [1, 0])
    atomic_write_figure(target, figure, dpi=50)
    first = target.read_bytes()
    assert first.startswith(b"\x89PNG\r\n\x1a\n")

    class Broken:
        def savefig(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError, match="renderer failed"):
        atomic_write_figure(target, Broken())
    assert target.read_bytes() == first
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_failed_inventory_write_leaves_nothing_half_written(
    demo: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: InventoryFormat
) -> None:
    target = tmp_path / f"inv.{fmt}"
    write_inventory(demo, target, fmt)
    before = target.read_bytes()
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("interrupted")))
    with pytest.raises(WriteError, match="interrupted"):
        write_inventory(_odd_instance(), target, fmt)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_failed_csv_write_keeps_the_old_folder(
    demo: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "inv"
    write_inventory(demo, target, "csv")
    import scheduler.io.csv_folder as csv_folder

    def broken(entries: object, columns: object) -> str:
        raise RuntimeError("crash while writing vms.csv")

    monkeypatch.setattr(csv_folder, "_csv_text", broken)
    with pytest.raises(RuntimeError, match="crash"):
        write_inventory(_odd_instance(), target, "csv")
    assert read_inventory(target) == demo
    assert [p.name for p in tmp_path.iterdir()] == ["inv"]


def test_csv_write_refuses_to_replace_a_folder_with_other_files(demo: Instance, tmp_path: Path) -> None:
    target = tmp_path / "inv"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(Exception, match="other files"):
        write_inventory(demo, target, "csv")
    assert (target / "notes.txt").read_text() == "mine"
