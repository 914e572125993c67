"""Building blocks with exact, testable semantics: token buckets, concurrency pools,
distributions."""

from simulator.primitives.concurrency_pool import ConcurrencyPool
from simulator.primitives.distributions import Distribution, make_distribution
from simulator.primitives.token_bucket import TokenBucket

__all__ = ["ConcurrencyPool", "Distribution", "TokenBucket", "make_distribution"]
