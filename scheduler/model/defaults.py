"""Every default value of an optional inventory field, in one place.

The inventory format lets most fields be omitted; the reader fills them from here, and
``docs/inventory.md`` lists the same table for users. Sources of the less obvious numbers:

- DRS threshold 3: vSphere's default DRS migration threshold, the middle of 1..5 (vSphere
  Resource Management guide, DRS migration threshold).
- DPM target band 45 %..81 %: vSphere DPM's advanced options DemandCapacityRatioTarget 63 % and
  DemandCapacityRatioToleranceHost 18 (Broadcom KB 310527, DPM advanced options): 63 % ± 18 points.
- 2 concurrent migrations per host: oVirt "minimal downtime" policy, KubeVirt, Watcher, ProxLB.
- 300 ms downtime limit: QEMU's default ``downtime-limit`` (``DEFAULT_MIGRATE_SET_DOWNTIME``,
  ``migration/options.c``).
- Power curve 150 W idle, 450 W max, 300 s boot: a typical two-socket server.
"""

from __future__ import annotations

DEFAULT_DRS_ENABLED = True
DEFAULT_DRS_MEASURE = "cpu_memory"
DEFAULT_DRS_THRESHOLD = 3

DEFAULT_DPM_ENABLED = False
DEFAULT_DPM_THRESHOLD = 3
DEFAULT_DPM_TARGET_UTILIZATION = (0.45, 0.81)
DEFAULT_DPM_MIN_HOSTS_ON = 1

DEFAULT_MEMORY_OVERCOMMIT = 1.0

DEFAULT_NETWORK_GBPS = 10.0
DEFAULT_MAX_CONCURRENT_PER_HOST = 2
DEFAULT_DOWNTIME_LIMIT_MS = 300.0
DEFAULT_HYPERVISOR = "qemu"
DEFAULT_MIGRATION_TIMEOUT_S: float | None = None

DEFAULT_IDLE_W = 150.0
DEFAULT_MAX_W = 450.0
DEFAULT_BOOT_S = 300.0

DEFAULT_CPU_VENDOR = "intel"
DEFAULT_CPU_GENERATION = 1

DEFAULT_DIRTY_RATE_MIBPS = 0.0
DEFAULT_DRS_ENABLED_FOR_VM = True

HYPERVISORS = ("qemu", "xen", "xen_legacy", "vmware", "fusioncompute")
DRS_MEASURES = ("cpu", "memory", "cpu_memory")
