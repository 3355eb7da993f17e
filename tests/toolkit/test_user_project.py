"""The README's "Testing your tasks" example is a user's project: its files, written to a temp
folder, pass under plain ``pytest``, the fixture coming from the installed entry point."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def example_files() -> dict[str, str]:
    """The section's python blocks, each named by its first line (``# tasks.py``)."""
    text = README.read_text()
    section = text.split("## Testing your tasks\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n# (\S+)\n(.*?)```", section, flags=re.DOTALL)
    return dict(blocks)


def test_the_readme_example_project_passes_with_no_configuration(tmp_path: Path) -> None:
    files = example_files()
    assert set(files) == {"tasks.py", "test_tasks.py"}
    for name, code in files.items():
        (tmp_path / name).write_text(code)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout, done.stdout
