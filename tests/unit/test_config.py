"""Config loading: discovery, precedence with sources, durations, errors, TOML output."""

from __future__ import annotations

import copy
import pickle
import tomllib
from pathlib import Path

import pytest

from taskora_cli.config import (
    Config,
    RetentionConfig,
    RetryDefaults,
    TaskDefaults,
    WorkerConfig,
    config_to_toml,
    find_config_file,
    load_config,
)
from taskora_cli.config_schema import KEYS
from taskora_cli.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "tasks.example.toml"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load_text(
    tmp_path: Path,
    text: str,
    env: dict[str, str] | None = None,
    overrides: dict[str, object] | None = None,
) -> Config:
    """Load `text` as ./taskora.toml; the indentation of triple-quoted TOML is harmless."""
    write(tmp_path / "taskora.toml", text)
    return load_config(overrides=overrides, env=env or {}, cwd=tmp_path)


def error_of(tmp_path: Path, text: str, name: str = "tasks.toml") -> str:
    write(tmp_path / name, text)
    with pytest.raises(ConfigError) as caught:
        load_config(Path(name), env={}, cwd=tmp_path)
    return str(caught.value)


# -- discovery ---------------------------------------------------------------------------------


def test_no_file_anywhere_finds_nothing(tmp_path: Path) -> None:
    assert find_config_file(None, {}, tmp_path) is None


def test_explicit_path_beats_env_and_discovery(tmp_path: Path) -> None:
    write(tmp_path / "taskora.toml", "")
    write(tmp_path / "from_env.toml", "")
    chosen = write(tmp_path / "chosen.toml", "")
    env = {"TASKORA_CONFIG": "from_env.toml"}
    assert find_config_file(Path("chosen.toml"), env, tmp_path) == (chosen, False)


def test_taskora_config_env_beats_discovery(tmp_path: Path) -> None:
    write(tmp_path / "taskora.toml", "")
    from_env = write(tmp_path / "conf" / "from_env.toml", "")
    env = {"TASKORA_CONFIG": "conf/from_env.toml"}
    assert find_config_file(None, env, tmp_path) == (from_env, False)


def test_taskora_toml_beats_pyproject(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.taskora]\nprefix = 'p'\n")
    found = write(tmp_path / "taskora.toml", "")
    assert find_config_file(None, {}, tmp_path) == (found, False)


def test_pyproject_is_found_only_with_a_tool_taskora_table(tmp_path: Path) -> None:
    pyproject = write(tmp_path / "pyproject.toml", "[tool.ruff]\nline-length = 100\n")
    assert find_config_file(None, {}, tmp_path) is None
    write(pyproject, "[tool.taskora]\n")
    assert find_config_file(None, {}, tmp_path) == (pyproject, True)


def test_pyproject_tool_taskora_table_is_loaded(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.taskora]\nmodules = ['app.tasks']\n")
    config = load_config(env={}, cwd=tmp_path)
    assert config.modules == ("app.tasks",)
    assert config.path == tmp_path / "pyproject.toml"
    assert config.sources["modules"] == "file pyproject.toml"


def test_explicit_pyproject_without_tool_taskora_is_an_error(tmp_path: Path) -> None:
    message = error_of(tmp_path, "[project]\nname = 'x'\n", "pyproject.toml")
    assert message.startswith("pyproject.toml: no [tool.taskora] table")


def test_root_is_the_config_files_directory_and_state_dir_resolves_against_it(
    tmp_path: Path,
) -> None:
    write(tmp_path / "conf" / "tasks.toml", 'state_dir = "data"\n')
    config = load_config(Path("conf/tasks.toml"), env={}, cwd=tmp_path)
    assert config.root == tmp_path / "conf"
    assert config.state_dir == tmp_path / "conf" / "data"


def test_without_a_file_root_is_cwd_and_state_dir_defaults_under_it(tmp_path: Path) -> None:
    config = load_config(env={}, cwd=tmp_path)
    assert (config.path, config.root) == (None, tmp_path)
    assert config.state_dir == tmp_path / ".taskora"


def test_absolute_state_dir_is_kept(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    config = load_text(tmp_path, f'state_dir = "{elsewhere.as_posix()}"\n')
    assert config.state_dir == elsewhere


# -- values, defaults and precedence -----------------------------------------------------------


def test_an_empty_file_gives_the_dataclass_defaults_all_sourced_as_default(
    tmp_path: Path,
) -> None:
    config = load_text(tmp_path, "")
    assert (config.url, config.modules, config.prefix) == (None, (), "")
    assert config.defaults == TaskDefaults()
    assert config.worker == WorkerConfig()
    assert config.retention == RetentionConfig()
    assert config.schedules == {}
    assert config.sources == {key.name: "default" for key in KEYS}


def test_every_file_key_is_read_into_its_dataclass(tmp_path: Path) -> None:
    config = load_text(
        tmp_path,
        """
        url = "redis://db:6379/1"
        modules = ["a.tasks", "b"]
        prefix = "staging"
        [defaults]
        timeout = "2m"
        concurrency = 4
        stall_interval = 10
        max_stalls = 0
        [defaults.retry]
        attempts = 5
        backoff = "linear"
        delay = "250ms"
        max_delay = "1h"
        jitter = false
        [worker]
        concurrency = 8
        processes = 2
        queues = { emails = 3, images = 1 }
        grace = 0.5
        [retention]
        completed_max_age = false
        completed_max_items = 0
        failed_max_age = "2d"
        failed_max_items = false
        [schedules.nightly]
        task = "report"
        cron = "0 3 * * *"
        """,
    )
    assert (config.url, config.modules, config.prefix) == (
        "redis://db:6379/1",
        ("a.tasks", "b"),
        "staging",
    )
    assert config.defaults == TaskDefaults(
        timeout_ms=120_000,
        concurrency=4,
        retry=RetryDefaults(5, "linear", 250, 3_600_000, False),
        stall_interval_ms=10_000,
        max_stalls=0,
    )
    assert config.worker == WorkerConfig(8, 2, {"emails": 3, "images": 1}, 500)
    assert config.retention == RetentionConfig(None, 0, 2 * 86_400_000, None)
    assert config.schedules == {"nightly": {"task": "report", "cron": "0 3 * * *"}}
    assert config.sources["worker.queues"] == "file taskora.toml"
    assert config.sources["schedules"] == "file taskora.toml"


@pytest.mark.parametrize(
    ("written", "ms"),
    [("90", 90_000), ("1.5", 1500), ('"500ms"', 500), ('"45s"', 45_000), ('"5m"', 300_000),
     ('"2h"', 7_200_000), ('"1d"', 86_400_000), ('"30"', 30_000)],
)  # fmt: skip
def test_durations_are_seconds_or_strings_with_a_unit(
    tmp_path: Path, written: str, ms: int
) -> None:
    config = load_text(tmp_path, f"[worker]\ngrace = {written}\n")
    assert config.worker.grace_ms == ms


def test_flag_beats_env_beats_file_beats_default_and_sources_say_which(tmp_path: Path) -> None:
    config = load_text(
        tmp_path,
        'url = "redis://file"\nprefix = "file"\n[worker]\nconcurrency = 2\nprocesses = 3\n',
        env={"TASKORA_URL": "redis://env", "TASKORA_PREFIX": "env", "TASKORA_CONCURRENCY": "5"},
        overrides={"url": "redis://flag", "worker.concurrency": 9},
    )
    assert (config.url, config.prefix) == ("redis://flag", "env")
    assert (config.worker.concurrency, config.worker.processes) == (9, 3)
    assert config.sources["url"] == "flag"
    assert config.sources["prefix"] == "env TASKORA_PREFIX"
    assert config.sources["worker.concurrency"] == "flag"
    assert config.sources["worker.processes"] == "file taskora.toml"
    assert config.sources["worker.grace"] == "default"


def test_every_taskora_env_variable_is_read(tmp_path: Path) -> None:
    env = {
        "TASKORA_URL": "unix:///tmp/r.sock",
        "TASKORA_PREFIX": "ci",
        "TASKORA_MODULES": "a.tasks, b.tasks,,",
        "TASKORA_STATE_DIR": "state",
        "TASKORA_CONCURRENCY": "6",
        "TASKORA_PROCESSES": " 2 ",
    }
    config = load_config(env=env, cwd=tmp_path)
    assert (config.url, config.prefix, config.modules) == (
        env["TASKORA_URL"],
        "ci",
        ("a.tasks", "b.tasks"),
    )
    assert config.state_dir == tmp_path / "state"
    assert (config.worker.concurrency, config.worker.processes) == (6, 2)
    assert config.sources["modules"] == "env TASKORA_MODULES"


def test_an_empty_env_variable_counts_as_unset(tmp_path: Path) -> None:
    config = load_text(tmp_path, 'prefix = "file"\n', env={"TASKORA_PREFIX": ""})
    assert (config.prefix, config.sources["prefix"]) == ("file", "file taskora.toml")


def test_flags_use_file_key_names_accept_durations_and_ignore_none(tmp_path: Path) -> None:
    config = load_config(
        overrides={
            "modules": ["x.tasks"],
            "worker.grace": "5s",
            "url": None,
            "state_dir": tmp_path / "s",
        },
        env={},
        cwd=tmp_path,
    )
    assert (config.modules, config.worker.grace_ms, config.url) == (("x.tasks",), 5000, None)
    assert config.state_dir == tmp_path / "s"
    assert (config.sources["worker.grace"], config.sources["url"]) == ("flag", "default")


# -- errors --------------------------------------------------------------------------------------


def test_unknown_top_level_key_names_file_key_and_allowed_keys(tmp_path: Path) -> None:
    assert error_of(tmp_path, 'urll = "redis://x"\n') == (
        "tasks.toml: urll: unknown key; allowed: url, app, modules, prefix, cluster, state_dir, "
        "schedules, defaults, worker, retention, scheduler, tls, board"
    )


def test_unknown_key_inside_a_table_names_the_table(tmp_path: Path) -> None:
    assert error_of(tmp_path, "[worker]\nconcurrncy = 4\n") == (
        "tasks.toml: [worker] concurrncy: unknown key; "
        "allowed: concurrency, processes, queues, grace, heartbeat"
    )


def test_unknown_key_in_a_nested_table_names_the_dotted_table(tmp_path: Path) -> None:
    message = error_of(tmp_path, "[defaults.retry]\ntries = 3\n")
    assert message.startswith("tasks.toml: [defaults.retry] tries: unknown key; allowed: attempts,")


def test_unknown_key_in_pyproject_names_the_tool_taskora_table(tmp_path: Path) -> None:
    message = error_of(tmp_path, "[tool.taskora.worker]\ngrace_ms = 1\n", "pyproject.toml")
    assert message.startswith("pyproject.toml: [tool.taskora.worker] grace_ms: unknown key")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('modules = "app.tasks"\n', "tasks.toml: modules: expected an array of module names"),
        ("url = 5\n", "tasks.toml: url: expected a URL starting with redis://"),
        ('url = "http://x"\n', 'got "http://x"'),
        ('prefix = "{a}"\n', "tasks.toml: prefix: expected a string without braces"),
        ("worker = 3\n", "tasks.toml: worker: expected a table ([worker]), got 3"),
        (
            '[worker]\nprocesses = "4"\n',
            'tasks.toml: [worker] processes: expected a positive integer, got "4"',
        ),
        ("[worker]\nconcurrency = 0\n", "[worker] concurrency: expected a positive integer, got 0"),
        ("[worker]\nconcurrency = true\n", "expected a positive integer, got true"),
        (
            "[worker]\nqueues = { emails = 0 }\n",
            "[worker] queues.emails: expected a positive integer",
        ),
        (
            "[defaults.retry]\nattempts = 0\n",
            "[defaults.retry] attempts: expected a positive integer",
        ),
        (
            '[defaults.retry]\nbackoff = "random"\n',
            'expected one of "fixed", "linear", "exponential"',
        ),
        ('[defaults.retry]\njitter = "yes"\n', "[defaults.retry] jitter: expected true or false"),
        (
            "[defaults]\nmax_stalls = -1\n",
            "[defaults] max_stalls: expected an integer >= 0, got -1",
        ),
        ("[defaults]\ntimeout = 0\n", "[defaults] timeout: expected a duration of at least 1ms"),
        ("[defaults]\ntimeout = [1]\n", "[defaults] timeout: expected a duration (seconds"),
        ("[retention]\nfailed_max_items = true\n", "expected an integer >= 0 or false (no limit)"),
        (
            "schedules = { beat = 1 }\n",
            "tasks.toml: schedules.beat: expected a table ([schedules.beat])",
        ),
    ],
)
def test_wrong_types_and_values_name_the_key_and_what_is_allowed(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert expected in error_of(tmp_path, text)


@pytest.mark.parametrize("written", ['"soon"', '"5 minutes"', "-3", '"1w"'])
def test_a_bad_duration_names_the_key_and_the_units(tmp_path: Path, written: str) -> None:
    message = error_of(tmp_path, f"[worker]\ngrace = {written}\n")
    assert message.startswith("tasks.toml: [worker] grace")
    assert "negative" in message or '"30s"' in message


def test_a_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"^nope.toml: config file not found \(given by --config\)"
    ):
        load_config(Path("nope.toml"), env={}, cwd=tmp_path)


def test_a_missing_taskora_config_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found \\(from TASKORA_CONFIG\\)"):
        load_config(env={"TASKORA_CONFIG": "gone.toml"}, cwd=tmp_path)


def test_bad_toml_names_the_file_and_the_position(tmp_path: Path) -> None:
    message = error_of(tmp_path, "[worker\nprocesses = 2\n")
    assert message.startswith("tasks.toml: invalid TOML:")
    assert "line 1" in message


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"TASKORA_CONCURRENCY": "many"},
            'TASKORA_CONCURRENCY: expected a positive integer, got "many"',
        ),
        ({"TASKORA_PROCESSES": "0"}, "TASKORA_PROCESSES: expected a positive integer, got 0"),
        ({"TASKORA_URL": "localhost:6379"}, "TASKORA_URL: expected a URL starting with redis://"),
        (
            {"TASKORA_PREFIX": "a b"},
            "TASKORA_PREFIX: expected a string without braces or whitespace",
        ),
    ],
)
def test_a_bad_env_value_names_the_variable(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(env=env, cwd=tmp_path)
    assert str(caught.value).startswith(expected)


def test_a_bad_flag_value_and_an_unknown_flag_key_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^flag worker\.processes: expected a positive integer"):
        load_config(overrides={"worker.processes": -1}, env={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"^flag worker\.procs: unknown key; allowed: url,"):
        load_config(overrides={"worker.procs": 2}, env={}, cwd=tmp_path)


def test_a_flag_rescues_a_bad_env_value_because_only_the_winning_layer_is_read(
    tmp_path: Path,
) -> None:
    config = load_config(
        overrides={"worker.processes": 2}, env={"TASKORA_PROCESSES": "x"}, cwd=tmp_path
    )
    assert config.worker.processes == 2


# -- the app key ---------------------------------------------------------------------------------


def test_the_app_key_comes_from_the_file_env_or_flag_like_every_key(tmp_path: Path) -> None:
    assert load_text(tmp_path, 'app = "myapp.tasks:app"\n').app == "myapp.tasks:app"
    from_env = load_text(tmp_path, 'app = "a:b"\n', env={"TASKORA_APP": "pkg.mod:main.app"})
    assert (from_env.app, from_env.sources["app"]) == ("pkg.mod:main.app", "env TASKORA_APP")
    flagged = load_text(tmp_path, 'app = "a:b"\n', {"TASKORA_APP": "c:d"}, {"app": "e:f"})
    assert (flagged.app, flagged.sources["app"]) == ("e:f", "flag")
    assert load_text(tmp_path, "").app is None


@pytest.mark.parametrize("value", ['"myapp.tasks"', '"myapp:"', '":app"', '"a b:c"', "3"])
def test_an_app_that_is_not_module_colon_attr_is_a_config_error(tmp_path: Path, value: str) -> None:
    message = error_of(tmp_path, f"app = {value}\n")
    assert message.startswith("tasks.toml: app: expected MODULE:ATTR naming your Taskora app, e.g.")


# -- the example file and TOML output ------------------------------------------------------------


def test_the_example_file_loads_with_default_values(tmp_path: Path) -> None:
    config = load_config(EXAMPLE, env={}, cwd=tmp_path)
    assert config.modules == ("examples.tasks",)
    assert config.url is None
    assert config.state_dir == EXAMPLE.parent / ".taskora"
    assert (config.defaults, config.worker, config.retention) == (
        TaskDefaults(),
        WorkerConfig(),
        RetentionConfig(),
    )


def test_the_example_file_mentions_every_key(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for key in KEYS:
        table = key.table or None
        if table:
            assert f"[{table}]" in text, table
        assert f"{key.leaf} =" in text or f"[{key.name}" in text, key.name


def test_config_to_toml_writes_file_keys_and_loads_back_unchanged(tmp_path: Path) -> None:
    config = load_text(
        tmp_path,
        """
        url = "redis://db:6379/1"
        modules = ["a.tasks"]
        [defaults.retry]
        attempts = 3
        max_delay = 90
        [worker]
        queues = { emails = 2 }
        [retention]
        completed_max_age = false
        [schedules.nightly]
        task = "report"
        every = "1h"
        """,
    )
    text = config_to_toml(config)
    document = tomllib.loads(text)
    assert document["url"] == "redis://db:6379/1"
    assert document["defaults"]["retry"]["max_delay"] == "90s"
    assert document["retention"]["completed_max_age"] is False
    assert document["schedules"] == {"nightly": {"task": "report", "every": "1h"}}
    write(tmp_path / "again" / "taskora.toml", text)
    again = load_config(env={}, cwd=tmp_path / "again")
    assert (again.url, again.modules, again.state_dir) == (
        config.url,
        config.modules,
        config.state_dir,
    )
    assert (again.defaults, again.worker, again.retention) == (
        config.defaults,
        config.worker,
        config.retention,
    )
    assert again.schedules == config.schedules


def test_config_to_toml_omits_values_that_are_unset(tmp_path: Path) -> None:
    document = tomllib.loads(config_to_toml(load_config(env={}, cwd=tmp_path)))
    assert "url" not in document
    assert "max_delay" not in document["defaults"]["retry"]
    assert "concurrency" not in document["worker"]
    assert "schedules" not in document
    assert "queues" not in document["worker"]
    assert document["worker"]["grace"] == "30s"


def test_cluster_mode_is_asked_of_the_server_unless_the_file_or_env_says(
    tmp_path: Path,
) -> None:
    assert load_text(tmp_path, "").cluster is None  # None: the server's INFO tells
    assert load_text(tmp_path, "cluster = true\n").cluster is True
    assert load_text(tmp_path, "cluster = false\n").cluster is False
    forced = load_text(tmp_path, "", env={"TASKORA_CLUSTER": "1"})
    assert (forced.cluster, forced.sources["cluster"]) == (True, "env TASKORA_CLUSTER")
    standalone = load_text(tmp_path, "cluster = true\n", env={"TASKORA_CLUSTER": "0"})
    assert (standalone.cluster, standalone.sources["cluster"]) == (False, "env TASKORA_CLUSTER")


def test_the_config_pickles_and_deep_copies_with_its_defaults() -> None:
    # its sections are NamedTuples whose mapping defaults are one shared immutable EMPTY: it
    # must travel to another process (multiprocessing) and copy like any value
    config = load_config(env={})
    assert config.worker.queues == {}
    assert pickle.loads(pickle.dumps(config)) == config
    assert copy.deepcopy(config) == config
    assert pickle.loads(pickle.dumps(config)).worker.queues is config.worker.queues
