"""Prefect flows, settings and the `storyreel` CLI: thin glue over the inner packages."""
