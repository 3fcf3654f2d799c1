"""The gallery: content-addressed media store, safe image ingestion, queries and moderation."""
