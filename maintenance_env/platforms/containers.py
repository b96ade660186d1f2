"""Container orchestrators and runners: Kubernetes, Nomad, Kamal, Docker Swarm, Docker
Compose and plain Docker; and the host itself: systemd, and a shell (the fallback)."""

from __future__ import annotations

from maintenance_env.platforms.base import (
    DOCKERENV,
    PROC_CGROUP,
    SERVICE_ACCOUNT_NAMESPACE,
    Context,
    ContextVariables,
    Markers,
    Platform,
    Request,
    Step,
    any_set,
)
from maintenance_env.platforms.quoting import (
    json_text,
    pairs,
    shell,
    systemd_environment,
    systemd_unit,
)

__all__ = ["COMPOSE", "DOCKER", "KAMAL", "KUBERNETES", "NOMAD", "SHELL", "SWARM", "SYSTEMD"]


# --- Kubernetes ------------------------------------------------------------------------------


def _detect_kubernetes(m: Markers) -> str | None:
    # https://kubernetes.io/docs/concepts/services-networking/service/#environment-variables
    # (KUBERNETES_SERVICE_HOST, set in every pod) and the service-account volume.
    if m.has("KUBERNETES_SERVICE_HOST"):
        return "KUBERNETES_SERVICE_HOST is set"
    if m.exists(SERVICE_ACCOUNT_NAMESPACE):
        return "the service-account namespace file exists"
    return None


def _ns(r: Request) -> str:
    return f" --namespace {shell(r.namespace)}" if r.namespace else ""


def _kubernetes_context(m: Markers) -> Context:
    # The namespace: POD_NAMESPACE where the pod spec passes it in (the downward API,
    # fieldRef metadata.namespace), else the service-account volume's namespace file:
    # https://kubernetes.io/docs/tasks/inject-data-application/environment-variable-expose-pod-information/
    return Context(namespace=m.get("POD_NAMESPACE") or m.read(SERVICE_ACCOUNT_NAMESPACE))


def _kubernetes(r: Request) -> list[Step]:
    deployment = r.name(r.app, "deployment")
    configmap = shell(f"{r.app or '<deployment>'}-maintenance")
    ns = _ns(r)
    literals = " ".join(f"--from-literal={name}={shell(value)}" for name, value in r.values)
    patch = json_text({"data": dict(r.values)})
    mounted = f" (here {r.config_path})" if r.config_path else ""
    return [
        Step(
            (
                "No restart: with the ConfigMap mounted as a volume (not subPath) and",
                f"MAINTENANCE_MODE_CONFIG_PATH pointing at it{mounted}, the kubelet updates",
                "the files within about a minute (its sync period plus its cache TTL) and",
                "every pod follows within MAINTENANCE_MODE_RELOAD_INTERVAL:",
            ),
            (
                f"kubectl create configmap {configmap}{ns} {literals} --dry-run=client -o yaml"
                f" | kubectl apply{ns} -f -",
            ),
        ),
        Step(
            ("Or change only these keys and keep the others in the ConfigMap:",),
            (f"kubectl patch configmap {configmap}{ns} --type merge -p {patch}",),
        ),
        Step(
            ("Or as environment variables, which restarts every pod (a rolling update):",),
            (f"kubectl set env deployment/{deployment}{ns} {pairs(r.values)}",),
        ),
        Step(
            (
                "Warning: a ConfigMap mounted with subPath, or read through env/envFrom, is",
                "never updated in running pods: only the volume route above is live.",
            )
        ),
    ]


KUBERNETES = Platform(
    name="kubernetes",
    release_step="a Helm pre-upgrade hook Job, or a Job before kubectl apply",
    description="Kubernetes: KUBERNETES_SERVICE_HOST, or the service-account namespace file",
    markers=("KUBERNETES_SERVICE_HOST", "/" + SERVICE_ACCOUNT_NAMESPACE),
    detector=_detect_kubernetes,
    build=_kubernetes,
    store_route=(
        "in one pod",
        "kubectl exec deployment/{app:deployment}{namespace: --namespace } -- {write}",
    ),
    restarts=False,
    restart_note="a rolling update of every pod: usually a minute or two",
    live_route="a ConfigMap mounted as a volume",
    context=_kubernetes_context,
)


# --- Nomad -----------------------------------------------------------------------------------


def _nomad(r: Request) -> list[Step]:
    variables = " ".join(f"-var {shell(f'{name.lower()}={value}')}" for name, value in r.values)
    ns = f" -namespace={shell(r.namespace)}" if r.namespace else ""
    job_file = r.raw_name(r.app, "job") + ".nomad.hcl"
    declarations = tuple(
        f'  variable "{name.lower()}" {{ type = string }} and {name} = var.{name.lower()}'
        for name, _ in r.values
    )
    return [
        Step(
            (
                "Nomad replaces the job's allocations when its env changes (a new job version,",
                "rolled out per its update block). With, in the job file, for each variable:",
                *declarations,
                "(the second in the task's env block), run the job again:",
            ),
            (f"nomad job run{ns} {variables} {shell(job_file)}",),
        ),
    ]


NOMAD = Platform(
    name="nomad",
    description="HashiCorp Nomad: NOMAD_ALLOC_ID",
    markers=("NOMAD_ALLOC_ID", "NOMAD_JOB_NAME"),
    # https://developer.hashicorp.com/nomad/docs/runtime/environment
    detector=any_set("NOMAD_ALLOC_ID"),
    build=_nomad,
    store_route=(
        "in one allocation of the job",
        "nomad alloc exec{namespace: -namespace=} -job {app:job} {write}",
    ),
    restart_note="new allocations replace the old ones: usually 1-2 minutes",
    context=ContextVariables(app=("NOMAD_JOB_NAME",), namespace=("NOMAD_NAMESPACE",)),
)


# --- Kamal -----------------------------------------------------------------------------------


def _kamal(r: Request) -> list[Step]:
    return [
        Step(
            (
                "Kamal passes env at boot: new containers, then kamal-proxy moves traffic to",
                'them. With `MAINTENANCE_MODE: <%= ENV.fetch("MAINTENANCE_MODE", "off") %>`',
                "(and the other variables likewise) under env: clear: in config/deploy.yml:",
            ),
            (f"{pairs(r.values)} kamal app boot",),
        ),
        Step(
            (
                "No restart: a host directory mounted with volumes: as",
                "MAINTENANCE_MODE_CONFIG_PATH, written in the running container on every host:",
            ),
            (f"kamal app exec --reuse {shell(r.write_command())}",),
        ),
    ]


KAMAL = Platform(
    name="kamal",
    description="Kamal: KAMAL_CONTAINER_NAME (or KAMAL_VERSION)",
    markers=("KAMAL_CONTAINER_NAME", "KAMAL_VERSION"),
    # Kamal's `docker run` passes KAMAL_CONTAINER_NAME, KAMAL_VERSION and KAMAL_HOST into
    # every app container (https://kamal-deploy.org/docs/configuration/environment-variables/;
    # kamal's own tests of `kamal app boot` show the flags).
    build=_kamal,
    store_route=("in a running container", "kamal app exec --reuse --primary {write_quoted}"),
    restart_note="new containers on every host: usually under a minute",
    live_route="a host directory mounted with volumes:",
)


# --- Docker Swarm, Compose, Docker --------------------------------------------------------

SWARM_MARKER = "SWARM_SERVICE_NAME"


def _swarm_store_route(r: Request) -> tuple[str, str]:
    # A function: the service name is part of one quoted filter word (label=...=name).
    label = f"label=com.docker.swarm.service.name={r.raw_name(r.app, 'service')}"
    return (
        "in one of the service's containers, on a node that runs one",
        f'docker exec "$(docker ps -q -f {shell(label)} | head -n 1)" {r.write_command()}',
    )


def _swarm(r: Request) -> list[Step]:
    adds = " ".join(f"--env-add {shell(f'{name}={value}')}" for name, value in r.values)
    return [
        Step(
            (
                "Swarm replaces the service's tasks when its environment changes (a rolling",
                "update, per its update_config):",
            ),
            (f"docker service update {adds} {r.name(r.app, 'service')}",),
        ),
    ]


SWARM = Platform(
    name="swarm",
    description="Docker Swarm: SWARM_SERVICE_NAME, which the stack passes in "
    '(SWARM_SERVICE_NAME: "{{.Service.Name}}"; Swarm sets no variable of its own)',
    markers=(SWARM_MARKER,),
    # Swarm sets no variable of its own in a task; a service template passes the name in:
    # https://docs.docker.com/reference/cli/docker/service/create/#create-services-using-templates
    build=_swarm,
    store_route=_swarm_store_route,
    restart_note="a rolling update of the tasks: usually under a minute",
    context=ContextVariables(app=(SWARM_MARKER,)),
)


def _compose(r: Request) -> list[Step]:
    service = r.name(r.app, "service")
    return [
        Step(
            (
                "Compose re-creates the container when its environment changes (a restart).",
                "With `MAINTENANCE_MODE: ${MAINTENANCE_MODE:-off}` (and the other variables",
                "likewise) in the service's environment in compose.yaml:",
            ),
            (f"{pairs(r.values)} docker compose up -d {service}",),
        ),
        Step(
            ("No restart: a bind-mounted config directory, written from inside the service:",),
            (f"docker compose exec {service} {r.write_command()}",),
        ),
    ]


COMPOSE = Platform(
    name="compose",
    description="Docker Compose: COMPOSE_PROJECT_NAME or COMPOSE_SERVICE, which the compose "
    "file passes in (Compose sets no variable of its own)",
    markers=("COMPOSE_PROJECT_NAME", "COMPOSE_SERVICE"),
    build=_compose,
    store_route=("in the service's container", "docker compose exec {app:service} {write}"),
    restart_note="the container is re-created: usually seconds",
    live_route="a bind-mounted config directory",
    context=ContextVariables(app=("COMPOSE_SERVICE",)),
)


def _docker_context(m: Markers) -> Context:
    # Docker names the container's host after the container id, which docker exec takes;
    # outside a container, HOSTNAME is the machine's.
    return Context(app=m.get("HOSTNAME") if m.exists(DOCKERENV) else None)


def _docker(r: Request) -> list[Step]:
    return [
        Step(
            (
                "Docker cannot change a running container's environment: re-create it with",
                f"{pairs(r.values)} added as -e options to its docker run (a restart).",
            )
        ),
        Step(
            (
                "No restart: bind-mount a config directory (not a single file: a file replaced",
                "by rename is not seen through a file mount) read-write, set",
                "MAINTENANCE_MODE_CONFIG_PATH to it, and write into it:",
            ),
            (f"docker exec {r.name(r.app, 'container')} {r.write_command()}",),
        ),
    ]


DOCKER = Platform(
    name="docker",
    description="Docker: /.dockerenv",
    markers=("/.dockerenv",),
    detector=lambda m: "/.dockerenv exists" if m.exists(DOCKERENV) else None,
    build=_docker,
    store_route=("in the container", "docker exec {app:container} {write}"),
    restart_note="the container is re-created: usually seconds",
    live_route="a bind-mounted config directory",
    context=_docker_context,
)


# --- the host: systemd, shell -------------------------------------------------------------


def _systemd_context(m: Markers) -> Context:
    """The service unit this process runs in, from its cgroup path (``…/app.service``)."""
    text = m.read(PROC_CGROUP)
    for line in (text or "").splitlines():
        for part in reversed(line.rsplit(":", 1)[-1].split("/")):
            if part.endswith(".service"):
                return Context(app=part)
    return Context()


def _systemd(r: Request) -> list[Step]:
    unit_name = systemd_unit(r.app) if r.app else None
    unit = r.name(unit_name, "unit")
    dropin = shell(f"/etc/systemd/system/{unit_name or '<unit>'}.d")
    body = " ".join(shell(systemd_environment(name, value)) for name, value in r.values)
    mounted = f" ({r.config_path})" if r.config_path else ""
    return [
        Step(
            ("systemd reads a service's environment when it starts: a drop-in, then a restart:",),
            (
                f"sudo mkdir -p {dropin}",
                f"printf '%s\\n' '[Service]' {body} | sudo tee {dropin}/maintenance.conf",
                f"sudo systemctl daemon-reload && sudo systemctl restart {unit}",
            ),
        ),
        Step(
            (
                f"No restart: write into MAINTENANCE_MODE_CONFIG_PATH{mounted}, as the service's",
                "user, from the app's directory:",
            ),
            (r.write_command(),),
        ),
    ]


SYSTEMD = Platform(
    name="systemd",
    description="systemd service: INVOCATION_ID",
    markers=("INVOCATION_ID",),
    # systemd.exec(5), "Environment Variables in Spawned Processes": $INVOCATION_ID.
    build=_systemd,
    store_route=("as the service's user, from the app's directory", "{write}"),
    restart_note="a restart of the service: seconds, dropping requests in flight",
    live_route="the mounted config (a directory or dotenv file)",
    context=_systemd_context,
)


def _shell(r: Request) -> list[Step]:
    mounted = f" ({r.config_path})" if r.config_path else ""
    return [
        Step(
            ("The environment is read when the server starts: export, then restart it:",),
            tuple(f"export {name}={shell(value)}" for name, value in r.values),
        ),
        Step(
            (
                f"No restart: write into MAINTENANCE_MODE_CONFIG_PATH{mounted}; every server",
                "process sees it within MAINTENANCE_MODE_RELOAD_INTERVAL:",
            ),
            (r.write_command(),),
        ),
    ]


SHELL = Platform(
    name="shell",
    description="anything else (the fallback): a shell or a process manager",
    markers=(),
    detector=lambda m: "no platform marker found",
    build=_shell,
    store_route=("from the app's directory, with its environment", "{write}"),
    restart_note="a restart of the server",
    live_route="the mounted config (a directory or dotenv file)",
)
