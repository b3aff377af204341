"""The consumer: validates batches and loads them into PostgreSQL with exactly-once effect."""
