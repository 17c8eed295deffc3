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
    out = capsys.readouterr().out
    assert "Imbalance floor" in out
    assert "out of reach" in out
    assert "Fewest hosts any placement keeps on" in out
    assert run(["analyze", str(path), "--json"]) == 0
    bounds = json.loads(capsys.readouterr().out)["lower_bounds"]
    assert bounds["imbalance"]["cpu"] == pytest.approx(0.35, rel=0.01)
    # 18,000 MHz of demand: two hosts at full capacity; three within DPM's 81 % (the newer VMs
    # alone fill the newer hosts' 16,200 MHz).
    assert (bounds["hosts"]["best"], bounds["hosts_dpm_target"]["best"]) == (2, 3)


def test_analyze_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cluster = island_cluster()
    cluster["vms"][0]["host"] = "nowhere"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cluster))
    assert run(["analyze", str(path)]) == 2
    err = capsys.readouterr().err.replace("\n", "")  # the console wraps long paths
    assert "bad.yaml: vm old0: host: unknown host 'nowhere'" in err
