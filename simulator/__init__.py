"""Capacity planning for serverless WebSocket architectures (API Gateway WebSockets +
Lambda + DynamoDB, and the designs that replace its fan-out), by discrete-event simulation.

>>> import simulator as sim
>>> scn = sim.load_scenario("data/scenarios/chat-basic.yaml", overrides={"workload.clients": 2000})
>>> res = sim.run(scn)
>>> res.summary["latency_p99_ms"], res.breaches, res.timeseries
>>> cmp = sim.compare(scn, ["basic", "sns", "sqs", "appsync", "managed"], replications=3)
>>> cmp.table, cmp.cdf()
>>> print(res.verdict())          # what broke first, what binds, headroom, what to change
>>> sim.sensitivity(scn, metric="latency_p99_ms")   # which assumptions move p99 most
>>> sim.sweep(scn, {"workload.clients": [1000, 10000]}, replications=3, out="runs/clients")
>>> sim.load_sweep("runs/clients")   # the stored runs (a rerun of the sweep resumes there)
>>> sim.capacity(scn, load="workload.clients", slo={"latency_p99_ms": 250, "breaches": 0},
...              variants=["basic", "sns"]).table   # how far each design goes
>>> sim.report(cmp, "reports/review.html")          # the design-review document
"""

from simulator._startup import hold_ctrl_c, release_ctrl_c

_held = hold_ctrl_c()
try:
    from simulator.calibrate import Calibration, calibrate
    from simulator.capacity import Capacity, capacity
    from simulator.catalog import load_catalog
    from simulator.compare import Comparison, compare, compare_sweep, crossovers, feature_impact
    from simulator.costs import price
    from simulator.designs import Design, lhs, random_design
    from simulator.engine import run
    from simulator.errors import Interrupted, ScenarioError
    from simulator.metrics.result import SUMMARY_KEYS, Result
    from simulator.review import report
    from simulator.scenario import Params, Scenario, load_scenario, resolve, scenario_from_dict
    from simulator.sensitivity import sensitivity
    from simulator.sweeps import load_sweep, summarize, sweep
    from simulator.workload.geography import geography_frame, regional_quotas
finally:
    release_ctrl_c(_held)

__all__ = [
    "SUMMARY_KEYS",
    "Calibration",
    "Capacity",
    "Comparison",
    "Design",
    "Interrupted",
    "Params",
    "Result",
    "Scenario",
    "ScenarioError",
    "calibrate",
    "capacity",
    "compare",
    "compare_sweep",
    "crossovers",
    "feature_impact",
    "geography_frame",
    "lhs",
    "load_catalog",
    "load_scenario",
    "load_sweep",
    "price",
    "random_design",
    "regional_quotas",
    "report",
    "resolve",
    "run",
    "scenario_from_dict",
    "sensitivity",
    "summarize",
    "sweep",
]
__version__ = "0.1.0"
