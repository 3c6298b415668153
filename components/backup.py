"""Scheduled, encrypted, retained Postgres backups: a restic job on the internal network.

The job backs up at start and then every interval (RPO), applies the retention, and is healthy
only while its last good backup is younger than the interval plus a grace period; `up` waits for
it, so a deploy proves that backups work. The repository is a Docker volume on `local` and
S3-compatible object storage on the cloud stacks. Restores and drills: `python -m deploy`.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_docker as docker

from .containers import SecretFile, baseline_args, networks, secret_path, uploads
from .host import Host
from .images import remote_image
from .settings import BackupSettings, Healthcheck, Limits, S3Repository
from .settings.backup import BACKUP_JOB_CPUS, BACKUP_JOB_MEMORY_MB, GRACE_S

VOLUME_REPOSITORY = "/repo/restic"
# The first backup runs before the job reports healthy: give it time on a large database.
FIRST_BACKUP_S = 900


def backup_env(settings: BackupSettings, interval_s: int) -> dict[str, str]:
    repository = settings.repository
    env = {
        "RESTIC_REPOSITORY": repository.url if isinstance(repository, S3Repository) else VOLUME_REPOSITORY,
        "RESTIC_PASSWORD_FILE": secret_path("backup_password"),
        "DATABASE_URL_FILE": secret_path("database_url"),
        "BACKUP_INTERVAL_S": str(interval_s),
        "BACKUP_GRACE_S": str(GRACE_S),
        "BACKUP_KEEP_HOURLY": str(settings.retention.hourly),
        "BACKUP_KEEP_DAILY": str(settings.retention.daily),
        "BACKUP_KEEP_WEEKLY": str(settings.retention.weekly),
        # What PF-DATA-005 reads: the longest the retention keeps a snapshot, in days.
        "BACKUP_RETENTION_DAYS": str(max(settings.retention.daily, 7 * settings.retention.weekly,
                                         -(-settings.retention.hourly // 24))),
    }
    if isinstance(repository, S3Repository):
        env["AWS_ACCESS_KEY_ID_FILE"] = secret_path("backup_s3_access_key_id")
        env["AWS_SECRET_ACCESS_KEY_FILE"] = secret_path("backup_s3_secret_access_key")
    return env


class Backup(pulumi.ComponentResource):
    def __init__(self, name: str, settings: BackupSettings, *, interval_s: int, host: Host, stack: str,
                 secret_files: Mapping[str, pulumi.Input[str]], protect: bool,
                 data_volumes: Mapping[str, pulumi.Input[str]] = {},
                 metrics: tuple[pulumi.Input[str], str] | None = None, opts: pulumi.ResourceOptions | None = None):
        """secret_files: backup_password, database_url and, for S3, the two access key files;
        data_volumes: path in the job -> a volume backed up as files next to the dump (read-only);
        metrics: (volume, path) where the job writes its figures for the monitoring."""
        super().__init__("preflight:index:Backup", name, None, opts)
        image = remote_image(f"{name}-image", settings.image, host.child_opts(self))
        files = [SecretFile(secret_path(n), v) for n, v in sorted(secret_files.items())]
        check = Healthcheck(command=["preflight-backup", "check"], interval_s=10, timeout_s=10, retries=3,
                            start_period_s=FIRST_BACKUP_S)
        volumes = []
        if not isinstance(settings.repository, S3Repository):
            self.repository = host.data_volume(f"{name}-repository", stack, self, protect)
            volumes.append(docker.ContainerVolumeArgs(volume_name=self.repository.name, container_path="/repo"))
        volumes += [docker.ContainerVolumeArgs(volume_name=volume, container_path=path, read_only=True)
                    for path, volume in sorted(data_volumes.items())]
        self.env = backup_env(settings, interval_s)
        if data_volumes:
            self.env["BACKUP_EXTRA_PATHS"] = " ".join(sorted(data_volumes))
        if metrics is not None:
            volumes.append(docker.ContainerVolumeArgs(volume_name=metrics[0], container_path=metrics[1]))
            self.env["BACKUP_METRICS_DIR"] = metrics[1]
        self.container = docker.Container(
            name,
            **baseline_args(image=image.image_id, stack=stack, component="backup", role="backup",
                            limits=Limits(memory_mb=BACKUP_JOB_MEMORY_MB, cpus=BACKUP_JOB_CPUS), healthcheck=check,
                            command=["preflight-backup", "run"]),
            envs=[f"{k}={v}" for k, v in sorted(self.env.items())],
            uploads=uploads(files),
            volumes=volumes,
            # The internal network reaches Postgres; S3 needs a way out, which only the edge network has.
            networks_advanced=networks(
                {"internal": host.internal_network.name,
                 **({"edge": host.edge_network.name} if isinstance(settings.repository, S3Repository) else {})},
                alias="backup"),
            opts=host.child_opts(self, delete_before_replace=True),
        )
        self.register_outputs({"container": self.container.name})
