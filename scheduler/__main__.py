"""`python -m scheduler`: the scheduler process (the same as the `aikings-scheduler` script)."""

from scheduler.main import main

main()
