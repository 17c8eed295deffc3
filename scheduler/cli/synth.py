"""``scheduler synth``: write a seeded synthetic cluster inventory (YAML, JSON or a CSV folder)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import click

from scheduler.cli.console import make_console
from scheduler.cli.paths import check_output_file, check_output_folder, naming_option
from scheduler.errors import InputError, Problem
from scheduler.synth import RULE_DENSITIES, SKEWS, SpecError, SynthSpec, synthesize

Format = Literal["yaml", "json", "csv"]
FORMATS: dict[str, Format] = {"yaml": "yaml", "json": "json", "csv": "csv"}
_FORMAT_OF_SUFFIX: dict[str, Format] = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}
_WHERE = "command line"
_DEFAULT = SynthSpec()
# Upper bounds only (the spec judges the rest, every problem at once): 10,000 hosts x 1,000,000
# VMs generate in about 30 s within 1 GiB; far larger sizes ran out of memory with a traceback.
MAX_HOSTS = 10_000
MAX_VMS = 1_000_000

# Spec field -> the flag that sets it, so that a problem names what the user typed.
_FLAG_OF_FIELD = {
    "hosts": "--hosts",
    "vms": "--vms",
    "seed": "--seed",
    "load": "--load",
    "rule_density": "--rules",
    "skew": "--skew",
    "cpu_generations": "--generations",
    "vendors": "--vendors",
    "maintenance_hosts": "--maintenance",
    "standby_hosts": "--standby",
    "down_hosts": "--down",
    "new_vms": "--new-vms",
    "immobile_fraction": "--immobile",
    "dpm_enabled": "--dpm",
    "drs_threshold": "--drs-threshold",
    "measure": "--measure",
    "hypervisor": "--hypervisor",
    "network_gbps": "--network-gbps",
    "memory_overcommit": "--memory-overcommit",
    "imc": "--imc",
    "name": "--name",
}


def _output_format(path: Path, fmt: str | None) -> tuple[Format | None, list[Problem]]:
    """The format asked for with --format, else the one the output's suffix names."""
    if fmt is not None:
        if fmt.lower() in FORMATS:
            return FORMATS[fmt.lower()], []
        message = f"must be one of {', '.join(FORMATS)}, got {fmt!r}"
        return None, [Problem(_WHERE, "", "--format", message)]
    by_suffix = _FORMAT_OF_SUFFIX.get(path.suffix.lower())
    if by_suffix is None:
        message = (
            f"cannot tell the format from {path.name!r}: name a .yaml, .yml or .json file, "
            "or give a folder with --format csv"
        )
        return None, [Problem(_WHERE, "", "--output", message)]
    return by_suffix, []


def _output_problems(path: Path, fmt: Format | None) -> list[Problem]:
    """Whether the inventory can be written at ``path`` (a folder for CSV), before generating it."""
    # Imported here: the writer belongs to the I/O package, which only writing needs.
    from scheduler.io.csv_folder import FILES

    try:
        if fmt == "csv":
            check_output_folder(path, "--output", owned_names=FILES)
        elif fmt is not None:
            check_output_file(path, "--output")
    except InputError as exc:
        return exc.problems
    return []


@click.command("synth")
@click.option(
    "--hosts",
    type=click.IntRange(max=MAX_HOSTS),
    default=_DEFAULT.hosts,
    show_default=True,
    help=f"Hosts, every state (at most {MAX_HOSTS:,}).",
)
@click.option(
    "--vms",
    type=click.IntRange(max=MAX_VMS),
    default=_DEFAULT.vms,
    show_default=True,
    help=f"VMs, new ones included (at most {MAX_VMS:,}).",
)
@click.option("--seed", type=int, default=_DEFAULT.seed, show_default=True, help="Random seed.")
@click.option(
    "--load",
    type=float,
    default=_DEFAULT.load,
    show_default=True,
    help="Mean CPU utilization of the up hosts, in (0, 0.9].",
)
@click.option(
    "--rules",
    "rule_density",
    default=_DEFAULT.rule_density,
    show_default=True,
    help=f"Rule density: {' | '.join(RULE_DENSITIES)} (typical = 3 rules per 100 VMs).",
)
@click.option("--skew", default=_DEFAULT.skew, show_default=True, help=f"Initial skew: {' | '.join(SKEWS)}.")
@click.option(
    "--generations",
    "cpu_generations",
    type=int,
    default=_DEFAULT.cpu_generations,
    show_default=True,
    help="CPU generations per vendor.",
)
@click.option("--vendors", type=int, default=_DEFAULT.vendors, show_default=True, help="CPU vendors, 1 or 2.")
@click.option(
    "--maintenance",
    "maintenance_hosts",
    type=int,
    default=0,
    show_default=True,
    help="Hosts in maintenance (holding VMs to evacuate).",
)
@click.option("--standby", "standby_hosts", type=int, default=0, show_default=True, help="Hosts in standby.")
@click.option("--down", "down_hosts", type=int, default=0, show_default=True, help="Hosts down.")
@click.option("--new-vms", type=int, default=0, show_default=True, help="VMs without a host yet.")
@click.option(
    "--immobile",
    "immobile_fraction",
    type=float,
    default=_DEFAULT.immobile_fraction,
    show_default=True,
    help="Share of VMs pinned, with devices, DRS disabled or linked clones.",
)
@click.option("--dpm/--no-dpm", "dpm_enabled", default=False, show_default=True, help="Enable DPM.")
@click.option(
    "--drs-threshold",
    type=int,
    default=_DEFAULT.drs_threshold,
    show_default=True,
    help="DRS threshold, 1 (conservative) .. 5 (aggressive).",
)
@click.option("--measure", default=_DEFAULT.measure, show_default=True, help="cpu | memory | cpu_memory.")
@click.option("--hypervisor", default=_DEFAULT.hypervisor, show_default=True, help="Migration model.")
@click.option(
    "--network-gbps",
    type=float,
    default=_DEFAULT.network_gbps,
    show_default=True,
    help="Migration network, Gbit/s.",
)
@click.option(
    "--memory-overcommit",
    type=float,
    default=None,
    help="Memory overcommit factor [default: the smallest that fits VM memory in 85 % of the hosts].",
)
@click.option("--imc/--no-imc", default=False, show_default=True, help="Set IMC to the oldest generation.")
@click.option("--name", default=None, help="Cluster name [default: synth-<hosts>x<vms>-s<seed>].")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Inventory to write: a .yaml/.yml/.json file, or a folder with --format csv.",
)
@click.option("--format", "fmt", default=None, help="yaml | json | csv [default: from the output's suffix].")
def command(output: Path, fmt: str | None, **fields: Any) -> int:
    """Write a seeded synthetic cluster: realistic sizes and load, every rule kind, skewed but solvable."""
    chosen, problems = _output_format(output, fmt)
    problems += _output_problems(output, chosen)
    spec: SynthSpec | None = None
    try:
        spec = SynthSpec(**fields)
    except SpecError as exc:
        problems = [Problem(_WHERE, "", _FLAG_OF_FIELD.get(f, f), m) for f, m in exc.problems] + problems
    if problems or spec is None or chosen is None:
        raise InputError(problems)

    # Imported here: the writer belongs to the I/O package, which only this step needs.
    from scheduler.io import write_inventory

    start = time.perf_counter()
    try:
        instance = synthesize(spec)
    except SpecError as exc:
        raise InputError(
            [Problem(_WHERE, "", _FLAG_OF_FIELD.get(f, f), m) for f, m in exc.problems]
        ) from None
    with naming_option("--output"):
        write_inventory(instance, output, chosen)
    seconds = time.perf_counter() - start
    make_console(stderr=True).print(
        f"synth: {instance.num_hosts} hosts, {instance.num_vms} VMs, {len(instance.rules)} rules "
        f"-> {output} ({chosen}) in {seconds:.2f} s",
        markup=False,
    )
    return 0
