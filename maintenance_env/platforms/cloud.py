"""The big clouds' app platforms: Amazon ECS/Fargate, App Runner and Elastic Beanstalk;
Azure App Service and Container Apps; Google Cloud Run and App Engine."""

from __future__ import annotations

from maintenance_env.platforms.base import (
    ContextVariables,
    Markers,
    Platform,
    Request,
    Step,
    StoreRoute,
    any_set,
)
from maintenance_env.platforms.quoting import (
    Unprintable,
    dotenv_line,
    env_file_line,
    gcloud_env_vars,
    json_text,
    pairs,
    shell,
    yaml_string,
)

__all__ = [
    "APPENGINE",
    "APPRUNNER",
    "AZURE_APPSERVICE",
    "AZURE_CONTAINERAPPS",
    "BEANSTALK",
    "CLOUDRUN",
    "ECS",
    "ECS_ENV_FILE",
    "beanstalk_option_settings",
]

LOCAL = "from any machine that reaches the store, with MAINTENANCE_MODE_CACHE set to it"

#: For platforms with no way to run a command in a running instance.
LOCAL_STORE_ROUTE: StoreRoute = (LOCAL, "MAINTENANCE_MODE_CACHE={placeholder:store-url} {write}")


# --- Amazon ECS / Fargate -----------------------------------------------------------------

#: Where the ECS plans keep the variables: an S3 object named in the task definition's
#: ``environmentFiles``, read when a task starts (raw ``NAME=value`` lines).
ECS_ENV_FILE = "s3://{bucket}/{service}-maintenance.env"


def _detect_ecs(m: Markers) -> str | None:
    # The ECS agent sets ECS_CONTAINER_METADATA_URI_V4 (platform 1.4.0+, agent 1.39.0+) and
    # ECS_CONTAINER_METADATA_URI in every container, EC2 and Fargate alike:
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4.html
    # AWS_EXECUTION_ENV=AWS_ECS_FARGATE / AWS_ECS_EC2 is set too.
    which = m.first("ECS_CONTAINER_METADATA_URI_V4", "ECS_CONTAINER_METADATA_URI")
    if which:
        return f"{which} is set"
    if m.get("AWS_EXECUTION_ENV") in ("AWS_ECS_FARGATE", "AWS_ECS_EC2"):
        return f"AWS_EXECUTION_ENV={m.get('AWS_EXECUTION_ENV')}"
    return None


def _ecs_cluster(r: Request) -> str:
    return r.name(r.environment, "cluster")


def _ecs(r: Request) -> list[Step]:
    service = r.raw_name(r.app, "service")
    target = ECS_ENV_FILE.format(bucket=r.raw_name(None, "bucket"), service=service)
    lines = " ".join(
        shell(env_file_line(name, value, "an ECS environment file")) for name, value in r.values
    )
    return [
        Step(
            (
                "ECS reads a task's environment when the task starts: new tasks, then the old",
                "ones drain (a rolling deployment). Once, name an S3 environment file in the",
                'task definition: "environmentFiles": [{"type": "s3", "value":',
                f'"arn:aws:s3:::<bucket>/{service}-maintenance.env"}}]; then write it and',
                "start new tasks:",
            ),
            (
                f"printf '%s\\n' {lines} | aws s3 cp - {shell(target)}",
                f"aws ecs update-service --cluster {_ecs_cluster(r)} --service {shell(service)} "
                "--force-new-deployment",
            ),
        ),
    ]


ECS = Platform(
    name="ecs",
    release_step="a one-off task (aws ecs run-task) before the service update",
    description="Amazon ECS / Fargate: ECS_CONTAINER_METADATA_URI_V4 (or _URI, or "
    "AWS_EXECUTION_ENV=AWS_ECS_*)",
    markers=("ECS_CONTAINER_METADATA_URI_V4", "ECS_CONTAINER_METADATA_URI", "AWS_EXECUTION_ENV"),
    detector=_detect_ecs,
    build=_ecs,
    # ECS Exec runs one command string in the container:
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html
    store_route=(
        "in a running task (ECS Exec, enabled on the service)",
        "aws ecs execute-command --cluster {environment:cluster} --task {placeholder:task-id} "
        "--interactive --command {write_quoted}",
    ),
    restart_note="a rolling deployment of new tasks: usually 2-5 minutes",
    hints={"cluster": "the ECS cluster", "bucket": "an S3 bucket", "task-id": "aws ecs list-tasks"},
)


# --- AWS App Runner -----------------------------------------------------------------------


def _detect_apprunner(m: Markers) -> str | None:
    # App Runner documents no variable of its own in the container (it runs on Fargate, so
    # ECS's markers may be there too): the service's runtime environment variables pass
    # APPRUNNER_SERVICE_ARN in. Checked before ECS: the more specific wins.
    # https://docs.aws.amazon.com/apprunner/latest/dg/env-variable.html
    return "APPRUNNER_SERVICE_ARN is set" if m.has("APPRUNNER_SERVICE_ARN") else None


#: The path, inside an App Runner service's SourceConfiguration, of an image-based
#: service's runtime environment variables (UpdateService API).
APPRUNNER_ENV_PATH = ".ImageRepository.ImageConfiguration.RuntimeEnvironmentVariables"


def _apprunner(r: Request) -> list[Step]:
    arn = r.name(r.app, "service-arn")
    args = " ".join(f"--arg v{i} {shell(value)}" for i, (_, value) in enumerate(r.values))
    merge = ", ".join(f"{name}: $v{i}" for i, (name, _) in enumerate(r.values))
    jq_filter = f"{APPRUNNER_ENV_PATH} += {{{merge}}}"
    return [
        Step(
            (
                "App Runner deploys the service again when its configuration changes (new",
                "instances, then traffic moves). UpdateService replaces the whole variable",
                "list, so merge these into the current one (for a source-code service the",
                "path is .CodeRepository.CodeConfiguration.CodeConfigurationValues):",
            ),
            (
                f"aws apprunner describe-service --service-arn {arn} "
                "--query Service.SourceConfiguration --output json > source.json",
                f"jq {args} {shell(jq_filter)} source.json > source.new.json",
                f"aws apprunner update-service --service-arn {arn} "
                "--source-configuration file://source.new.json",
            ),
        ),
    ]


APPRUNNER = Platform(
    name="apprunner",
    description="AWS App Runner: APPRUNNER_SERVICE_ARN, which the service's configuration "
    "passes in (App Runner sets no variable of its own; checked before ECS)",
    markers=("APPRUNNER_SERVICE_ARN",),
    detector=_detect_apprunner,
    build=_apprunner,
    store_route=LOCAL_STORE_ROUTE,
    restart_note="a new deployment: usually 3-6 minutes",
    context=ContextVariables(app=("APPRUNNER_SERVICE_ARN",)),
)


# --- AWS Elastic Beanstalk ----------------------------------------------------------------

BEANSTALK_NAMESPACE = "aws:elasticbeanstalk:application:environment"
BEANSTALK_MARKER = "opt/elasticbeanstalk/bin/get-config"


def beanstalk_option_settings(values: list[tuple[str, str]]) -> list[dict[str, str]]:
    """Environment properties as UpdateEnvironment's ``OptionSettings``."""
    return [
        {"Namespace": BEANSTALK_NAMESPACE, "OptionName": name, "Value": value}
        for name, value in values
    ]


def _beanstalk(r: Request) -> list[Step]:
    env = r.name(r.app, "environment")
    settings = json_text(beanstalk_option_settings(list(r.values)))
    return [
        Step(
            (
                "Elastic Beanstalk restarts the app server on every instance when an",
                "environment property changes (a configuration deployment):",
            ),
            (
                f"aws elasticbeanstalk update-environment --environment-name {env} "
                f"--option-settings {settings}",
            ),
        ),
    ]


BEANSTALK = Platform(
    name="beanstalk",
    description="AWS Elastic Beanstalk: the platform's /opt/elasticbeanstalk/bin/get-config "
    "(Beanstalk sets no variable of its own)",
    markers=("/opt/elasticbeanstalk/bin/get-config",),
    # Beanstalk documents no marker variable; every Amazon Linux 2+ platform ships the
    # get-config tool at this path:
    # https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/custom-platforms-scripts.html
    detector=lambda m: (
        "/opt/elasticbeanstalk/bin/get-config exists" if m.exists(BEANSTALK_MARKER) else None
    ),
    build=_beanstalk,
    store_route=(
        "on an instance (eb ssh {app:environment}), from /var/app/current with the app's "
        "environment, or " + LOCAL,
        "{write}",
    ),
    restart_note="a configuration deployment: usually 1-3 minutes",
)


# --- Azure ----------------------------------------------------------------------------------


def _azure_target(r: Request) -> str:
    return (
        f"--name {r.name(r.app, 'app')} --resource-group {r.name(r.environment, 'resource-group')}"
    )


def _appservice(r: Request) -> list[Step]:
    return [
        Step(
            ("App Service restarts the app on every instance when an app setting changes:",),
            (f"az webapp config appsettings set {_azure_target(r)} --settings {pairs(r.values)}",),
        ),
        Step(
            (
                "No restart: /home is storage shared by every instance (for a custom container,",
                "with WEBSITES_ENABLE_APP_SERVICE_STORAGE=true). With",
                "MAINTENANCE_MODE_CONFIG_PATH=/home/maintenance, run in the SSH console",
                "(az webapp ssh), from the app's directory:",
            ),
            (r.write_command(),),
        ),
    ]


AZURE_APPSERVICE = Platform(
    name="azure-appservice",
    description="Azure App Service: WEBSITE_SITE_NAME",
    markers=("WEBSITE_SITE_NAME", "WEBSITE_RESOURCE_GROUP"),
    # https://learn.microsoft.com/azure/app-service/reference-app-settings#app-environment
    detector=any_set("WEBSITE_SITE_NAME"),
    build=_appservice,
    store_route=("in the SSH console (az webapp ssh), or " + LOCAL, "{write}"),
    restart_note="a restart of every instance: usually under a minute",
    live_route="/home, shared by every instance",
    context=ContextVariables(app=("WEBSITE_SITE_NAME",), environment=("WEBSITE_RESOURCE_GROUP",)),
    hints={"resource-group": "or set WEBSITE_RESOURCE_GROUP"},
)


def _containerapps(r: Request) -> list[Step]:
    for name, value in r.values:
        if value.startswith("secretref:"):
            raise Unprintable(
                f"{name} cannot start with 'secretref:' for az containerapp: it would name a "
                "secret instead of being the value."
            )
    return [
        Step(
            (
                "Container Apps makes a new revision when an environment variable changes (new",
                "replicas, then traffic moves to them):",
            ),
            (f"az containerapp update {_azure_target(r)} --set-env-vars {pairs(r.values)}",),
        ),
    ]


AZURE_CONTAINERAPPS = Platform(
    name="azure-containerapps",
    description="Azure Container Apps: CONTAINER_APP_NAME (checked before Kubernetes, which "
    "it runs on)",
    markers=("CONTAINER_APP_NAME", "CONTAINER_APP_REVISION"),
    # https://learn.microsoft.com/azure/container-apps/environment-variables#built-in-environment-variables
    detector=any_set("CONTAINER_APP_NAME"),
    build=_containerapps,
    store_route=(
        "in a running replica",
        "az containerapp exec --name {app} --resource-group {environment:resource-group} "
        "--command {write_quoted}",
    ),
    restart_note="a new revision: usually 1-2 minutes",
    context=ContextVariables(app=("CONTAINER_APP_NAME",)),
)


# --- Google Cloud Run and App Engine ------------------------------------------------------


def _cloudrun(r: Request) -> list[Step]:
    service = r.name(r.app, "service")
    region = f" --region {r.name(r.environment, 'region')}"
    lines = " ".join(shell(dotenv_line(name, value)) for name, value in r.values)
    return [
        Step(
            (
                "Cloud Run deploys a new revision when an environment variable changes (new",
                "instances, then traffic moves to them):",
            ),
            (f"gcloud run services update {service}{region} {gcloud_env_vars(r.values)}",),
        ),
        Step(
            (
                "No restart: a Secret Manager secret mounted as a file, read again on every",
                "access. Once: gcloud run services update ... --update-secrets=",
                "/etc/maintenance/maintenance.env=maintenance-config:latest and",
                "MAINTENANCE_MODE_CONFIG_PATH=/etc/maintenance/maintenance.env; then:",
            ),
            (
                f"printf '%s\\n' {lines} | gcloud secrets versions add maintenance-config "
                "--data-file=-",
            ),
        ),
    ]


CLOUDRUN = Platform(
    name="cloudrun",
    description="Google Cloud Run: K_SERVICE (checked before Kubernetes: Knative sets it too)",
    markers=("K_SERVICE",),
    # https://cloud.google.com/run/docs/container-contract#env-vars
    build=_cloudrun,
    store_route=LOCAL_STORE_ROUTE,
    restart_note="a new revision: usually under a minute",
    live_route="a Secret Manager secret mounted as a file",
    # CLOUDSDK_RUN_REGION is gcloud's own setting (run/region), not set by Cloud Run:
    # https://cloud.google.com/sdk/docs/properties
    context=ContextVariables(app=("K_SERVICE",), environment=("CLOUDSDK_RUN_REGION",)),
    hints={"region": "or set CLOUDSDK_RUN_REGION"},
)


def _appengine(r: Request) -> list[Step]:
    lines = tuple(f"    {name}: {yaml_string(value)}" for name, value in r.values)
    return [
        Step(
            (
                "App Engine reads env_variables from app.yaml when a version is deployed: a new",
                "version, then traffic moves to it. In app.yaml:",
                "  env_variables:",
                *lines,
                "then deploy:",
            ),
            ("gcloud app deploy app.yaml",),
        ),
    ]


APPENGINE = Platform(
    name="appengine",
    description="Google App Engine: GAE_APPLICATION (or GAE_ENV)",
    markers=("GAE_APPLICATION", "GAE_ENV", "GAE_SERVICE"),
    # https://cloud.google.com/appengine/docs/standard/python3/runtime#environment_variables
    detector=any_set("GAE_APPLICATION", "GAE_ENV"),
    build=_appengine,
    store_route=LOCAL_STORE_ROUTE,
    restart_note="a new version: usually several minutes",
    context=ContextVariables(app=("GAE_SERVICE",)),
)
