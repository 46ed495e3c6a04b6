"""docker-compose.yml: valid Compose, and the house rules every service must follow.

No Docker engine is needed: the file is validated against the Compose Specification's
JSON schema (vendored in ``tests/deploy/schemas/``), then the
rules are checked on the parsed YAML with ``.env`` as Compose would read it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.services import PROMETHEUS_FLAGS, REPO, compose_image

COMPOSE = REPO / "docker-compose.yml"
DOTENV = REPO / ".env"
LOCAL_IMAGES = REPO / ".env.local-images"
SCHEMA = Path(__file__).parent / "schemas" / "compose-spec.json"  # vendored, see its README
VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}")


def load_dotenv(path: Path = DOTENV) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` against ``.env``."""

    def replace(match: re.Match[str]) -> str:
        value = env.get(match["name"], "")
        if not value and match["op"] in (":-", "-"):
            return match["arg"]
        return value

    return VARIABLE.sub(replace, text)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def test_matches_compose_spec_schema(compose: dict[str, Any]) -> None:
    """The file validates against the Compose Specification's JSON schema."""
    if not SCHEMA.is_file():
        pytest.fail(f"Compose schema not found at {SCHEMA}", pytrace=False)
    schema = yaml.safe_load(SCHEMA.read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=str)
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
    )


def test_every_image_is_pinned_to_an_exact_tag(services: dict[str, dict[str, Any]]) -> None:
    """Images come from .env and carry an exact version tag, never ``latest``."""
    env = load_dotenv()
    for name, service in services.items():
        assert "image" in service, f"{name}: no image"
        raw = service["image"]
        assert VARIABLE.fullmatch(raw), f"{name}: image {raw!r} should be a variable from .env"
        image = interpolate(raw, env)
        assert image, f"{name}: {raw} is not set in .env"
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest" and re.search(r"\d+\.\d+", tag), (
            f"{name}: image {image!r} is not pinned to an exact version"
        )


def test_every_service_follows_the_house_pattern(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    """Healthcheck, memory limit, restart policy and the shared logging anchor everywhere."""
    logging = compose["x-default-logging"]
    for name, service in services.items():
        health = service.get("healthcheck", {})
        assert health.get("test") and not health.get("disable"), f"{name}: no healthcheck"
        assert health["test"][0] != "NONE", f"{name}: healthcheck disabled"
        limit = service.get("deploy", {}).get("resources", {}).get("limits", {}).get("memory")
        assert limit or service.get("mem_limit"), f"{name}: no memory limit"
        assert service.get("restart") == "unless-stopped", f"{name}: restart policy"
        assert service.get("logging") == logging, f"{name}: not using x-default-logging"
        assert service.get("container_name"), f"{name}: no container_name"


def test_dependants_wait_for_healthy_services(services: dict[str, dict[str, Any]]) -> None:
    """Every depends_on waits for ``service_healthy`` on a service that has a healthcheck."""
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for dependency, spec in depends.items():
            assert dependency in services, f"{name}: depends on unknown {dependency}"
            assert spec.get("condition") == "service_healthy", (
                f"{name}: should wait for {dependency} to be healthy"
            )


def test_published_ports_bind_loopback_only(services: dict[str, dict[str, Any]]) -> None:
    """Every published port binds 127.0.0.1 (after .env interpolation)."""
    env = load_dotenv()
    assert env.get("HOST_BIND", "127.0.0.1") == "127.0.0.1"
    for name, service in services.items():
        for port in service.get("ports", []):
            if isinstance(port, dict):
                assert port.get("host_ip") == "127.0.0.1", f"{name}: {port}"
                continue
            bound = interpolate(str(port), env)
            assert bound.startswith("127.0.0.1:"), f"{name}: port {port} binds {bound}"


def test_grafana_password_from_env_and_no_anonymous_access(
    services: dict[str, dict[str, Any]],
) -> None:
    """Grafana's admin password must be supplied (no default) and anonymous auth is off."""
    env = services["grafana"]["environment"]
    password = env["GF_SECURITY_ADMIN_PASSWORD"]
    match = VARIABLE.fullmatch(password)
    assert match and match["op"] == ":?", f"admin password must be required from env: {password}"
    assert match["name"] not in load_dotenv(), ".env must not hold the admin password"
    assert str(env["GF_AUTH_ANONYMOUS_ENABLED"]).lower() == "false"


def test_no_secret_has_a_default(services: dict[str, dict[str, Any]]) -> None:
    """Passwords are never written in the file or .env: Compose refuses to start without them."""
    dotenv = load_dotenv()
    for name, service in services.items():
        environment = service.get("environment", {})
        for key, value in environment.items():
            if re.search(r"PASSWORD|SECRET", key):
                match = VARIABLE.fullmatch(str(value))
                assert match and match["op"] == ":?", f"{name}: {key} must be ${{VAR:?...}}"
                assert match["name"] not in dotenv, f".env holds {match['name']}"


def test_every_mounted_file_and_build_input_exists(services: dict[str, dict[str, Any]]) -> None:
    """Bind mounts, build contexts and Dockerfiles point at files in the repository."""
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (REPO / source).exists(), f"{name}: mounts missing {source}"
        build = service.get("build")
        if build:
            context = REPO / build["context"]
            assert context.is_dir(), f"{name}: build context {build['context']} missing"
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            assert dockerfile.is_file(), f"{name}: {dockerfile.relative_to(REPO)} missing"


def test_named_volumes_are_declared(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    """Data lives in named volumes, each declared at the top level."""
    declared = set(compose.get("volumes", {}))
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: volume {source} not declared"


def test_collector_runs_the_shipped_config(services: dict[str, dict[str, Any]]) -> None:
    """The collector mounts deploy/otel-collector/otelcol-config.yml and sets every endpoint."""
    collector = services["otel-collector"]
    assert any(
        str(v).startswith("./deploy/otel-collector/otelcol-config.yml:")
        for v in collector["volumes"]
    )
    for variable in ("PROMETHEUS_REMOTE_WRITE_URL", "TEMPO_OTLP_ENDPOINT", "LOKI_OTLP_ENDPOINT"):
        assert variable in collector["environment"], variable
    prometheus = services["prometheus"]["command"]
    assert set(PROMETHEUS_FLAGS) <= set(prometheus), "tests run Prometheus with other flags"


def test_agent_healthcheck_calls_livez(services: dict[str, dict[str, Any]]) -> None:
    """The agent's healthcheck asks /livez (the agent itself), on the port it listens on."""
    agent = services["agent"]
    check = " ".join(agent["healthcheck"]["test"])
    listen = yaml.safe_load((REPO / "deploy/agent/agent.yaml").read_text())["listen"]
    port = listen.rpartition(":")[2]
    assert f"http://127.0.0.1:{port}/livez" in check, check


def test_tests_take_their_images_from_dotenv(services: dict[str, dict[str, Any]]) -> None:
    """testcontainers (tests/services.py) pull the images compose runs, tag for tag."""
    for service, variable in (
        ("redis", "REDIS_IMAGE"),
        ("mysql", "MYSQL_IMAGE"),
        ("prometheus", "PROMETHEUS_IMAGE"),
    ):
        image = interpolate(services[service]["image"], load_dotenv())
        assert image == compose_image(variable), service


def test_local_images_stand_in_for_every_image_that_can_be_built_here() -> None:
    """.env.local-images: a pinned dbsbm-local/ tag for each of .env's images but Grafana's,
    Tempo's and Loki's (none can be built here) and the bot's Python base, each one built
    by scripts/docker-images.sh, and a COMPOSE_FILE whose files exist."""
    registry, local = load_dotenv(), load_dotenv(LOCAL_IMAGES)
    not_built = {"GRAFANA_IMAGE", "TEMPO_IMAGE", "LOKI_IMAGE", "PYTHON_IMAGE"}
    wanted = {name for name in registry if name.endswith("_IMAGE")} - not_built
    images = {name for name in local if name.endswith("_IMAGE")}
    assert images - {"DBSBM_BASE_IMAGE"} == wanted
    builder = (REPO / "scripts/docker-images.sh").read_text()
    for name in images:
        repository, _, tag = local[name].rpartition(":")
        assert repository.startswith("dbsbm-local/"), f"{name}={local[name]}"
        assert re.search(r"\d+(\.\d+)?", tag) and tag != "latest", f"{name}={local[name]}"
        assert f"tag {name}" in builder or f"tag {name})" in builder, f"{name} is never built"
    for file in local["COMPOSE_FILE"].split(":"):
        assert (REPO / file).is_file(), f"COMPOSE_FILE names missing {file}"


def _runtime_stage(dockerfile: Path) -> list[str]:
    """The last stage's instructions but FROM, ARG and RUN (the base's own), continuation
    lines joined, comments dropped; a COPY from the build stage keeps only the file name."""
    instructions: list[str] = []
    current = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current = f"{current} {line.removesuffix(chr(92)).strip()}".strip()
        if not line.endswith("\\"):
            instructions.append(" ".join(current.split()))
            current = ""
    start = max(i for i, instruction in enumerate(instructions) if instruction.startswith("FROM"))
    kept = []
    for instruction in instructions[start:]:
        if instruction.startswith(("FROM", "ARG", "RUN")):
            continue
        if instruction.startswith("COPY --from=build"):
            _, _, source, target = instruction.split()
            instruction = f"COPY {Path(source).name} {target}"
        kept.append(instruction)
    return kept


def test_local_collector_image_mirrors_the_registry_one() -> None:
    """deploy/images/otelcol/Dockerfile runs like deploy/otel-collector/Dockerfile: same
    files, environment, volume, user, ports, healthcheck, entrypoint and command."""
    registry = _runtime_stage(REPO / "deploy/otel-collector/Dockerfile")
    local = _runtime_stage(REPO / "deploy/images/otelcol/Dockerfile")
    assert local == registry
