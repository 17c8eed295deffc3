"""The hosts-on plot: load on x as the instances carry it, the L2 bound at the same x."""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from scheduler.bench.plots import frame, plot_hosts_on

# (nominal load, the load the instance carries, L2 bound, hosts on for ours, for FFD)
LEVELS = ((0.35, 0.35, 12, 13, 14), (0.6, 0.6, 20, 21, 22), (0.85, 0.7914, 27, 32, None))


def dpm_rows(with_measured_load: bool = True) -> pd.DataFrame:
    """The M family's DPM runs at three load levels, one instance each; FFD fails at 85 %."""
    rows = []
    for nominal, carried, bound, ours, ffd in LEVELS:
        for contender, hosts_on in (("ours-t3-dpm", ours), ("ffd-dpm", ffd)):
            row = {
                "instance": f"M-none-l{round(nominal * 100)}-hotspots-g2",
                "seed": 0,
                "contender": contender,
                "family": "M",
                "dpm": True,
                "load": nominal,
                "status": "feasible" if hosts_on is not None else "failed",
                "hosts_on": "" if hosts_on is None else hosts_on,
                "hosts_bound_l2": bound,
                "hosts_on_before": 32,
            }
            if with_measured_load:
                row["fluid_bound_cpu"] = carried
            rows.append(row)
    # Rows as the CSV gives them back: every cell text.
    return frame([{k: str(v) for k, v in row.items()} for row in rows])


def lines(ax: Axes) -> dict[str, Line2D]:
    return {str(line.get_label()): line for line in ax.get_lines()}


@pytest.fixture
def ax() -> Iterator[Axes]:
    figure, new = plt.subplots()
    yield new
    plt.close(figure)


def test_load_on_x_is_what_the_instances_carry_and_the_bound_sits_at_the_same_x(ax: Axes) -> None:
    plot_hosts_on(dpm_rows(), "M", ax=ax)
    drawn = lines(ax)
    carried = [100 * level[1] for level in LEVELS]  # 79.14 at the 85 % level, not 85
    assert np.allclose(drawn["ours-t3-dpm"].get_xdata(), carried)
    assert np.allclose(drawn["ours-t3-dpm"].get_ydata(), [13, 21, 32])
    assert np.allclose(drawn["L2 bound (DPM high target)"].get_xdata(), carried)
    assert np.allclose(drawn["L2 bound (DPM high target)"].get_ydata(), [12, 20, 27])
    assert np.allclose(drawn["hosts on before"].get_xdata(), carried)
    # A contender's failed run is no point; its others keep their instance's x.
    assert np.allclose(drawn["ffd-dpm"].get_xdata(), carried[:2])
    assert ax.get_xlabel().startswith("CPU load before the plan")
    assert sorted(t.get_text() for t in ax.texts) == ["l35", "l60", "l85"]


def test_results_without_the_measured_load_are_plotted_at_the_nominal_load_and_say_so(ax: Axes) -> None:
    plot_hosts_on(dpm_rows(with_measured_load=False), "M", ax=ax)
    drawn = lines(ax)
    assert np.allclose(drawn["ours-t3-dpm"].get_xdata(), [35, 60, 85])
    assert np.allclose(drawn["L2 bound (DPM high target)"].get_xdata(), [35, 60, 85])
    assert ax.get_xlabel().startswith("nominal load")


def test_instances_of_a_level_are_averaged_once_each_not_once_per_run(ax: Axes) -> None:
    """Two seeds at one level: load and bound are their mean, however many contenders ran."""
    df = dpm_rows()
    second = df[df["load"] == 0.6].copy()
    second["seed"] = 1
    second["fluid_bound_cpu"] = 0.58
    second["hosts_bound_l2"] = 18
    second = pd.concat([second, second[second["contender"] == "ours-t3-dpm"].assign(contender="extra")])
    plot_hosts_on(pd.concat([df, second], ignore_index=True), "M", ax=ax)
    bound = lines(ax)["L2 bound (DPM high target)"]
    assert np.isclose(bound.get_xdata()[1], 59.0)
    assert np.isclose(bound.get_ydata()[1], 19.0)
