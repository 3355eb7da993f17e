"""The worker runtime: claim loops, heartbeats, stall sweeps and graceful stop."""
