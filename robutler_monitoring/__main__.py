"""`python -m robutler_monitoring` runs the `robutler` command."""

from robutler_monitoring.host.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
