"""`python -m api`: serve the HTTP API (the same as the `aikings-api` script)."""

from api.main import main

main()
