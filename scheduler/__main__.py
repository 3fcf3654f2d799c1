"""`python -m scheduler`: the scheduler process (the same as the `aikings-scheduler` script);
`python -m scheduler worker`: a worker process (the same as `aikings-worker`)."""

import sys

if sys.argv[1:] == ["worker"]:
    from scheduler.worker import main
elif sys.argv[1:]:
    raise SystemExit("usage: python -m scheduler [worker]")
else:
    from scheduler.main import main

main()
