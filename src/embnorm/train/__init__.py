"""Training: batched on-device augmentation, the loop, schedules, checkpoints and the kNN monitor."""
