"""The launch checks of `cbas doctor`: the worker image of every allowed instance type exists
and has that type's CPU architecture (from DescribeInstanceTypes), a `DryRun=True`
RunInstances of the exact request the master sends (`run_instances_params`) succeeds, the
spot service-linked role exists, and this version's wheel is in the bucket."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from cbas_async import __version__
from cbas_async.doctor_checks import Check, CheckFn, Context, error_text, failed, passed
from cbas_async.errors import ConfigError
from cbas_async.fleet.launch_config import LaunchConfig, resolve_launch_config
from cbas_async.fleet.launch_errors import LaunchContext, launch_error
from cbas_async.fleet.launcher import DEFAULT_DISK_GIB, LaunchRequest, run_instances_params
from cbas_async.iamroles import error_code
from cbas_async.messages import UserData
from cbas_async.spot_role import SPOT_ROLE, SPOT_ROLE_FIX, spot_role_exists
from cbas_async.wheels import PREFIX, latest_wheel_key

DRY_RUN_OK = "DryRunOperation"  # EC2's answer when the request would have succeeded


async def _launch_config(context: Context) -> LaunchConfig | Check:
    try:
        return await resolve_launch_config(
            context.clients, context.settings, bucket=context.scope.bucket
        )
    except ConfigError as exc:
        return failed("worker_image", str(exc))


async def _architectures(context: Context) -> dict[str, list[str]]:
    """Each allowed instance type's supported architectures; an unknown type is absent."""
    found: dict[str, list[str]] = {}
    for itype in context.instance_types:  # one at a time: one unknown type fails the call
        try:
            answer = await context.clients.ec2.describe_instance_types(
                InstanceTypes=[itype]  # type: ignore[list-item]  # a str, checked by EC2
            )
        except ClientError as exc:
            if error_code(exc) != "InvalidInstanceType":
                raise
            continue
        for info in answer["InstanceTypes"]:
            found[itype] = list(info.get("ProcessorInfo", {}).get("SupportedArchitectures", []))
    return found


async def worker_image(context: Context) -> Check:
    config = await _launch_config(context)
    if isinstance(config, Check):
        return config
    ids = sorted({config.image_for(t).image_id for t in context.instance_types})
    described = await context.clients.ec2.describe_images(ImageIds=ids)
    image_arch = {i["ImageId"]: i.get("Architecture", "") for i in described["Images"]}
    supported = await _architectures(context)
    problems: list[str] = []
    for itype in context.instance_types:
        image_id = config.image_for(itype).image_id
        if itype not in supported:
            problems.append(f"{itype} is not an instance type offered in {context.settings.region}")
        elif image_arch.get(image_id) not in supported[itype]:
            problems.append(
                f"image {image_id} is {image_arch.get(image_id) or 'of unknown architecture'} "
                f"but {itype} runs {'/'.join(supported[itype])}"
            )
    if problems:
        return failed(
            "worker_image",
            "; ".join(problems) + ": set CBAS_WORKER_IMAGE_ID to an image of the types' "
            "architecture (or unset it), or allow other instance types",
        )
    shown = ", ".join(f"{t}: {config.image_for(t).image_id}" for t in context.instance_types)
    return passed("worker_image", shown)


def probe_user_data(context: Context) -> UserData:
    """A job descriptor like the master's, for a request of the real size and shape."""
    settings, scope = context.settings, context.scope
    return UserData(
        job_id="cbas-doctor",
        attempt=1,
        deployment=settings.deployment,
        region=settings.region,
        endpoint_url=settings.endpoint_url,
        bucket=scope.bucket or "",
        ping_queue_url=scope.queue_arn,
        topic_arn=scope.topic_arn(scope.topic),
        jobs_table=settings.jobs_table,
        events_table=settings.events_table,
        misc_table=settings.misc_table,
        heartbeat_interval_s=settings.heartbeat_interval_s,
        notice_poll_s=settings.notice_poll_s,
        checkpoint_interval_s=900.0,
        master_id="cbas-doctor",
    )


def dry_run_params(context: Context, config: LaunchConfig, instance_type: str) -> dict[str, Any]:
    request = LaunchRequest(
        region=context.settings.region,
        zone=None,
        instance_type=instance_type,
        max_price_usd_per_hour=None,
        checkpoint_interval_s=900.0,
    )
    params = run_instances_params(
        request, probe_user_data(context), config, context.settings.deployment
    )
    return {**params, "DryRun": True}


async def dry_run(context: Context) -> Check:
    config = await _launch_config(context)
    if isinstance(config, Check):
        return failed("dry_run", f"no launch request to try: {config.message}")
    problems: list[str] = []
    for itype in context.instance_types:
        params = dry_run_params(context, config, itype)
        try:
            await context.clients.ec2.run_instances(**params)
        except ClientError as exc:
            if error_code(exc) != DRY_RUN_OK:
                problems.append(f"{itype}: {_refusal(exc, config, itype)}")
            continue
        problems.append(f"{itype}: EC2 ignored DryRun=True and launched an instance")
    if problems:
        return failed("dry_run", "; ".join(problems))
    return passed("dry_run", f"EC2 would launch {', '.join(context.instance_types)} as spot")


def _refusal(exc: ClientError, config: LaunchConfig, instance_type: str) -> str:
    """EC2's refusal with the fix the master would log for it."""
    context = LaunchContext(
        image_id=config.image_for(instance_type).image_id,
        instance_profile=config.instance_profile,
        security_group_id=config.security_group_id,
        subnet_id=config.subnet_id,
        disk_gib=DEFAULT_DISK_GIB,
    )
    error = launch_error(exc, context)
    return str(error) if str(error) else error_text(exc)


async def spot_role(context: Context) -> Check:
    if not await spot_role_exists(context.accounts.iam):
        return failed(
            "spot_role",
            f"the service-linked role {SPOT_ROLE} does not exist, so EC2 refuses spot "
            f"requests: run `cbas bootstrap` or `{SPOT_ROLE_FIX}` once per account",
        )
    return passed("spot_role", SPOT_ROLE)


async def wheel(context: Context) -> Check:
    bucket = context.scope.bucket
    if bucket is None:
        return failed("wheel", "no bucket to look in: run `cbas bootstrap`")
    key = await latest_wheel_key(context.clients.s3, bucket)
    if key is None:
        return failed(
            "wheel",
            f"no wheel of cbas-async {__version__} in s3://{bucket}/{PREFIX}/{__version__}/, "
            "so workers cannot install this version: run `cbas bootstrap` with this version "
            "installed (or `cbas bootstrap --wheel FILE`)",
        )
    return passed("wheel", f"s3://{bucket}/{key}")


LAUNCH_CHECKS: Mapping[str, CheckFn] = {
    "worker_image": worker_image,
    "dry_run": dry_run,
    "spot_role": spot_role,
    "wheel": wheel,
}
