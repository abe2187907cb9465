"""The training room: loop, devices, AMP, DDP, checkpoints + resume, metrics.jsonl, TensorBoard."""
