"""Validation: the model's components against queueing theory, AWS's published pricing examples
and published latency measurements, as tables a design reviewer can read row by row.

Every check runs the code the model runs, not a re-implementation:

* Lambda concurrency (:class:`simulator.aws.lambda_.LambdaService`) is a loss system, so its
  throttled share under Poisson arrivals is Erlang-B;
* the fan-out post pool (:class:`simulator.architectures.fanout.Fanout`, fast path) serves a
  fan-out of ``n`` posts with ``P`` calls in flight: with exponential call times that is ``P``
  exponential servers clearing ``n`` jobs present at time 0, whose makespan and mean sojourn
  have closed forms. The model has no steady-state M/M/c queue: Lambda refuses rather than
  queues, and the post pool only ever holds one fan-out's batch;
* a WebSocket server task of the ``containers`` design (:class:`simulator.architectures.fleet.Fleet`,
  run whole through ``sim.run``) is a FIFO CPU: with Poisson messages and exponential work to
  read each, the mean wait is M/M/1's ``rho / (mu - lambda)``;
* idle expiry of Lambda environments: with short invocations a request is cold iff the gap
  since the previous one exceeds the idle lifetime, ``P = exp(-lambda * tau)``;
* the token bucket (:class:`simulator.primitives.token_bucket.TokenBucket`, the account
  throttle's parameters from the catalog): burst at one instant, grants over a window under
  overload, and no refusals under light load;
* ``sim.price`` on AWS's worked examples (``data/validation/pricing_examples.yaml``);
* the distributions the model builds from the latency defaults against the measurements they
  come from (``data/validation/latency_measurements.yaml``).

Each function returns a DataFrame with :data:`COLUMNS`; :func:`validation_table` stacks them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from simulator.catalog import check_sourced, default_data_dir
from simulator.errors import ScenarioError

COLUMNS = ["group", "check", "compared", "expected", "simulated", "error_abs", "error_rel",
           "tolerance", "unit", "source", "passed"]

#: two-sided level of the theory checks: the normal's 3 standard errors (a false "fail" in
#: about one row in 370); with few replications the Student-t critical value at this level
LEVEL = 0.9973
ERLANG_B = "Erlang-B, M/M/c/c blocking (stable recursion B_k = a B_{k-1} / (k + a B_{k-1}))"
BATCH_POOL = ("n jobs present at time 0 on P exponential servers (rate mu): E[makespan] = "
              "(n - P)/(P mu) + H_P/mu; mean sojourn 1/mu + (n - P)(n - P + 1)/(2 n P mu)")
IDLE_EXPIRY = ("Poisson gaps, an idle lifetime L drawn each idle period: "
               "P(gap > L) = E[exp(-lambda L)] (exp(-lambda tau) for a fixed L = tau)")
HALF_CENT = 0.005  # not a catalog value: a price matches when it rounds to the same cent
BUCKET = "token bucket closed form: grants in [0, T] <= capacity + rate T"
MM1 = "M/M/1 (Poisson arrivals at rate lambda, exponential work of mean 1/mu): Wq = rho / (mu - lambda)"

#: sizes: ``small`` for tests and notebooks, ``readme`` for the README's Trust tables
SIZES: dict[str, dict[str, Any]] = {
    "small": {"replications": 6, "arrivals": 10_000, "arrivals_c1000": 30_000,  # not a catalog value
              "fanouts": 200, "cold_arrivals": 5_000,  # not a catalog value
              "bucket_window_s": 4.0, "task_s": 200.0, "task_reps": 3},  # not a catalog value
    "readme": {"replications": 8, "arrivals": 40_000,  # not a catalog value
               "arrivals_c1000": 100_000, "fanouts": 1_000,  # not a catalog value
               "cold_arrivals": 20_000, "bucket_window_s": 20.0,  # not a catalog value
               "task_s": 400.0, "task_reps": 5},  # not a catalog value
}


def _row(group, check, compared, expected, simulated, tolerance, unit, source, passed=None):
    err = simulated - expected
    rel = err / expected if expected else math.nan
    ok = abs(err) <= tolerance if passed is None else passed
    return {"group": group, "check": check, "compared": compared, "expected": float(expected),
            "simulated": float(simulated), "error_abs": float(err), "error_rel": float(rel),
            "tolerance": float(tolerance), "unit": unit, "source": source, "passed": bool(ok)}


def _mean_se(values) -> tuple[float, float, float]:
    """Mean, standard error and the critical multiple of the standard error for replications.

    Notes
    -----
    The tolerance is ``t_{(1+LEVEL)/2, n-1} * SE``: the standard error is itself estimated
    from ``n`` replications, so the Student-t quantile, not 3, keeps the false-fail rate at
    ``1 - LEVEL`` per row.
    """
    from scipy.stats import t as student

    v = np.asarray(values, dtype=float)
    n = len(v)
    if n < 2:
        raise ValueError(f"replications = {n}: need at least 2 for a standard error")
    crit = float(student.ppf((1.0 + LEVEL) / 2.0, n - 1))
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(n)), crit


def _base_params(overrides: dict | None = None):
    """The model's resolved parameters for the bundled ``chat-basic`` scenario."""
    from simulator.scenario import load_scenario, resolve

    scn = load_scenario(default_data_dir() / "scenarios" / "chat-basic.yaml",
                        overrides=overrides or {})
    return scn, resolve(scn)


# -- Lambda concurrency against Erlang-B --------------------------------------------------------
def erlang_b(c: int, a: float) -> float:
    """Blocking probability of M/M/c/c at ``a`` Erlangs.

    Notes
    -----
    Erlang's B formula by its numerically stable recursion (Erlang 1917; e.g. Kleinrock,
    *Queueing Systems* vol. 1, 1975, eq. 3.46).
    """
    b = 1.0
    for k in range(1, int(c) + 1):
        b = a * b / (k + a * b)
    return b


def lambda_function(c: int, seed: int = 0):
    """One function on a Lambda service with ``c`` concurrent executions, the scaling bucket
    and the invocation-rate quota opened wide so that only concurrency binds (idle lifetimes
    from the catalog, on stream ``seed``)."""
    from simulator.aws.lambda_ import LambdaService
    from simulator.metrics.recorder import Recorder
    from simulator.rng import Streams

    scn, params = _base_params({"aws.lambda.account_concurrency": c,
                                "aws.lambda.scaling_envs_per_s": 1e9,
                                "aws.lambda.scaling_burst_envs": 1e9,
                                "aws.lambda.invocation_rps_per_concurrency": 1e9})
    life = params["behaviour.lambda_idle_env_lifetime_s"]
    draw = Streams(seed).buffered("lambda.idle_lifetime", life) if hasattr(life, "sample") else None
    svc = LambdaService(params, Recorder(), scn.region, draw)
    return svc.function("default", scn.aws.lambda_.functions.default, lambda: 0.0, lambda: 0.0,
                        scn.aws.lambda_.functions.default.timeout_s)


def lambda_throttled_share(c: int, a: float, n: int, seed: int) -> float:
    """Poisson arrivals at ``a`` Erlangs (mean invocation 1 s) on ``c`` executions: the share
    the model throttles, after a warm-up of a tenth of the arrivals."""
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.exponential(1.0 / a, n)).tolist()
    s = rng.exponential(1.0, n).tolist()
    f = lambda_function(c, seed)
    warm = n // 10
    refused = 0
    for k in range(n):
        if f.invoke(t[k]):
            f.finish(t[k], t[k] + s[k])
        elif k >= warm:
            refused += 1
    return refused / (n - warm)


#: (concurrency c, offered Erlangs a) of the Erlang-B checks; c = 1000 is the account default
BLOCKING_CASES = ((10, 5.0), (10, 8.0), (10, 12.0),  # not a catalog value
                  (100, 90.0), (1000, 1000.0))  # not a catalog value


def lambda_blocking(cases=BLOCKING_CASES, size: str = "small", seed: int = 0) -> pd.DataFrame:
    """Lambda's throttled share against Erlang-B: one row per (concurrency c, Erlangs a)."""
    z = SIZES[size]
    rows = []
    for c, a in cases:
        n = z["arrivals_c1000"] if c >= 1000 else z["arrivals"]  # not a catalog value
        reps = [lambda_throttled_share(c, a, n, seed + r) for r in range(z["replications"])]
        mean, se, crit = _mean_se(reps)
        rows.append(_row("Lambda concurrency vs Erlang-B", f"c = {c}, {a:g} Erlangs",
                         "throttled share of synchronous invocations (Poisson arrivals, "
                         "exponential durations)", erlang_b(c, a), mean, crit * se + 2e-4,
                         "share", ERLANG_B) | {"se": se, "c": c, "erlangs": a})
    return pd.DataFrame(rows)


def erlang_b_curve(c: int, loads) -> pd.DataFrame:
    """Erlang-B blocking for ``c`` servers at each offered load (Erlangs), for plotting."""
    return pd.DataFrame({"c": c, "erlangs": list(loads),
                         "blocking": [erlang_b(c, a) for a in loads]})


# -- the fan-out post pool against the batch-clearing M/M/c -----------------------------------
def harmonic(n: int) -> float:
    return sum(1.0 / k for k in range(1, n + 1))


def _fanout_engine(pool: int, mean_post_s: float, seed: int):
    import simpy

    from simulator.architectures.fanout import Fanout
    from simulator.aws.api_gateway import AccountThrottle
    from simulator.aws.sdk import RetryPolicy
    from simulator.metrics.histogram import LogHistogram
    from simulator.metrics.recorder import Recorder
    from simulator.primitives.distributions import Exponential, Fixed
    from simulator.primitives.token_bucket import TokenBucket

    rec = Recorder()
    wide = TokenBucket(1e12, 1e12)   # the account throttle never binds: the fast path
    return Fanout(simpy.Environment(), AccountThrottle(wide, "r", rec.breaches),
                  Exponential(mean_post_s), Fixed(0.0),
                  RetryPolicy(3, 0.5, 20, 500, 5, 1),  # not a catalog value: never retries here
                  pool, LogHistogram(), np.random.default_rng(seed),
                  0.01, 10**9, 256,  # not a catalog value: tick, no sub-sampling
                  lambda ctx, res: None, rec, "r")


def fanout_pool(cases=((40, 10), (200, 10), (1000, 50)),
                mean_post_s: float = 0.02,  # not a catalog value: a theory input
                size: str = "small", seed: int = 0) -> pd.DataFrame:
    """The post pool's makespan and mean delivery latency against the batch-clearing M/M/c.

    Each replication is one engine running ``fanouts`` independent fan-outs of ``n`` posts,
    spaced far apart (each sees an idle pool)."""
    z = SIZES[size]
    mu = 1.0 / mean_post_s
    rows = []
    for n, pool in cases:
        spans, means = [], []
        for r in range(z["replications"]):
            f = _fanout_engine(pool, mean_post_s, seed + r)
            for k in range(z["fanouts"]):
                t = 1000.0 * k   # not a catalog value: far apart
                deadline = t + 900.0  # not a catalog value: no Lambda timeout cuts it
                res = f.start(t, t, n, 0, 0, deadline, True, None)
                spans.append(res.end - t)
            f.flush()
            means.append(f.hist.mean)
        span, span_se, span_crit = _mean_se(spans)
        lat, lat_se, lat_crit = _mean_se(means)
        want_span = (n - pool) / (pool * mu) + harmonic(pool) / mu if n > pool \
            else harmonic(n) / mu
        want_lat = 1.0 / mu + max(n - pool, 0) * (n - pool + 1) / (2.0 * n * pool * mu)
        label = f"n = {n} posts, P = {pool} in flight"
        common = {"se": 0.0, "c": pool, "erlangs": math.nan}
        rows.append(_row("Fan-out post pool vs M/M/c clearing a batch", f"{label}: makespan",
                         "time from the fan-out's start to its last post's response "
                         f"(exponential calls, mean {mean_post_s * 1e3:g} ms)",
                         want_span * 1e3, span * 1e3, span_crit * span_se * 1e3, "ms", BATCH_POOL)
                    | common | {"se": span_se * 1e3})
        rows.append(_row("Fan-out post pool vs M/M/c clearing a batch",
                         f"{label}: mean delivery", "mean time from the fan-out's start to a "
                         "post's response (wait for a call slot + call)", want_lat * 1e3,
                         lat * 1e3,
                         lat_crit * lat_se * 1e3 + 0.01 * want_lat * 1e3,  # not a catalog value
                         "ms",
                         BATCH_POOL + "; histogram relative error <= 1%")
                    | common | {"se": lat_se * 1e3})
    return pd.DataFrame(rows)


# -- a server task against M/M/1 --------------------------------------------------------------
def server_task(loads=(0.5, 0.8), mean_work_s: float = 0.010,  # not a catalog value: theory inputs
                size: str = "small", seed: int = 0) -> pd.DataFrame:
    """A ``containers`` run with one task whose only CPU work is reading each published message
    (exponential, mean ``mean_work_s``), at utilisation ``rho``: the mean wait of those jobs
    against M/M/1. The zero-work fan-out jobs that re-enter the queue add no work."""
    import simulator as sim

    z = SIZES[size]
    mu = 1.0 / mean_work_s
    clients = 500  # not a catalog value: a theory input (the population publishing)
    base = sim.load_scenario(default_data_dir() / "scenarios" / "chat-basic.yaml")
    rows = []
    for rho in loads:
        lam = rho * mu
        waits = []
        for r in range(z["task_reps"]):
            scn = base.with_overrides({
                "architecture": "containers", "seed": seed + r, "duration_s": z["task_s"],
                "warmup_s": 0.0, "workload.clients": clients,
                "workload.session_s": {"kind": "fixed", "value": 1.0e7},
                "workload.publish.rate_per_client_per_s": lam / clients,
                "containers.tasks": {"initial": 1, "min": 1, "max": 1},
                "containers.autoscaling.enabled": False,
                "catalog.containers.cpu_per_publish_s": {"kind": "exponential",
                                                         "mean": mean_work_s},
                "catalog.containers.cpu_per_backplane_message_s": 0.0,
                "catalog.containers.cpu_per_delivery_s": 0.0,
                "catalog.containers.cpu_per_connect_s": 0.0,
                "catalog.containers.cpu_idle_per_connection": 0.0})
            s = sim.run(scn, progress=False).summary
            waits.append(s["containers_task_wait_mean_ms.publish"])
        w, se, crit = _mean_se(waits)
        want = 1e3 * rho / (mu - lam)
        rows.append(_row("Server task vs M/M/1", f"rho = {rho:g}: mean wait",
                         "mean wait of a message at its task before its CPU reads it "
                         f"(exponential work, mean {mean_work_s * 1e3:g} ms, "
                         f"{lam:g} messages/s)", want, w, crit * se, "ms", MM1)
                    | {"se": se, "c": 1, "erlangs": rho})
    return pd.DataFrame(rows)


# -- cold starts against idle expiry -----------------------------------------------------------
def cold_starts(gaps_per_lifetime=(0.5, 1.0, 2.0), size: str = "small",
                seed: int = 0) -> pd.DataFrame:
    """The cold-start share of short invocations arriving at rate lambda, with the catalog's
    idle lifetime L (a distribution, drawn afresh each idle period), against
    ``E[exp(-lambda L)]``: one row per ``lambda E[L]``."""
    from simulator.aws.lambda_ import LambdaService
    from simulator.metrics.recorder import Recorder
    from simulator.primitives.distributions import Fixed
    from simulator.rng import BufferedDraws

    z = SIZES[size]
    scn, params = _base_params({"aws.lambda.scaling_envs_per_s": 1e9,
                                "aws.lambda.scaling_burst_envs": 1e9})
    life = params["behaviour.lambda_idle_env_lifetime_s"]
    if not hasattr(life, "sample"):
        life = Fixed(float(life))
    mean_life = float(life.mean)
    # E[exp(-lambda L)] by the midpoint rule over L's quantile function (exact for a fixed L)
    u = (np.arange(20_000) + 0.5) / 20_000  # not a catalog value: integration points
    lq = np.array([life.quantile(x) for x in u])
    fcfg = scn.aws.lambda_.functions.default
    rows = []
    for x in gaps_per_lifetime:
        lam = x / mean_life
        n = int(z["cold_arrivals"])
        fracs = []
        for r in range(int(z["replications"])):
            rng = np.random.default_rng(seed + r)
            t = np.cumsum(rng.exponential(1.0 / lam, n)).tolist()
            draw = BufferedDraws(np.random.default_rng(seed + 1000 + r), life)
            f = LambdaService(params, Recorder(), scn.region, draw).function(
                "default", fcfg, lambda: 0.0, lambda: 0.0, fcfg.timeout_s)
            colds = 0
            for tk in t:
                colds += f.invoke(tk) == 2
                f.finish(tk, tk + 1e-6)   # not a catalog value: a negligible invocation
            fracs.append((colds - 1) / (n - 1))    # the first request is always cold
        mean, se, crit = _mean_se(fracs)
        expected = float(np.exp(-lam * lq).mean())
        rows.append(_row("Cold starts vs idle expiry",
                         f"lambda E[L] = {x:g} (L: {_dist_text(life)})",
                         "share of invocations that start a new environment (Poisson arrivals, "
                         "short invocations)", expected, mean, crit * se + 1e-3, "share",
                         IDLE_EXPIRY) | {"se": se, "c": 1, "erlangs": math.nan})
    return pd.DataFrame(rows)


def _dist_text(d) -> str:
    """``uniform 300-600 s``, ``600 s``: an idle-lifetime distribution in words."""
    from simulator.primitives.distributions import Fixed, Uniform

    if isinstance(d, Fixed):
        return f"{d.value:g} s"
    if isinstance(d, Uniform):
        return f"uniform {d.low:g}-{d.high:g} s"
    return f"{type(d).__name__.lower()}, mean {d.mean:g} s"


# -- token bucket against its closed forms -----------------------------------------------------
def token_bucket(size: str = "small", seed: int = 0) -> pd.DataFrame:
    """API Gateway's account throttle parameters (catalog) in the model's token bucket:
    burst at one instant, grants under a 3x overload, the long-run rate, and a light load."""
    from simulator.primitives.token_bucket import TokenBucket

    _, params = _base_params()
    rate = float(params["api_gateway.account_throttle_rps"])
    burst = float(params["api_gateway.account_throttle_burst"])
    T = SIZES[size]["bucket_window_s"]
    g = "Token bucket vs closed form"
    src = f"{BUCKET} (rate {rate:,.0f}/s, burst {burst:,.0f}: api_gateway.account_throttle_*)"
    rows = []

    b = TokenBucket(rate, burst)
    got = sum(b.try_take(1.0) for _ in range(int(2 * burst)))
    rows.append(_row(g, "burst at one instant", f"grants of {int(2 * burst):,} requests at "
                     "the same instant to a full bucket", burst, got, 0.0, "requests", src))

    rng = np.random.default_rng(seed)
    for load in (3.0, 0.5):
        ts = np.sort(rng.uniform(0.0, T, rng.poisson(load * rate * T))).tolist()
        b = TokenBucket(rate, burst)
        granted = [t for t in ts if b.try_take(t)]
        if load > 1:
            rows.append(_row(g, f"{load:g}x overload, {T:g} s", "requests granted in the "
                             "window (Poisson arrivals)", burst + rate * T, len(granted), 1.0,
                             "requests", src))
            late = sum(1 for t in granted if t >= T / 2)
            rows.append(_row(g, f"{load:g}x overload, long-run rate", "grants per second in "
                             "the window's second half", rate, late / (T / 2),
                             2.0 / T, "requests/s", src + "; long-run rate = rate"))
        else:
            rows.append(_row(g, f"{load:g}x the rate, {T:g} s", "requests granted (the burst "
                             "absorbs Poisson clusters)", len(ts), len(granted), 0.0,
                             "requests", src))
    for r in rows:
        r.update({"se": 0.0, "c": math.nan, "erlangs": math.nan})
    return pd.DataFrame(rows)


# -- AWS's pricing examples ---------------------------------------------------------------------
def _load(name: str, key: str, data_dir) -> dict:
    path = Path(data_dir or default_data_dir()) / "validation" / name
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ScenarioError(f"validation/{name}", None, f"cannot read: {err}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get(key), dict):
        raise ScenarioError(f"validation/{name}", None, f"needs a '{key}' mapping")
    for k, e in doc[key].items():
        check_sourced(e, f"validation/{name}:{k}")
    return doc


def pricing_examples(data_dir: str | Path | None = None) -> pd.DataFrame:
    """AWS's worked pricing examples recomputed by ``sim.price``: one row per published line
    and total. Each line is rounded to the cent and the total is the sum of the rounded lines,
    as the examples do; a row passes when it matches to the cent."""
    from simulator.costs import price

    doc = _load("pricing_examples.yaml", "examples", data_dir)
    region = doc["meta"]["region"]
    rows = []
    for name, ex in doc["examples"].items():
        for item, q in ex["usage"].items():
            if not isinstance(q, (int, float)) or q < 0:
                raise ScenarioError(f"validation/pricing_examples.yaml:{name}.usage.{item}", q,
                                    "must be a number >= 0")
        df = price(dict(ex["usage"]), region, free_tier=bool(ex["free_tier"]),
                   data_dir=data_dir)
        lines = {item: round(float(df.loc[df["item"] == item, "cost_usd"].sum()) + 1e-9, 2)
                 for item in ex["usage"]}
        for item, want in ex["published_usd"].items():
            if item == "total":
                got = round(sum(lines.values()), 2)
            elif item in lines:
                got = lines[item]
            else:
                raise ScenarioError(f"validation/pricing_examples.yaml:{name}.published_usd",
                                    item, "names an item that is not in the example's usage")
            rows.append(_row("AWS pricing examples", f"{ex['title']}: {item}",
                             f"{'total' if item == 'total' else item} (USD, "
                             f"{'free tier' if ex['free_tier'] else 'no free tier'})",
                             float(want), got, HALF_CENT, "USD",
                             f"{ex['source'].strip()} [{ex['confidence']}, {ex['as_of']}]")
                        | {"se": 0.0, "c": math.nan, "erlangs": math.nan, "example": name})
    return pd.DataFrame(rows)


# -- latency defaults against published measurements -----------------------------------------
def latency_defaults(data_dir: str | Path | None = None) -> pd.DataFrame:
    """The distribution the model builds from each catalog latency default, against the
    published measurements in ``data/validation/latency_measurements.yaml``."""
    doc = _load("latency_measurements.yaml", "measurements", data_dir)
    _, params = _base_params()
    rows = []
    for name, m in doc["measurements"].items():
        where = f"validation/latency_measurements.yaml:{name}"
        dist = params[f"latency.{m['latency']}"]
        stat = str(m["statistic"])
        if stat == "mean":
            got = dist.mean * 1e3
        elif stat.startswith("p") and stat[1:].isdigit() and 0 < int(stat[1:]) < 100:
            got = dist.quantile(int(stat[1:]) / 100.0) * 1e3
        else:
            raise ScenarioError(f"{where}.statistic", stat, "must be 'mean' or p1..p99")
        pub = m["published_ms"]
        basis = m["basis"]
        compared = f"latency.{m['latency']}: {stat} ({basis.replace('_', ' ')})"
        src = f"{m['source'].strip()} [{m['confidence']}, {m['as_of']}]"
        if basis == "range":
            lo, hi = (float(pub[0]), float(pub[1])) if isinstance(pub, list) else (None, None)
            if lo is None or hi is None or not lo < hi:
                raise ScenarioError(f"{where}.published_ms", pub, "a range is [low, high]")
            # the error is the distance outside the range (0 inside), relative to its bound
            bound = lo if got < lo else hi if got > hi else got
            r = _row("Latency defaults vs measurements", name, compared, bound, got, 0.0, "ms",
                     src)
            r["expected_text"] = f"{lo:g}-{hi:g}"
        elif basis in ("fitted", "not_fitted"):
            want = float(pub)
            r = _row("Latency defaults vs measurements", name, compared, want, got,
                     float(m["tolerance_rel"]) * want, "ms", src)
            r["expected_text"] = f"{want:g}"
        else:
            raise ScenarioError(f"{where}.basis", basis, "must be fitted, not_fitted or range")
        rows.append(r | {"se": 0.0, "c": math.nan, "erlangs": math.nan})
    return pd.DataFrame(rows)


# -- everything ---------------------------------------------------------------------------------
def validation_table(size: str = "small", seed: int = 0,
                     data_dir: str | Path | None = None) -> pd.DataFrame:
    """Every check, one row each (:data:`COLUMNS` plus ``se``), in the order of the module's
    docstring. ``size``: ``small`` (seconds) or ``readme`` (the README's Trust tables)."""
    if size not in SIZES:
        raise ScenarioError("size", size, f"must be one of {sorted(SIZES)}")
    parts = [lambda_blocking(size=size, seed=seed), fanout_pool(size=size, seed=seed),
             server_task(size=size, seed=seed), cold_starts(size=size, seed=seed), token_bucket(size=size, seed=seed),
             pricing_examples(data_dir), latency_defaults(data_dir)]
    return pd.concat(parts, ignore_index=True)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Checks and passes per group."""
    return (table.groupby("group", sort=False)["passed"]
            .agg(checks="size", passed="sum").reset_index())
