"""Time series count an event in the second it happens: under a binding account throttle, the
deliveries of no second exceed the throttle's rate plus its burst, no second of saturation
shows zero, and the series adds up to the deliveries counted."""

import simulator as sim
from tests.conftest import small


def test_deliveries_per_second_respect_the_throttle_they_are_bound_by():
    res = sim.run(small("livestream-basic", duration_s=90.0, warmup_s=10.0,
                        **{"workload.clients": 8000}))   # 16,000 posts/s of demand
    ts = res.timeseries["deliveries_per_s"]
    rate = res.params["api_gateway.account_throttle_rps"]
    burst = res.params["api_gateway.account_throttle_burst"]
    assert res.summary["apigw_throttled_requests"] > 0           # the throttle binds
    assert ts.max() <= rate + burst
    assert (ts.loc[5.0:85.0] > 0).all()                          # no silent second
    # every delivery is in the series once, but for the run's last second (it has no sample)
    # and the posts completing after the end: at most one more second's worth
    missing = res.summary["deliveries_succeeded"] - ts.sum()
    assert 0 <= missing <= rate + burst
