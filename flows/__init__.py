"""Prefect flows that orchestrate the pipeline, plus notifications and the live status stream."""
