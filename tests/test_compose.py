"""The production-like run (docker-compose.yaml, Dockerfile, .env.example) checked without a Docker engine.

The YAML is parsed and its structure asserted (services, healthchecks, start order, executor, ports,
secrets, databases, volumes), compose's variable interpolation is reproduced to check that the
connection strings are valid once the secrets are filled in, and the file is validated against the
Compose Specification's JSON schema with check-jsonschema (offline: the schema ships with it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from recruitment_devkit import environment
from recruitment_month import config
from recruitment_month.feeds import credentials
from recruitment_month.settings import settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"

AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
LONG_RUNNING = AIRFLOW_SERVICES | {"postgres", "redis", "mailcatcher", "feed-simulator", "datadocs"}
ONE_SHOT = {"airflow-init"}
SERVICES = LONG_RUNNING | ONE_SHOT
SECRETS = {
    "POSTGRES_PASSWORD",
    "WAREHOUSE_DB_PASSWORD",
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_API_SECRET_KEY",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_ADMIN_PASSWORD",
    "FEED_TOKEN",
}
DATA = "/opt/airflow/data"


# ------------------------------------------------------------------------------------------- helpers


def _interpolations(text: str) -> list[tuple[str, str, str]]:
    """Compose's ``$`` syntax in ``text``: (name, operator, argument) of each reference; ``$$`` is a
    literal dollar. A bare ``$NAME`` is returned with the operator ``"bare"``."""
    refs = []
    i = 0
    while i < len(text):
        if text[i] != "$":
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt == "$":
            i += 2
            continue
        if nxt == "{":
            end = text.index("}", i)
            body = text[i + 2 : end]
            match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?", body, re.DOTALL)
            assert match, f"unparsable interpolation ${{{body}}}"
            refs.append((match.group(1), match.group(2) or "", match.group(3) or ""))
            i = end + 1
            continue
        match = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[i + 1 :])
        if match:
            refs.append((match.group(0), "bare", ""))
        i += 1
    return refs


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Substitute like ``docker compose`` does for the forms this file uses."""

    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        value = env.get(name)
        if op == ":?" and not value:
            raise KeyError(f"{name}: {arg}")
        if op == ":-" and not value:
            return arg
        return value or ""

    return re.sub(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-?])([^}]*))?\}", one, text)


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            values[match.group(1)] = match.group(2)
    return values


def _filled_env() -> dict[str, str]:
    """A .env as an operator fills it in: every secret set (letters and digits, as .env.example asks)."""
    return {name: f"{name.lower().replace('_', '')}0123456789abcdef" for name in SECRETS}


def _without_comments(text: str) -> str:
    """Compose interpolates values, never comments: drop the comment lines (no value holds a ``#``)."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


@pytest.fixture(scope="module")
def raw() -> str:
    return _without_comments(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose(raw) -> dict:
    return yaml.safe_load(raw)


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def resolved() -> dict:
    """The file as compose sees it with a filled-in .env."""
    return yaml.safe_load(
        _interpolate(_without_comments(COMPOSE_FILE.read_text(encoding="utf-8")), _filled_env())
    )


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment is written as a mapping"
    return {k: str(v) for k, v in env.items()}


def _conn(env: dict[str, str], conn_id: str) -> dict:
    return json.loads(env[f"AIRFLOW_CONN_{conn_id.upper()}"])


def _published(service: dict) -> list:
    return service.get("ports") or []


# ------------------------------------------------------------------------------------------- services


def test_every_service_is_defined(services):
    assert set(services) == SERVICES


def test_long_running_services_have_healthchecks_and_restart(services):
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert not check.get("disable"), name
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
        assert len(check["test"]) > 1, name
        assert services[name].get("restart") in {"always", "unless-stopped"}, name


def test_healthchecks_probe_the_right_thing(services):
    def probe(name: str) -> str:
        return " ".join(services[name]["healthcheck"]["test"][1:])

    assert "pg_isready" in probe("postgres")
    assert "127.0.0.1" in probe("postgres")
    assert "redis-cli ping" in probe("redis")
    assert "http://localhost:8080/api/v2/version" in probe("airflow-apiserver")
    assert "http://localhost:8974/health" in probe("airflow-scheduler")
    assert "--job-type DagProcessorJob" in probe("airflow-dag-processor")
    assert "--job-type TriggererJob" in probe("airflow-triggerer")
    assert "inspect ping" in probe("airflow-worker")
    assert "readyz" in probe("mailcatcher")
    assert "http://localhost:8765/health" in probe("feed-simulator")
    assert "/healthz" in probe("datadocs")


def test_scheduler_health_server_is_enabled(resolved):
    env = _env(resolved["services"]["airflow-scheduler"])
    assert env["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"


def test_airflow_init_is_one_shot_and_runs_both_migrations_in_order(services):
    init = services["airflow-init"]
    assert init.get("restart") == "no"
    assert "healthcheck" not in init
    script = "\n".join(init["command"])
    steps = ["airflow db migrate", "python -m recruitment_month.warehouse"]
    assert all(step in script for step in steps)
    assert script.index(steps[0]) < script.index(steps[1])
    assert "set -euo pipefail" in script, "a failed step must fail airflow-init"


def test_airflow_services_start_after_databases_broker_and_init(services):
    for name in AIRFLOW_SERVICES | ONE_SHOT:
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["redis"]["condition"] == "service_healthy", name
    for name in AIRFLOW_SERVICES:
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    assert services["datadocs"]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_airflow_services_run_the_expected_commands(services):
    commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
        "airflow-worker": "celery worker",
    }


def test_worker_is_scalable(services):
    worker = services["airflow-worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert "hostname" not in worker
    assert not any("container_name" in s for s in services.values()), "fixed names block a second project"


def test_airflow_services_run_the_production_image_and_the_simulator_the_dev_kit_image(services):
    image = services["airflow-init"]["image"]
    for name in AIRFLOW_SERVICES | ONE_SHOT:
        assert services[name]["build"] == {"context": ".", "target": "runtime"}, name
        assert services[name]["image"] == image, name
    sim = services["feed-simulator"]
    assert sim["build"] == {"context": ".", "target": "devkit"}
    assert sim["image"] != image, "the dev kit's image has a name of its own, never the production one"
    assert sim["environment"]["PYTHONPATH"].split(":") == ["/opt/airflow/plugins", "/opt/airflow/devkit"]


def test_feed_simulator_serves_all_platforms_with_the_token(services):
    sim = services["feed-simulator"]
    assert sim["entrypoint"] == ["python", "-m", "recruitment_devkit.feed_simulator"]
    args = sim["command"]
    assert args[args.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - inside its container
    assert args[args.index("--port") + 1] == "8765"
    assert args[args.index("--token") + 1].startswith("${FEED_TOKEN:?")
    assert "--platforms" not in args


# ------------------------------------------------------------------------------------------- executor


def test_every_airflow_service_uses_celery_with_redis_and_postgres(resolved):
    for name in AIRFLOW_SERVICES | ONE_SHOT:
        env = _env(resolved["services"][name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:6379/"), name
        assert re.fullmatch(
            r"db\+postgresql://airflow:[^@]+@postgres:5432/airflow", env["AIRFLOW__CELERY__RESULT_BACKEND"]
        )
        assert re.fullmatch(
            r"postgresql\+psycopg2://airflow:[^@]+@postgres:5432/airflow",
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
        )
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"


def test_every_airflow_service_shares_the_same_settings_and_secrets(resolved):
    envs = {name: _env(resolved["services"][name]) for name in AIRFLOW_SERVICES | ONE_SHOT}
    reference = envs["airflow-scheduler"]
    for name, env in envs.items():
        for key, value in reference.items():
            assert env.get(key) == value, f"{name}: {key} differs from the scheduler's"
    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"):
        assert reference[key], key


def test_database_urls_parse(resolved):
    from sqlalchemy.engine import make_url

    env = _env(resolved["services"]["airflow-scheduler"])
    url = make_url(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert (url.host, url.port, url.database, url.username) == ("postgres", 5432, "airflow", "airflow")
    assert url.password == _filled_env()["POSTGRES_PASSWORD"]


def test_dev_env_settings_are_all_set_for_production(resolved):
    """Every setting that include/config/dev.env gives a developer (the Makefile applies it) is set by
    the compose file itself: production never reads dev.env."""
    env = _env(resolved["services"]["airflow-init"])
    missing = sorted(set(environment.read()) - set(env))
    assert not missing, f"not set in docker-compose.yaml, would fall back to dev.env: {missing}"
    assert env["RECRUITMENT_DATA_DIR"] == DATA
    assert env["RECRUITMENT_INBOX"] == f"{DATA}/inbox"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/airflow/dags"
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == "/opt/airflow/plugins"


# ------------------------------------------------------------------------------------------- connections


def test_warehouse_connection_is_the_warehouse_database(resolved):
    from recruitment_month.warehouse import url_from_connection

    conn = _conn(_env(resolved["services"]["airflow-worker"]), "warehouse")
    assert conn["conn_type"] == "postgres"
    assert (conn["host"], conn["port"], conn["schema"], conn["login"]) == (
        "postgres",
        5432,
        "warehouse",
        "warehouse",
    )
    assert conn["password"] == _filled_env()["WAREHOUSE_DB_PASSWORD"]
    url = url_from_connection(SimpleNamespace(**conn, extra_dejson={}))
    assert url.startswith("postgresql+psycopg://warehouse:")
    assert url.endswith("@postgres:5432/warehouse")


def test_no_task_holds_the_superuser_password(resolved):
    """The superuser `airflow` owns Airflow's metadata; the tasks' warehouse connection is another role,
    and the superuser's password appears only in Airflow's own database settings."""
    superuser = _filled_env()["POSTGRES_PASSWORD"]
    postgres_env = _env(resolved["services"]["postgres"])
    assert postgres_env["POSTGRES_USER"] == "airflow"
    for name in AIRFLOW_SERVICES | ONE_SHOT:
        env = _env(resolved["services"][name])
        holders = {key for key, value in env.items() if superuser in value}
        assert holders == {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"}, name
        conn = _conn(env, "warehouse")
        assert conn["login"] != postgres_env["POSTGRES_USER"], name
    assert postgres_env["WAREHOUSE_DB_PASSWORD"] == _filled_env()["WAREHOUSE_DB_PASSWORD"]


def _init_script() -> str:
    return (ROOT / "docker/postgres/initdb/01-databases.sh").read_text(encoding="utf-8")


def test_init_script_makes_the_warehouse_role_own_only_the_warehouse():
    sql = re.sub(r"\s+", " ", _init_script())
    role = re.search(r"CREATE ROLE warehouse ([^;]*);", sql)
    assert role, "the init script creates the role"
    attributes = role.group(1).split()
    assert "LOGIN" in attributes
    assert {"NOSUPERUSER", "NOCREATEDB", "NOCREATEROLE"} <= set(attributes)
    assert "PASSWORD :'warehouse_password'" in role.group(1), "the password is a bound psql variable"
    assert '--set=warehouse_password="$WAREHOUSE_DB_PASSWORD"' in sql
    assert "<<'SQL'" in sql, "a quoted here-document: the shell expands nothing in the SQL"
    assert re.search(r"CREATE DATABASE warehouse OWNER warehouse\b", sql)
    assert re.search(r"CREATE DATABASE airflow (?!OWNER)", sql), "the metadata stays the superuser's"
    for database in ("airflow", "warehouse", "postgres"):
        assert f"REVOKE ALL ON DATABASE {database} FROM PUBLIC;" in sql, database
    assert "ON_ERROR_STOP=1" in sql
    assert "set -euo pipefail" in sql
    assert (ROOT / "docker/postgres/initdb/01-databases.sh").stat().st_mode & 0o111, "executable"


def test_smtp_connection_goes_to_the_mail_catcher_without_tls(resolved):
    conn = _conn(_env(resolved["services"]["airflow-worker"]), "smtp_default")
    assert (conn["conn_type"], conn["host"], conn["port"]) == ("smtp", "mailcatcher", 1025)
    assert conn["extra"]["disable_tls"] is True
    assert conn["extra"]["disable_ssl"] is True
    assert "1025" in [str(p) for p in resolved["services"]["mailcatcher"]["expose"]]


def test_no_feed_connection_is_written_out_per_platform(resolved):
    """Each platform is one platforms.yaml entry; the compose file repeats none of the twelve."""
    for name, service in resolved["services"].items():
        feeds = sorted(key for key in _env(service) if key.startswith("AIRFLOW_CONN_FEED_"))
        assert feeds == [], f"{name}: {feeds}"


def test_every_platform_reaches_the_simulator_with_the_token(resolved, monkeypatch):
    env = _env(resolved["services"]["airflow-worker"])
    assert env["RECRUITMENT_FEED_DEMO_TOKEN"] == _filled_env()["FEED_TOKEN"]
    for name in ("RECRUITMENT_FEED_SIMULATOR_URL", "RECRUITMENT_FEED_DEMO_TOKEN"):
        monkeypatch.setenv(name, env[name])
    for name in [n for n in os.environ if n.startswith("AIRFLOW_CONN_FEED_")]:
        monkeypatch.delenv(name)
    platforms = config.load_file(settings().platforms_file, config.Platforms).platforms
    assert len(platforms) == 12
    for platform in platforms:
        url = f"http://feed-simulator:8765/p/{platform.code}"
        assert credentials.resolve(platform) == (url, _filled_env()["FEED_TOKEN"])


# ------------------------------------------------------------------------------------------- exposure


def test_every_published_port_is_bound_to_localhost(services):
    published = 0
    for name, service in services.items():
        for port in _published(service):
            published += 1
            if isinstance(port, dict):
                assert port.get("host_ip") == "127.0.0.1", f"{name}: {port}"
            else:
                assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is reachable from outside"
    assert published == 3


def test_published_ports(resolved):
    ports = {name: s.get("ports") for name, s in resolved["services"].items() if s.get("ports")}
    assert ports == {
        "airflow-apiserver": ["127.0.0.1:8080:8080"],
        "mailcatcher": ["127.0.0.1:8025:8025"],
        "datadocs": ["127.0.0.1:8081:80"],
    }


# ------------------------------------------------------------------------------------------- secrets


def test_every_interpolation_is_required_or_has_a_default(raw):
    """A bare ${VAR} silently becomes empty (and ${HOSTNAME} would be the host's, not the container's)."""
    for name, op, arg in _interpolations(raw):
        assert op in {":?", ":-"}, f"${{{name}}} neither requires a value nor has a default"
        if op == ":?":
            assert arg.strip(), f"${{{name}:?}} has no message"


def test_secrets_are_required_references_only(raw):
    refs = _interpolations(raw)
    for name, op, _ in refs:
        if name in SECRETS:
            assert op == ":?", f"secret {name} must be ${{{name}:?...}}, never defaulted"
    assert {name for name, op, _ in refs if op == ":?"} == SECRETS


def test_secret_settings_come_from_env_references(services):
    """Every setting that holds a secret is a reference into .env: no literal secret in the file."""
    common = _env(services["airflow-scheduler"])
    expected = {
        "AIRFLOW__CORE__FERNET_KEY": "AIRFLOW_FERNET_KEY",
        "AIRFLOW__API__SECRET_KEY": "AIRFLOW_API_SECRET_KEY",
        "AIRFLOW__API_AUTH__JWT_SECRET": "AIRFLOW_JWT_SECRET",
    }
    for key, var in expected.items():
        assert re.fullmatch(rf"\$\{{{var}:\?[^}}]+\}}", common[key]), key
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", _env(services["postgres"])["POSTGRES_PASSWORD"])
    init = _env(services["airflow-init"])
    assert re.fullmatch(r"\$\{AIRFLOW_ADMIN_PASSWORD:\?[^}]+\}", init["AIRFLOW_ADMIN_PASSWORD"])
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
        assert ":${POSTGRES_PASSWORD:?" in common[key], key
    for key, value in common.items():
        if key.startswith("AIRFLOW_CONN_"):
            password = json.loads(value).get("password")
            assert password is None or re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", password), key


def test_admin_password_only_where_the_ui_user_is_written(services):
    holders = {name for name, s in services.items() if "AIRFLOW_ADMIN_PASSWORD" in _env(s)}
    assert holders == {"airflow-init"}


def test_compose_refuses_to_start_without_each_secret(raw):
    for secret in SECRETS:
        env = _filled_env()
        env[secret] = ""
        with pytest.raises(KeyError, match=secret):
            _interpolate(raw, env)


def test_env_example_names_every_secret_empty_and_explains_the_fernet_key():
    values = _env_example()
    for secret in SECRETS:
        assert secret in values, f".env.example does not name {secret}"
        assert values[secret] == "", f".env.example must not ship a value for {secret}"
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    assert "urlsafe_b64encode" in text
    assert "Fernet.generate_key" in text


def test_env_example_variables_exist_in_the_compose_file(raw):
    referenced = {name for name, _, _ in _interpolations(raw)}
    documented = set(_env_example()) | set(
        re.findall(r"^# ([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.M)
    )
    assert referenced == documented


def test_dot_env_is_git_ignored():
    result = subprocess.run(
        ["git", "check-ignore", "--quiet", ".env"], cwd=ROOT, capture_output=True, check=False
    )
    assert result.returncode == 0, ".env must be ignored by git"
    result = subprocess.run(
        ["git", "check-ignore", "--quiet", ".env.example"], cwd=ROOT, capture_output=True, check=False
    )
    assert result.returncode == 1, ".env.example must stay tracked"


# ------------------------------------------------------------------------------------------- storage


def test_one_postgres_server_two_databases_from_the_init_script(services):
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:16")
    mounts = [v for v in postgres["volumes"] if isinstance(v, str)]
    init_mounts = [v for v in mounts if v.split(":")[1] == "/docker-entrypoint-initdb.d"]
    assert len(init_mounts) == 1
    folder = ROOT / init_mounts[0].split(":")[0]
    scripts = sorted([*folder.glob("*.sql"), *folder.glob("*.sh")])
    assert scripts, f"no init script in {folder}"
    created = set()
    for script in scripts:
        created |= set(
            re.findall(r"^\s*CREATE DATABASE (\w+)", script.read_text(encoding="utf-8"), re.M | re.I)
        )
    assert created == {"airflow", "warehouse"}
    assert _env(postgres).get("POSTGRES_DB") == "postgres", "both databases come from the script"
    assert "postgres-data:/var/lib/postgresql/data" in mounts


def test_named_volumes(compose, services):
    assert {"postgres-data", "data", "logs"} <= set(compose["volumes"])
    for name in AIRFLOW_SERVICES | ONE_SHOT:
        mounts = services[name]["volumes"]
        assert f"data:{DATA}" in mounts, name
        assert "logs:/opt/airflow/logs" in mounts, name
    for service in services.values():
        for mount in service.get("volumes") or []:
            source = mount["source"] if isinstance(mount, dict) else mount.split(":")[0]
            assert source in compose["volumes"] or source.startswith("./docker/"), f"unexpected mount {mount}"


def test_datadocs_serves_the_data_volume_subfolder_read_only(services):
    (mount,) = [v for v in services["datadocs"]["volumes"] if isinstance(v, dict)]
    assert mount["type"] == "volume"
    assert mount["source"] == "data"
    assert mount["volume"]["subpath"] == "datadocs"
    assert mount["read_only"] is True
    init = "\n".join(services["airflow-init"]["command"])
    assert f"{DATA}/datadocs" in init, "airflow-init creates the folder the subpath mount needs"
    conf = next(v for v in services["datadocs"]["volumes"] if isinstance(v, str)).split(":")[0]
    assert "location = /healthz" in (ROOT / conf).read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------- image


def _stages(text: str) -> dict[str, tuple[str, str]]:
    """Each build stage of the Dockerfile: name → (what it is FROM, its lines)."""
    text = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    parts = re.split(r"^FROM\s+(\S+)\s+AS\s+(\S+)\s*$", text, flags=re.M)
    return {parts[i + 1]: (parts[i], parts[i + 2]) for i in range(1, len(parts), 3)}


def test_dockerfile_extends_the_official_image_with_the_lock():
    text = DOCKERFILE.read_text(encoding="utf-8")
    base = re.findall(r"^FROM\s+(\S+)", text, re.M)[0]
    assert base.startswith("apache/airflow:3.3.2")
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    assert re.search(r"^apache-airflow==3\.3\.2 \\$", lock, re.M), "the lock and the image agree on Airflow"
    install = next(line for line in text.splitlines() if line.startswith("RUN pip install"))
    assert "--no-cache-dir" in install
    assert "requirements.lock" in install
    assert "--require-hashes" in install, "every download is checked against the lock's hashes"
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users, "pip runs as the airflow user, never root"
    assert users[-1] == "airflow", "pip runs as the airflow user, never root"
    assert text.index("USER airflow") < text.index("RUN pip install")
    for folder in ("dags", "plugins", "include"):
        assert re.search(rf"^COPY .*\b{folder}/ /opt/airflow/{folder}/$", text, re.M), folder
    assert re.search(r"PYTHONPATH=/opt/airflow/plugins\b", text)


def test_the_production_image_holds_the_runtime_lock_and_the_product_only():
    text = DOCKERFILE.read_text(encoding="utf-8")
    stages = _stages(text)
    assert list(stages) == ["runtime", "devkit", "production"]
    base, runtime = stages["runtime"]
    assert base.startswith("apache/airflow:")
    installs = [line for line in runtime.splitlines() if line.startswith("RUN pip install")]
    assert installs == ["RUN pip install --no-cache-dir --require-hashes -r /opt/airflow/requirements.lock"]
    copied = re.findall(r"^COPY \S+ (\S+) ", runtime, re.M)
    assert sorted(copied) == ["dags/", "include/", "plugins/", "requirements.lock"]
    assert "devkit" not in runtime
    assert "requirements-dev" not in runtime
    # `docker build .` builds the last stage: the production image, with nothing added to it
    assert stages["production"] == ("runtime", "")


def test_the_dev_kit_image_adds_the_development_lock_and_the_dev_kit():
    base, devkit = _stages(DOCKERFILE.read_text(encoding="utf-8"))["devkit"]
    assert base == "runtime"
    assert re.search(
        r"^RUN pip install .*--require-hashes -r /opt/airflow/requirements-dev\.lock$", devkit, re.M
    )
    assert re.search(r"^COPY .*\bdevkit/ /opt/airflow/devkit/$", devkit, re.M)
    assert "PYTHONPATH=/opt/airflow/plugins:/opt/airflow/devkit" in devkit


# ------------------------------------------------------------------------------------------- schema


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess:
    tool = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run(
        [str(tool), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_file_is_valid_against_the_compose_specification():
    result = _check_jsonschema(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_an_invalid_file(tmp_path, raw):
    """The validator is not a no-op: a misspelt key fails it."""
    broken = tmp_path / "docker-compose.yaml"
    broken.write_text(raw.replace("    healthcheck:\n", "    healtcheck:\n", 1), encoding="utf-8")
    result = _check_jsonschema(broken)
    assert result.returncode != 0


# ------------------------------------------------------------------------------------------- init script, run


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def throwaway_postgres():
    """A PostgreSQL server of its own (initdb in a temporary folder, a free port), whose superuser is
    `airflow` as in the postgres service; TCP logins need a password, as in the container."""
    import os
    import shutil

    initdb = shutil.which("initdb")
    if initdb is None or os.geteuid() != 0:
        message = "needs PostgreSQL's initdb and root (to run the server as the postgres user)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: must not skip)")
        pytest.skip(message)
    import tempfile

    bin_dir = Path(initdb).resolve().parent
    # Not under tmp_path: pytest's folders are private to root, and the server runs as postgres.
    base = Path(tempfile.mkdtemp(prefix="initdb-test-"))
    shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", _free_port()

    def as_postgres(*args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=120
        )

    as_postgres(
        str(bin_dir / "initdb"), "-D", str(data), "-U", "airflow", "--auth-local=trust",
        "--auth-host=scram-sha-256", "--encoding=UTF8",
    )  # fmt: skip
    as_postgres(
        str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(base / "log"), "-o",
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1", "start",
    )  # fmt: skip
    try:
        yield SimpleNamespace(socket_dir=str(base), port=port)
    finally:
        try:
            as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(base)


def test_init_script_on_a_real_server_gives_a_role_that_reaches_only_the_warehouse(throwaway_postgres):
    import os

    import psycopg

    from recruitment_month import warehouse

    pg = throwaway_postgres
    password = "pa'ss\"word; DROP ROLE airflow; --"  # bound, not spliced: any character is harmless
    script = ROOT / "docker/postgres/initdb/01-databases.sh"
    env = {
        **os.environ,
        "POSTGRES_USER": "airflow",
        "WAREHOUSE_DB_PASSWORD": password,
        "PGHOST": pg.socket_dir,
        "PGPORT": str(pg.port),
    }
    subprocess.run(["bash", str(script)], env=env, check=True, capture_output=True, timeout=60)

    tcp = {"host": "127.0.0.1", "port": pg.port, "user": "warehouse", "password": password}
    with psycopg.connect(dbname="warehouse", **tcp) as conn:
        owner, superuser, createdb, createrole = conn.execute(
            "SELECT pg_get_userbyid(d.datdba), r.rolsuper, r.rolcreatedb, r.rolcreaterole "
            "FROM pg_database d, pg_roles r WHERE d.datname = 'warehouse' AND r.rolname = current_user"
        ).fetchone()
        assert (owner, superuser, createdb, createrole) == ("warehouse", False, False, False)
    for other in ("airflow", "postgres"):
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            psycopg.connect(dbname=other, **tcp).close()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(dbname="warehouse", **{**tcp, "password": "wrong"}).close()

    # The project's migrations and reference data run as the role, as airflow-init runs them.
    url = f"postgresql+psycopg://warehouse@127.0.0.1:{pg.port}/warehouse"
    from sqlalchemy.engine import make_url

    url = make_url(url).set(password=password)
    warehouse.migrate(url.render_as_string(hide_password=False))
    warehouse.load_reference_data(url.render_as_string(hide_password=False))
    with psycopg.connect(dbname="warehouse", **tcp) as conn:
        assert conn.execute("SELECT count(*) FROM core_unit").fetchone()[0] == 32
    with psycopg.connect(dbname="postgres", host=pg.socket_dir, port=pg.port, user="airflow") as conn:
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'airflow'").fetchone()[0] == 1
