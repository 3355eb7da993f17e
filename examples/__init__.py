"""Runnable example tasks, used by tasks.example.toml and the README tour."""
