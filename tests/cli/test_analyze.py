"""``scheduler analyze``: the cluster now, as a table or JSON; islands reported with their floor;
bad input exits 2.

Runs the console entry point (``scheduler.cli.main:main``) so that exit statuses are the ones a
shell sees.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from check.entries import host_entry, vm_entry

from scheduler.cli.main import main

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "demo.yaml"


def run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return int(exit_info.value.code or 0)


def island_cluster() -> dict[str, Any]:
    """Two older hosts (generation 1) nearly idle, two newer ones (generation 3) at 80 %.

    Without IMC the newer VMs cannot move back to the older hosts, so no placement gets the CPU
    imbalance below 0.35 (see tests/check/test_bounds.py): far above threshold 3's tolerance.
    """
    generations = (("o1", 1), ("o2", 1), ("n1", 3), ("n2", 3))
    vms = [vm_entry(f"old{i}", "o1", 1_000) for i in range(2)]
    vms += [vm_entry(f"new{i}", "n1" if i < 4 else "n2", 2_000) for i in range(8)]
    return {
        "name": "islands",
        "hosts": [host_entry(name, cpu={"vendor": "intel", "generation": g}) for name, g in generations],
        "vms": vms,
    }


def test_analyze_prints_the_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["analyze", str(DEMO)]) == 0
    out = capsys.readouterr().out
    assert "Imbalance (std-dev of utilization over up hosts)" in out
    assert "DRS tolerance" in out
    assert "Lower bounds" in out


def test_analyze_json_carries_metrics_and_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["analyze", str(DEMO), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["hosts"] == len(report["metrics"]["hosts"])
    assert set(report["lower_bounds"]["imbalance"]) == {"cpu", "memory"}
    assert report["lower_bounds"]["imbalance"]["cpu"] <= report["metrics"]["imbalance"]["cpu"] + 1e-9


def test_analyze_reports_an_unreachable_tolerance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "islands.yaml"
    path.write_text(yaml.safe_dump(island_cluster()))
    assert run(["analyze", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "Imbalance floor over the 4 hosts up" in out
    assert "out of reach" in out
    assert "Fewest hosts any placement keeps on" in out
    assert run(["analyze", str(path), "--json"]) == 0
    bounds = json.loads(capsys.readouterr().out)["lower_bounds"]
    assert bounds["imbalance"]["cpu"] == pytest.approx(0.35, rel=0.01)
    # 18,000 MHz of demand: two hosts at full capacity; three within DPM's 81 % (the newer VMs
    # alone fill the newer hosts' 16,200 MHz).
    assert (bounds["hosts"]["best"], bounds["hosts_dpm_target"]["best"]) == (2, 3)


def test_only_the_measured_resource_decides_whether_the_tolerance_is_reachable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The islands keep CPU at 0.35 at best, but a DRS that balances memory alone is not held to
    CPU's floor: its tolerance is reachable."""
    cluster = island_cluster()
    cluster["policy"] = {"drs": {"measure": "memory"}}
    path = tmp_path / "memory-only.yaml"
    path.write_text(yaml.safe_dump(cluster))
    assert run(["analyze", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "cpu 0.35" in out
    assert "the DRS tolerance is reachable" in out


def standby_island(dpm: bool) -> dict[str, Any]:
    """An older host o1 up and an older one o2 in standby, empty; a newer host n1 at 80 % with VMs
    that may not go back to the older generation; 2,000 MHz of older VMs that may go anywhere.

    Over the hosts up (o1, n1) the best placement is (0.2, 0.8), std-dev 0.3; counting the empty
    standby host too, the floor would be 0.33 (see tests/check/test_bounds.py).
    """
    generations = (("o1", 1, "up"), ("o2", 1, "standby"), ("n1", 3, "up"))
    vms = [vm_entry(f"old{i}", "o1", 1_000) for i in range(2)]
    vms += [vm_entry(f"new{i}", "n1", 2_000) for i in range(4)]
    return {
        "name": "standby-island",
        "policy": {"dpm": {"enabled": dpm}},
        "hosts": [
            host_entry(name, state, cpu={"vendor": "intel", "generation": g})
            for name, g, state in generations
        ],
        "vms": vms,
    }


def test_floor_without_dpm_is_over_the_hosts_up_and_a_plan_reaches_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "standby.yaml"
    path.write_text(yaml.safe_dump(standby_island(dpm=False)))
    assert run(["analyze", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "Imbalance floor over the 2 hosts up" in out
    assert "cpu 0.3000" in out
    out_path = tmp_path / "plan.json"
    assert run(["plan", str(path), "-o", str(out_path), "--time-limit", "5"]) == 0
    metrics = json.loads(out_path.read_text())["metrics"]
    assert metrics["lower_bounds"]["imbalance"]["cpu"] == pytest.approx(0.3, rel=0.01)
    assert metrics["lower_bounds"]["imbalance"]["cpu"] <= metrics["after"]["imbalance"]["cpu"] + 1e-9
    assert metrics["lower_bounds"]["imbalance_hosts"] == metrics["after"]["hosts_up"] == 2


def test_floor_with_dpm_names_every_usable_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "standby.yaml"
    path.write_text(yaml.safe_dump(standby_island(dpm=True)))
    assert run(["analyze", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    # Over 3 hosts the tolerance of threshold 3 is 0.2 / √3 = 0.1155, not the 0.1414 of the 2 up.
    assert "Imbalance floor with all 3 usable hosts on" in out
    assert "DPM may power hosts on or off" in out
    assert "the DRS tolerance (0.1155 over 3 hosts) is out of reach" in out


def test_analyze_prints_brackets_in_names_and_details(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rich reads "[...]" as markup: unescaped, "should_not run on [cna-01, cna-02]" loses its list
    and a VM called "db[primary]" its suffix."""
    monkeypatch.setenv("COLUMNS", "300")  # no wrapping, so that whole phrases can be looked for
    assert run(["analyze", str(DEMO)]) == 0
    assert "should_not run on [cna-01, cna-02]: backup-01 on cna-01" in capsys.readouterr().out
    cluster = {
        "name": "lab[east]",
        "hosts": [host_entry("h[1]"), host_entry("h[2]")],
        "vms": [
            vm_entry("db[primary]", "h[1]"),
            vm_entry("db[replica]", "h[1]"),
            vm_entry("usb[dongle]", "h[2]", pinned=True),
        ],
        "rules": [{"name": "db[apart]", "kind": "anti_affinity", "vms": ["db[primary]", "db[replica]"]}],
    }
    path = tmp_path / "brackets.yaml"
    path.write_text(yaml.safe_dump(cluster))
    assert run(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    for name in (
        "lab[east]",
        "h[1]",
        "h[2]",
        "db[apart]",
        "db[replica]",
        "sharing host(s) h[1]",
        "usb[dongle]",
    ):
        assert name in out, name


def test_max_rows_says_what_it_leaves_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two broken rules with --max-rows 1: the second is counted in a caption; of the 7 VMs that
    share h0 against the first (the eighth is not counted against it), 6 are shown and "+1 more"."""
    monkeypatch.setenv("COLUMNS", "300")
    cluster = {
        "name": "crowded",
        "hosts": [host_entry(f"h{i}") for i in range(8)],
        "vms": [vm_entry(f"v{i}", "h0", 500) for i in range(8)]
        + [vm_entry(f"w{i}", "h1", 500) for i in range(2)],
        "rules": [
            {"name": "v-apart", "kind": "anti_affinity", "vms": [f"v{i}" for i in range(8)]},
            {"name": "w-apart", "kind": "anti_affinity", "vms": ["w0", "w1"]},
        ],
    }
    path = tmp_path / "crowded.yaml"
    path.write_text(yaml.safe_dump(cluster))
    assert run(["analyze", str(path), "--max-rows", "1"]) == 0
    out = capsys.readouterr().out
    assert "v1, v2, v3, v4, v5, v6 +1 more" in out
    assert "1 more broken rules not shown" in out
    assert "7 more hosts not shown" in out


def test_lower_bounds_line_has_labels_and_units(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["analyze", str(DEMO)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Lower bounds: power ≥ 1753 W (at least 4 hosts on)" in out
    # The demo has DPM off: its standby host counts for the bounds but stays off in a plan.
    assert (
        "Usable hosts (up or standby): 7, of which 1 in standby stay off (DPM off); new VMs to place: 0"
        in out
    )
    assert "usable_hosts" not in out


def test_analyze_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cluster = island_cluster()
    cluster["vms"][0]["host"] = "nowhere"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cluster))
    assert run(["analyze", str(path)]) == 2
    err = capsys.readouterr().err.replace("\n", "")  # the console wraps long paths
    assert "bad.yaml: vm old0: host: unknown host 'nowhere'" in err


def test_max_rows_below_one_is_a_usage_error() -> None:
    assert run(["analyze", str(DEMO), "--max-rows", "-3"]) == 2
