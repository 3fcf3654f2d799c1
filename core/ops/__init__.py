"""Operations: backups, retention, metrics, and the audit log as the admin page reads it."""
