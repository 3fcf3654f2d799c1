"""Test support shared by tests/ and bench/: simulators on loopback, the pool harness, our
processes, and row factories. Never imported by the application."""
