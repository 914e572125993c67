"""Every catalog entry is read by the model: a run of every bundled scenario on every design
(small), plus the settings no bundled scenario uses (WebSocket pings, provisioned capacity,
FIFO reuse), reads every quota, latency and behaviour; an entry nothing reads is a defect."""

import simulator as sim
from simulator.scenario import Params
from tests.conftest import SCENARIOS

DESIGNS = ("basic", "sns", "sqs", "appsync", "managed", "containers")
EXTRA = (   # settings that read entries only they use
    {"workload.heartbeat": {"kind": "ws_ping", "interval_s": 30, "timeout_s": 10}},
    {"aws.dynamodb.capacity": {"mode": "provisioned", "read_units_per_s": 500,
                               "write_units_per_s": 200}},
    {"aws.lambda.env_reuse": "least_recent"},
    {"features.fallback": {}},   # the catalog's share of clients that poll
)
CONTAINER_EXTRA = (   # the container design's other load balancer, listener, task and node types
    {"containers.load_balancer": {"kind": "alb"}, "containers.task.architecture": "arm64",
     "containers.backplane.node_type": "m7g_xlarge"},
    {"containers.load_balancer": {"kind": "nlb", "listener": "tcp"},
     "features.fallback": {"share": 0.05}},   # the tasks' CPU per poll
)


def _tiny(scn, design, extra=None):
    o = {"duration_s": 12.0, "warmup_s": 2.0, "architecture": design,
         "workload.clients": min(scn.workload.clients, 300)}
    if design in ("appsync", "managed", "containers") and scn.app.resume.kind != "none":
        o["app.resume"] = {"kind": "none"}
    if scn.workload.arrivals.profile == "spike":
        o.update({"workload.arrivals.start_s": 4.0, "workload.arrivals.duration_s": 4.0,
                  "workload.arrivals.extra_clients": 600})
    if scn.workload.incidents:
        o["workload.incidents"] = [{**i.model_dump(), "at_s": 6.0} for i in scn.workload.incidents]
        for i in o["workload.incidents"]:
            if i["kind"] == "region_outage":
                i["duration_s"] = 3.0
    return scn.with_overrides({**o, **(extra or {})})


def test_every_catalog_entry_is_read_by_the_model():
    Params.read_keys.clear()
    for path in SCENARIOS:
        scn = sim.load_scenario(path)
        designs = DESIGNS + (("multi_region",) if scn.workload.geography else ())
        for d in designs:
            sim.run(_tiny(scn, d), progress=False)
    base = sim.load_scenario(SCENARIOS[0])
    for extra in EXTRA:
        sim.run(_tiny(base, "basic", extra), progress=False)
    for extra in CONTAINER_EXTRA:
        sim.run(_tiny(base, "containers", extra), progress=False)
    unread = sorted(set(sim.load_catalog().facts) - Params.read_keys)
    assert not unread, f"catalog entries nothing reads (wire them or remove them): {unread}"



def test_reuse_order_is_wired():
    """Least-recently-idle reuse keeps every environment in rotation: more of them stay alive
    than with most-recently-idle reuse, which lets the surplus age out."""
    from tests.conftest import small

    envs = {}
    for reuse in ("most_recent", "least_recent"):
        res = sim.run(small("chat-basic", duration_s=1200.0, warmup_s=60.0,
                            **{"workload.clients": 3000, "aws.lambda.env_reuse": reuse}),
                      progress=False)
        envs[reuse] = res.timeseries["lambda_environments"].iloc[-300:].mean()
    assert envs["least_recent"] > 1.2 * envs["most_recent"]
