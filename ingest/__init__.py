"""``ingest``: the operators' CLI (dataset files, table reflection, lineage); imports libs only."""
