"""Training: the per-worker loop, checkpoints, and backends (in-process, Ray Train)."""
