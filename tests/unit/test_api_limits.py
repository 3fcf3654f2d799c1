"""The per-token rate limiter: bursts up to the rate, then one request per 60/rate seconds."""

from api.limits import RateLimiter


def test_a_burst_up_to_the_rate_then_a_wait_that_refills():
    limiter = RateLimiter(per_minute=60)
    assert [limiter.take(1, now=0.0) for _ in range(60)] == [None] * 60
    wait = limiter.take(1, now=0.0)
    assert wait is not None and 0.99 < wait <= 1.0
    assert limiter.take(1, now=1.0) is None
    assert limiter.take(1, now=1.0) is not None


def test_tokens_are_limited_separately():
    limiter = RateLimiter(per_minute=1)
    assert limiter.take(1, now=0.0) is None
    assert limiter.take(1, now=0.0) is not None
    assert limiter.take(2, now=0.0) is None
