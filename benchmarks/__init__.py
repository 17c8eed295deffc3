"""Component measurements (``python -m benchmarks.<name> --help``): timings and validations that print
their figures, some also writing CSV and PNG under ``benchmarks/results``; see benchmarks/README.md."""
