"""Accounts: passwords, users, revocable sessions and the credit ledger."""
