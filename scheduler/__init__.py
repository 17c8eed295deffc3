"""scheduler: an offline DRS/DPM placement optimizer for virtualization clusters."""

__version__ = "0.1.0"
