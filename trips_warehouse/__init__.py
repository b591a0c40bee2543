"""trips warehouse: dbt-centric ELT pipeline for vehicle-trip data."""

__version__ = "0.1.0"
