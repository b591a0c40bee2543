"""The ``trips`` command line: the top layer. Each module registers one area's commands on the
group in :mod:`trips_cli.main`; they parse arguments, call the layers below and print. Nothing
below imports this package."""
