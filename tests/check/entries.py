"""Inventory entries as an inventory file holds them (mappings), for tests that go through the
reader: a 10,000 MHz / 16,384 MiB host and a 2-vCPU, 1,024 MiB VM unless told otherwise."""

from __future__ import annotations

from typing import Any


def host_entry(name: str, state: str = "up", **extra: Any) -> dict[str, Any]:
    return {"name": name, "cpu_mhz": 10_000, "memory_mib": 16_384, "state": state, **extra}


def vm_entry(name: str, on: str | None, cpu_mhz: int = 1_000, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "host": on,
        "vcpus": 2,
        "memory_mib": 1_024,
        "cpu_demand_mhz": cpu_mhz,
        "memory_demand_mib": 1_024,
        **extra,
    }
