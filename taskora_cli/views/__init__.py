"""The read and admin views over a running app: jobs, dead letters, queues,
schedules, events and workers."""
