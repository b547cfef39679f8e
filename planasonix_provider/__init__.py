"""Apache Airflow provider for the Planasonix Orchestration API v1."""

__version__ = "0.1.0"
