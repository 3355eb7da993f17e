"""The Examples section of every command's --help, in one place so each command module stays
about what it does; ``build_command`` in ``cli/__init__.py`` attaches them."""

from __future__ import annotations

from typing import Any

EXAMPLES: dict[str, tuple[str, ...]] = {
    "work": (
        "taskora work",
        "taskora work -q emails=4 -q default -p 2",
        "taskora work --burst --json   # run what is ready, then print a summary",
    ),
    "dispatch": (
        'taskora dispatch send-email -d \'{"to": "a@example.com"}\'',
        "taskora dispatch resize --delay 10m --priority 5",
        'taskora dispatch add -d \'{"a": 1, "b": 2}\' --wait --timeout 30s',
        "taskora dispatch greet --wait --raw   # a string result, unquoted",
        "taskora dispatch add --ndjson jobs.ndjson --json",
        "taskora dispatch send-email -d @mail.json --skip-validation",
        "taskora dispatch invoice --id order-42 --at 2026-12-24T09:00Z",
    ),
    "init": (
        "taskora init -m app.tasks",
        "taskora init --url redis://localhost:6379/0 -m app.tasks --force",
    ),
    "config": ("taskora config", "taskora config --json | jq .sources"),
    "doctor": ("taskora doctor", "taskora doctor --max-latency 60s --max-depth 1000 --json"),
    "stats": ("taskora stats", "taskora stats --watch --interval 5s", "taskora stats --json"),
    "events": (
        "taskora events -n 50",
        "taskora events --follow -t send-email --json | jq -c 'select(.event==\"failed\")'",
    ),
    "board": (
        "taskora board   # http://127.0.0.1:8080/board/",
        "TASKORA_BOARD_USER=ops TASKORA_BOARD_PASSWORD=... TASKORA_BOARD_SECRET=... "
        "taskora board --host 0.0.0.0",
        "taskora board --read-only --redact password --redact token",
        "taskora board --check --json",
    ),
    "top": ("taskora top", "taskora top -t send-email", "taskora top --once --json"),
    "gateway": (
        "taskora gateway --port 4000",
        "TASKORA_GATEWAY_TOKEN=s3cret taskora gateway --host 0.0.0.0 --port 4000",
    ),
    "server status": ("taskora server status", "taskora server status --json"),
    "server start": (
        "taskora server start",
        "taskora server start --cluster 3 --replicas 1",
    ),
    "server migrate": ("taskora server migrate", "taskora server migrate --yes --json"),
    "server stop": (
        "taskora server stop",
        "taskora server stop --json",
        "taskora server stop --cluster",
    ),
    "dlq ls": ("taskora dlq ls", "taskora dlq ls --group", "taskora dlq ls -t send-email --json"),
    "dlq retry": ("taskora dlq retry 8f1c2d3e",),
    "dlq retry-all": (
        "taskora dlq retry-all --error-match 'TimeoutError' --since 1h --dry-run",
        "taskora dlq retry-all -t send-email --yes",
    ),
    "dlq purge": ("taskora dlq purge --since 30d --dry-run", "taskora dlq purge -t resize --yes"),
    "jobs ls": (
        "taskora jobs ls",
        "taskora jobs ls -t send-email -s failed -n 20",
        "taskora jobs ls -e timeout --wide",
        "taskora jobs ls --json | jq -r '.[].id'",
    ),
    "jobs show": ("taskora jobs show 8f1c2d3e", "taskora jobs show 8f1c2d3e --json"),
    "jobs logs": ("taskora jobs logs 8f1c2d3e", "taskora jobs logs 8f1c2d3e --follow --json"),
    "jobs retry": ("taskora jobs retry 8f1c2d3e",),
    "jobs cancel": ("taskora jobs cancel 8f1c2d3e --reason 'sent by mistake'",),
    "jobs rm": ("taskora jobs rm 8f1c2d3e", "taskora jobs rm order-42 -t invoice --json"),
    "jobs clean": (
        "taskora jobs clean --state completed --older-than 7d --dry-run",
        "taskora jobs clean --state failed --older-than 30d -t resize --yes",
    ),
    "jobs wait": (
        "taskora jobs wait 8f1c2d3e 9a0b1c2d --timeout 5m",
        "taskora jobs wait 8f1c2d3e --json",
    ),
    "tasks ls": ("taskora tasks ls", "taskora tasks ls --json | jq -r '.[].name'"),
    "tasks show": (
        "taskora tasks show send-email",
        "taskora tasks show send-email --schema > send-email.schema.json",
        "taskora tasks show send-email --json | jq .migrations",
    ),
    "workers ls": ("taskora workers ls", "taskora workers ls --json"),
    "workers drain": (
        "taskora workers drain host-1",
        "taskora workers drain host-1 --wait --timeout 2m",
    ),
    "queues ls": ("taskora queues ls", "taskora queues ls --json"),
    "queues pause": ("taskora queues pause emails",),
    "queues resume": ("taskora queues resume emails",),
    "schedules ls": ("taskora schedules ls", "taskora schedules ls --json"),
    "schedules show": ("taskora schedules show nightly-report",),
    "schedules next": ("taskora schedules next nightly-report -n 10",),
    "schedules add": (
        "taskora schedules add cleanup --task purge-tmp --every 1h",
        "taskora schedules add nightly-report -t report --cron '0 2 * * *' "
        '--timezone Europe/Berlin -d \'{"kind": "daily"}\'',
    ),
    "schedules update": (
        "taskora schedules update nightly-report --cron '30 2 * * *'",
        "taskora schedules update cleanup --every 30m --overlap",
    ),
    "schedules pause": ("taskora schedules pause nightly-report",),
    "schedules resume": ("taskora schedules resume nightly-report",),
    "schedules trigger": ("taskora schedules trigger nightly-report --wait",),
    "schedules rm": ("taskora schedules rm nightly-report --yes",),
    "workflows ls": ("taskora workflows ls --state running", "taskora workflows ls --json"),
    "workflows show": ("taskora workflows show 3f9c2a",),
    "workflows cancel": ('taskora workflows cancel 3f9c2a --reason "superseded"',),
    "workflows wait": ("taskora workflows wait 3f9c2a --timeout 5m",),
}


def attach_examples(command: Any, path: str = "") -> None:
    """Append an Examples section to the help of ``command`` (a click command) and of every
    command under it that has examples."""
    for name, sub in (getattr(command, "commands", None) or {}).items():
        attach_examples(sub, f"{path} {name}".strip())
    lines = EXAMPLES.get(path)
    if not lines:
        return
    section = "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)
    command.epilog = f"{command.epilog}\n\n{section}" if command.epilog else section
