"""Capacity planning for serverless WebSocket architectures (API Gateway WebSockets +
Lambda + DynamoDB), by discrete-event simulation.

>>> import simulator as sim
>>> scn = sim.load_scenario("data/scenarios/chat-basic.yaml", overrides={"workload.clients": 2000})
>>> res = sim.run(scn)
>>> res.summary["latency_p99_ms"], res.breaches, res.timeseries
"""

from simulator.catalog import load_catalog
from simulator.costs import price
from simulator.engine import run
from simulator.errors import ScenarioError
from simulator.metrics.result import SUMMARY_KEYS, Result
from simulator.scenario import Params, Scenario, load_scenario, resolve, scenario_from_dict
from simulator.sweeps import summarize, sweep

__all__ = [
    "SUMMARY_KEYS",
    "Params",
    "Result",
    "Scenario",
    "ScenarioError",
    "load_catalog",
    "load_scenario",
    "price",
    "resolve",
    "run",
    "scenario_from_dict",
    "summarize",
    "sweep",
]
__version__ = "0.1.0"
