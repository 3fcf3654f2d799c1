"""`aikings-muses`: muse cards from the command line (needs the admin key).

    import --owner USERNAME [--as-copy] CARD
                                   create a muse for USERNAME from a .json or .png card
                                   (a name already in use is refused, or numbered with
                                   --as-copy)
    export --owner USERNAME ID     write muse ID's JSON card to standard output

The card passes exactly the checks the web form and the upload do (strict schema, 18+,
content policy, all or nothing); a refusal is audited and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from sqlmodel import select

from cli.admin_key import authenticate, read_admin_key
from core.accounts.inputs import require_int, require_plain
from core.clock import SystemClock
from core.config import get_settings
from core.db import make_engine, session_scope
from core.errors import CoreError, NotFound, ValidationFailed
from core.logs import configure_logging
from core.models import User
from core.muses import cards, service
from core.refusals import audited_refusals


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    parser = argparse.ArgumentParser(prog="aikings-muses", description="muse cards")
    verbs = parser.add_subparsers(dest="verb", required=True)
    imp = verbs.add_parser("import", help="create a muse from a JSON or PNG card")
    imp.add_argument("--owner", required=True, help="username the muse belongs to")
    imp.add_argument(
        "--as-copy", action="store_true", help="number the name if it is already in use"
    )
    imp.add_argument("card", type=Path)
    exp = verbs.add_parser("export", help="print a muse's JSON card")
    exp.add_argument("--owner", required=True)
    exp.add_argument("muse_id", type=int)
    return parser


def _read_card(path: Path) -> bytes:
    """The card's bytes, bounded before reading (a card is at most a few MB)."""
    try:
        if path.stat().st_size > cards.MAX_PNG_BYTES:
            raise ValidationFailed(f"{path.name} is larger than a muse card can be.")
        return path.read_bytes()
    except OSError as exc:
        raise ValidationFailed(f"cannot read {path.name}: {exc.strerror}") from None


def main(
    argv: Sequence[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> int:
    """Run one command; return the exit status (2 for a refused command)."""
    args = build_parser().parse_args(argv)
    out = stdout or sys.stdout
    settings = get_settings()
    configure_logging(settings.log_level, as_json=settings.log_json)
    engine = make_engine(settings.database_url)
    clock = SystemClock()
    try:
        actor = authenticate(settings, read_admin_key(stdin or sys.stdin))
        require_plain({"owner": args.owner})
        if args.verb == "export":
            require_int(args.muse_id, field="muse id", low=1, high=2**63 - 1)
        with session_scope(engine) as session:
            owner = session.exec(select(User).where(User.username == args.owner.lower())).first()
            if owner is None:
                raise NotFound(f"no user named {args.owner!r}")
            owner_id = owner.id or 0
        if args.verb == "import":
            data = _read_card(args.card)
            with (
                audited_refusals(engine, actor=actor.name, target="cli.muse.import", clock=clock),
                session_scope(engine) as session,
            ):
                muse = service.import_card(
                    session,
                    owner_id=owner_id,
                    data=data,
                    filename=args.card.name,
                    now=clock.now(),
                    as_copy=args.as_copy,
                )
            out.write(f"imported muse #{muse.id} {muse.name!r} for {args.owner}\n")
        else:
            with session_scope(engine) as session:
                card = service.export_card(session, owner_id=owner_id, muse_id=args.muse_id)
            out.write(cards.export_json(card).decode() + "\n")
    except CoreError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    finally:
        engine.dispose()
    return 0
