"""Muses: detailed profiles of fictional adult characters, composed into prompts."""
