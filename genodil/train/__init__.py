"""Training: the Lightning system, losses, metrics, checkpoint loading."""
