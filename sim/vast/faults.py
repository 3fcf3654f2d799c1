"""The simulated Vast API's fault switches: misbehaviour Vast or the network really showed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Faults:
    """Switchable misbehaviour, each as Vast or the network really showed it."""

    rate_limit_p: float = 0.0
    """Probability that a call answers 429 (in one of the three body shapes Vast uses)."""
    retry_after_s: float | None = None
    server_error_p: float = 0.0
    """Probability that a call answers 502/503/504."""
    list_outage: bool = False
    """The v1 list answers 500."""
    list_lag_s: float = 0.0
    """A new instance is absent from the list this long after its creation."""
    create_then_fail: str | None = None
    """`"502"`: create the instance, then answer 502. `"hang"`: create it, then stall."""
    hang_s: float = 5.0
    destroy_fail_times: int = 0
    """The next N destroys answer 500 and do nothing."""
    destroy_linger_s: float = 0.0
    """A destroy answers success, but the instance stays listed (running) this long."""
    stuck_loading: bool = False
    """New instances never leave `loading`."""
    offer_vanish_p: float = 0.0
    """Probability that an offer found by search is rented by someone else before our create."""
    latency_s: float = 0.0
    """Added to every API response."""
    search_quota_exceeded: bool = False
    """Searches answer 429 `search_quota_exceeded` (Vast's daily quota; resets at midnight)."""
    min_intervals: bool = False
    """Vast's per-endpoint, per-identity minimum intervals (`sim.vast.limits`): a call sooner
    than its endpoint allows answers 429, as the real API does."""
