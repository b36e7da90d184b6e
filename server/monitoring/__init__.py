"""Monitoring: the supervisors' dashboard (progress, bottlenecks, quality, the plan's targets)."""
