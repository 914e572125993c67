"""Building blocks with exact, testable semantics: token buckets, distributions, cheap events."""

from simulator.primitives.distributions import Distribution, make_distribution
from simulator.primitives.token_bucket import TokenBucket

__all__ = ["Distribution", "TokenBucket", "make_distribution"]
