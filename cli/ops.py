"""`aikings` (or `python -m cli`): the operator commands.

    migrate [REV] | downgrade REV
    pool status | prewarm [--minutes N] | terminate ID|all | safe-mode on|off [--reason R]
         | size N | budget [--daily USD] [--monthly USD] | adaptive on|off [--wait-value USD]
    backup | restore FILE --yes | retention [--days N] | audit verify
    media copy-to-s3 [--repair]

Pool commands need the admin key (ADMIN_API_KEY), read from standard input so it never shows
in the process list or shell history; each command is audited with the key's HMAC fingerprint.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TextIO

from sqlmodel import select

from cli.admin_key import authenticate, read_admin_key
from core import audit
from core.accounts.inputs import printable, require_plain
from core.clock import SystemClock
from core.config import Settings, get_settings
from core.db import downgrade, make_engine, migrate, read_scope, session_scope
from core.errors import CoreError, NotFound, ValidationFailed
from core.gallery import s3media
from core.gallery.media import LocalMediaStore
from core.logs import configure_logging
from core.models import Role, User
from core.ops import backup, media_copy, retention
from core.pool import service
from core.pool.service import Actor

MAX_ID_DIGITS = 18  # every id fits a signed 64-bit integer


def _usd(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount of dollars: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    parser = argparse.ArgumentParser(prog="aikings", description="AI KINGS operations")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("migrate", help="upgrade the database schema")
    up.add_argument("revision", nargs="?", default="head")
    down = commands.add_parser("downgrade", help="downgrade the database schema")
    down.add_argument("revision")

    pool = commands.add_parser("pool", help="inspect and steer the GPU pool (needs the admin key)")
    verbs = pool.add_subparsers(dest="verb", required=True)
    verbs.add_parser("status", help="settings, instances, queue and spend")
    warm = verbs.add_parser("prewarm", help="wake the pool ahead of expected use")
    warm.add_argument("--minutes", type=int, default=30)
    kill = verbs.add_parser("terminate", help="destroy one instance, or all")
    kill.add_argument("target", help="an instance id, or 'all'")
    safe = verbs.add_parser("safe-mode", help="on: rent nothing, destroy everything")
    safe.add_argument("state", choices=["on", "off"])
    safe.add_argument("--reason", default="operator request")
    size = verbs.add_parser("size", help="instances kept warm while awake")
    size.add_argument("size", type=int)
    budget = verbs.add_parser("budget", help="daily / monthly spend caps in USD")
    budget.add_argument("--daily", type=_usd)
    budget.add_argument("--monthly", type=_usd)
    learn = verbs.add_parser("adaptive", help="learnt idle timeout and prewarm on or off")
    learn.add_argument("state", choices=["on", "off"])
    learn.add_argument(
        "--wait-value", type=_usd, help="USD an hour of a user waiting for a cold GPU is worth"
    )

    user = commands.add_parser("user", help="account administration (needs the admin key)")
    user_verbs = user.add_subparsers(dest="verb", required=True)
    role = user_verbs.add_parser("role", help="make a user an admin, or a user again")
    role.add_argument("username")
    role.add_argument("role", choices=[r.value for r in Role])

    commands.add_parser("backup", help="back the database up to BACKUP_DIR")
    back = commands.add_parser("restore", help="replace the database with a backup (stop first)")
    back.add_argument("file", help="a .sqlite3 or .pgdump file written by `backup`")
    back.add_argument("--yes", action="store_true", help="confirm: the current data is replaced")
    keep = commands.add_parser("retention", help="apply the retention window now")
    keep.add_argument("--days", type=int)
    audit_cmd = commands.add_parser("audit", help="audit log checks")
    audit_cmd.add_argument("verb", choices=["verify"])
    media_cmd = commands.add_parser("media", help="media store operations")
    media_verbs = media_cmd.add_subparsers(dest="verb", required=True)
    copy = media_verbs.add_parser(
        "copy-to-s3",
        help="copy MEDIA_ROOT into S3_BUCKET and verify every hash (safe to re-run)",
    )
    copy.add_argument(
        "--repair", action="store_true", help="replace bucket objects that fail the check"
    )
    return parser


def run_pool_command(
    args: argparse.Namespace, settings: Settings, actor: Actor, out: TextIO
) -> None:
    """Carry out one `pool` verb and write its result to `out`."""
    engine = make_engine(settings.database_url)
    now = SystemClock().now()
    pool = settings.pool_name
    try:
        with session_scope(engine) as session:
            service.ensure_pool(session, settings)
        if args.verb == "status":
            with session_scope(engine) as session:
                service.audit_action(session, actor, now, "pool.status", f"pool:{pool}")
            with read_scope(engine) as session:
                out.write(format_status(service.status(session, pool=pool, now=now)))
            return
        with session_scope(engine) as session:
            if args.verb == "prewarm":
                service.prewarm(session, pool=pool, minutes=args.minutes, actor=actor, now=now)
                out.write(f"pool {pool} awake for {args.minutes} min\n")
            elif args.verb == "terminate":
                target = None if args.target == "all" else _instance_id(args.target)
                count = service.request_terminate(
                    session, pool=pool, instance_id=target, actor=actor, now=now
                )
                out.write(f"{count} instance(s) will be destroyed at the next tick\n")
            elif args.verb == "safe-mode":
                service.set_safe_mode(
                    session,
                    pool=pool,
                    on=args.state == "on",
                    reason=args.reason,
                    actor=actor,
                    now=now,
                )
                out.write(f"safe mode {args.state}\n")
            elif args.verb == "size":
                service.set_desired_size(session, pool=pool, size=args.size, actor=actor, now=now)
                out.write(f"desired size {args.size}\n")
            elif args.verb == "budget":
                config = service.set_budget(
                    session,
                    pool=pool,
                    daily_usd=args.daily,
                    monthly_usd=args.monthly,
                    actor=actor,
                    now=now,
                )
                out.write(
                    f"budget: ${config.daily_budget_usd}/day, ${config.monthly_budget_usd}/month\n"
                )
            elif args.verb == "adaptive":
                config = service.set_adaptive(
                    session,
                    pool=pool,
                    on=args.state == "on",
                    wait_value_per_hour_usd=args.wait_value,
                    actor=actor,
                    now=now,
                )
                out.write(
                    f"adaptive {args.state}; waiting valued at "
                    f"${config.wait_value_per_hour_usd}/h\n"
                )
    finally:
        engine.dispose()


def set_user_role(settings: Settings, actor: Actor, username: str, role: Role, out: TextIO) -> None:
    """Give `username` a role (how the first admin is made); audited with the key's print."""
    engine = make_engine(settings.database_url)
    now = SystemClock().now()
    try:
        require_plain({"username": username})
        with session_scope(engine) as session:
            user = session.exec(select(User).where(User.username == username.lower())).first()
            if user is None:
                raise NotFound(f"no user named {username!r}")
            user.role = role
            session.add(user)
            details: dict[str, object] = {"role": role.value}
            service.audit_action(session, actor, now, "account.role", f"user:{user.id}", details)
        out.write(f"{username} is now {role.value}\n")
    finally:
        engine.dispose()


def run_ops_command(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """backup, restore, retention and audit verify; returns the exit status."""
    engine = make_engine(settings.database_url)
    now = SystemClock().now()
    try:
        if args.command == "backup":
            out.write(f"{backup.backup(settings.database_url, settings.backup_dir, now=now)}\n")
        elif args.command == "restore":
            restore_backup(settings, Path(args.file), confirmed=args.yes, out=out)
        elif args.command == "retention":
            with session_scope(engine) as session:
                report = retention.apply_retention(
                    session,
                    now=now,
                    days=settings.retention_days if args.days is None else args.days,
                )
            out.write("".join(f"{table}: {n}\n" for table, n in sorted(report.removed.items())))
        else:
            with read_scope(engine) as session:
                chain = audit.verify_chain(session)
            if not chain.ok:
                out.write(f"audit chain BROKEN at entry {chain.broken_at}: {chain.reason}\n")
                return 1
            out.write(f"audit chain ok: {chain.checked} entries\n")
        return 0
    finally:
        engine.dispose()


def restore_backup(settings: Settings, backup_file: Path, *, confirmed: bool, out: TextIO) -> None:
    """Replace the database with `backup_file`, then record the restore in its audit chain.

    Web and scheduler must be stopped first; `confirmed` (`--yes`) says the operator knows
    everything written since that backup is lost.
    """
    if not confirmed:
        raise ValidationFailed("restore replaces the current database: add --yes to confirm")
    backup.restore_database(settings.database_url, backup_file)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            audit.record(
                session,
                at=SystemClock().now(),
                actor="cli",
                action="ops.restore",
                target=f"backup:{backup_file.name}",
            )
    finally:
        engine.dispose()
    out.write(f"restored {backup_file.name}; run `migrate` if the code is newer than it\n")


def copy_media_to_s3(settings: Settings, *, repair: bool, out: TextIO) -> int:
    """Copy the local media store into the bucket; exit status 1 when any hash failed."""
    if settings.s3_bucket is None:
        raise ValidationFailed("copy-to-s3 needs S3_BUCKET (and S3_ENDPOINT_URL, keys)")

    def progress(handled: int) -> None:
        if handled % 1000 == 0:
            out.write(f"{handled} files checked\n")

    report = media_copy.copy_store(
        LocalMediaStore(settings.media_root),
        s3media.from_settings(settings),
        repair=repair,
        progress=progress,
    )
    out.write(report.summary())
    return 0 if report.ok else 1


def _instance_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_ID_DIGITS:
        raise ValidationFailed(f"instance id must be a number or 'all', not {printable(text)!r}")
    return int(text)


def format_status(status: service.PoolStatus) -> str:
    """A plain-text report of a pool's status."""
    config = status.config
    lines = [
        f"pool {config.name}: desired {config.desired_size}, max {config.max_instances}, "
        f"safe mode {f'ON ({config.safe_mode_reason})' if config.safe_mode else 'off'}, "
        f"adaptive {'on' if config.adaptive else 'off'}",
        f"queue: {status.queued_jobs} waiting, {status.running_jobs} running",
        f"spend: ${status.spend_today_usd:.2f} today of ${config.daily_budget_usd}, "
        f"${status.spend_month_usd:.2f} this month of ${config.monthly_budget_usd}",
    ]
    if not status.instances:
        lines.append("no live instances")
    for inst in status.instances:
        lease = f" job {inst.leased_by_job}" if inst.leased_by_job else ""
        lines.append(
            f"  #{inst.id} {inst.state.value:<11} {inst.gpu_name or '-':<10} "
            f"${inst.price_per_hour_usd:.3f}/h {inst.comfy_url or '-'}{lease}"
        )
    return "\n".join(lines) + "\n"


def main(
    argv: Sequence[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> int:
    """Run one command; return the exit status (2 for a refused command)."""
    args = build_parser().parse_args(argv)
    out = stdout or sys.stdout
    try:
        settings = get_settings()
        configure_logging(settings.log_level, as_json=settings.log_json)
        if args.command == "migrate":
            migrate(settings.database_url, args.revision)
        elif args.command == "downgrade":
            downgrade(settings.database_url, args.revision)
        elif args.command == "pool":
            actor = authenticate(settings, read_admin_key(stdin or sys.stdin))
            run_pool_command(args, settings, actor, out)
        elif args.command == "media":
            return copy_media_to_s3(settings, repair=args.repair, out=out)
        elif args.command == "user":
            actor = authenticate(settings, read_admin_key(stdin or sys.stdin))
            set_user_role(settings, actor, args.username, Role(args.role), out)
        else:
            return run_ops_command(args, settings, out)
    except CoreError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0
