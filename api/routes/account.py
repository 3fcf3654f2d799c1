"""The token owner's account: balance and credit history."""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import Reader, Svc
from api.schemas import MAX_ID, AccountOut, LedgerLineOut
from core.accounts import ledger
from core.db import read_scope

router = APIRouter(prefix="/v1/account", tags=["account"])


@router.get("")
def get_account(who: Reader, svc: Svc) -> AccountOut:
    """The account the token acts for, with its credit balance."""
    with read_scope(svc.engine) as session:
        balance = ledger.balance(session, who.user.id or 0)
    return AccountOut(
        username=who.user.username,
        display_name=who.user.display_name,
        role=who.user.role.value,
        balance=balance,
        scopes=sorted(scope.value for scope in who.scopes),
    )


@router.get("/ledger")
def get_ledger(
    who: Reader,
    svc: Svc,
    limit: int = Query(50, ge=1, le=200),
    before_id: int | None = Query(None, ge=1, le=MAX_ID),
) -> list[LedgerLineOut]:
    """Credit history, newest first; page with `before_id` (the last id of a page)."""
    with read_scope(svc.engine) as session:
        entries = ledger.history(
            session, user_id=who.user.id or 0, limit=limit, before_id=before_id
        )
    return [LedgerLineOut.of(entry) for entry in entries]
