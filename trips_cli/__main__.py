"""``python -m trips_cli``: the ``trips`` command."""

from trips_cli.main import main

main()
