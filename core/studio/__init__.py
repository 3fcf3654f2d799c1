"""The studio: turning requests into jobs, running them on the pool, settling their credits."""
