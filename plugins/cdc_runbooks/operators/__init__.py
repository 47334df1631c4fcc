"""Airflow operators: thin shells over the pure domain modules of ``cdc_runbooks``."""
