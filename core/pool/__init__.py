"""The GPU warm pool: provider protocol, pure policy, reconcile loop, leases, costs."""
