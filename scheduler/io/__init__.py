"""Inventory and plan I/O: read, validate and write the formats of docs/inventory.md and docs/plan.md.

Every input problem becomes an ``InputError`` whose problems name the file, the entry and the
field; all problems of an input are reported together.
"""

from scheduler.io.atomic import atomic_write_bytes, atomic_write_csv, atomic_write_figure, atomic_write_text
from scheduler.io.inventory import parse_inventory, read_inventory
from scheduler.io.plan import parse_plan, plan_to_dict, read_plan, read_target, write_plan
from scheduler.io.writer import InventoryFormat, inventory_to_dict, write_inventory

__all__ = [
    "InventoryFormat",
    "atomic_write_bytes",
    "atomic_write_csv",
    "atomic_write_figure",
    "atomic_write_text",
    "inventory_to_dict",
    "parse_inventory",
    "parse_plan",
    "plan_to_dict",
    "read_inventory",
    "read_plan",
    "read_target",
    "write_inventory",
    "write_plan",
]
