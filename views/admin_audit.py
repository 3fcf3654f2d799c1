"""Audit log: filter, page through and export every admin action, refusal and report."""

from __future__ import annotations

import streamlit as st

from core import audit
from core.models import AuditOutcome
from core.ops import audit_view
from ui import db
from ui.auth import require_admin
from ui.widgets import TIME_COLUMN, KeysetPager, date_range

require_admin()

st.title("Audit log")

with db.reading() as session:
    actions = audit_view.distinct_actions(session)

cols = st.columns(4)
actor = cols[0].text_input("Actor", key="a_actor")
action = cols[1].selectbox("Action", ["", *actions], key="a_action")
outcome = cols[2].selectbox("Outcome", ["", *[o.value for o in AuditOutcome]], key="a_outcome")
target = cols[3].text_input("Target contains", key="a_target")
since, until = date_range("Between", key="a_dates")

flt = audit_view.AuditFilter(
    actor=actor or None,
    action=action or None,
    outcome=AuditOutcome(outcome) if outcome else None,
    target=target or None,
    since=since,
    until=until,
)
pager: KeysetPager[int] = KeysetPager(f"a_cursors:{flt}")
with db.reading() as session:
    page = audit_view.page_audit(session, filter=flt, cursor=pager.cursor, limit=50)
    actor_names = audit_view.actor_names(session, [row.actor for row in page.rows])

if page.rows:
    st.dataframe(
        [
            {
                "id": row.id,
                "at": row.at,
                "actor": actor_names[row.actor],
                "key fingerprint": row.actor_fingerprint or "",
                "action": row.action,
                "target": row.target,
                "outcome": str(row.outcome),
                "ip": row.ip,
                "details": row.details,
            }
            for row in page.rows
        ],
        column_config={"at": TIME_COLUMN},
        hide_index=True,
        width="stretch",
    )
    st.download_button(
        "Export this page as CSV",
        audit_view.to_csv(page.rows),
        file_name="audit.csv",
        mime="text/csv",
    )
else:
    st.info("No audit entries match.")

pager.controls(page.next_cursor, key="a", back="← Newer", forward="Older →")

if st.button("Verify the hash chain", key="a_verify"):
    with db.reading() as session:
        report = audit.verify_chain(session)
    if report.ok:
        st.success(f"The chain verifies: {report.checked} entries checked.")
    else:
        st.error(f"Tampering detected at entry {report.broken_at}: {report.reason}")
