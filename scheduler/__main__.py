"""``python -m scheduler``: the ``scheduler`` command, for environments without its console script."""

from scheduler.cli.main import main

if __name__ == "__main__":
    main()
