"""Training: the per-worker loop, checkpoints, run orchestration, the backends (in-process, Ray Train) and the Ray Tune adapter."""
