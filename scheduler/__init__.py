"""The scheduler process: pool reconcile, job dispatch, daily maintenance; one leader."""
