"""Calibration from a team's own CloudWatch exports: fit the model's latency distributions by
maximum likelihood and write them as a scenario overlay whose entries name their source.

Input files (CSV with a header row; times in milliseconds, as CloudWatch reports them):

* **Lambda REPORT lines**, a CloudWatch Logs Insights export (console: *Export results* ->
  *Download table (CSV)*) of the query
  ``filter @type = "REPORT" | fields @timestamp, @duration, @initDuration``.
  Column ``@duration`` (required, one per invocation) is fitted to
  ``aws.lambda.functions.<function>.handler_s``; the non-empty cells of ``@initDuration``
  (cold starts only) to ``aws.lambda.functions.<function>.init_s``. Other columns are
  ignored; a ``@type`` column, when present, must say ``REPORT`` on every row.
* **CloudWatch metric statistics**, one row per period with columns ``Timestamp``,
  ``MetricName``, ``SampleCount`` and ``Average`` (``Unit``, when present, must be
  ``Milliseconds``): the flattened datapoints of ``aws cloudwatch get-metric-statistics
  --statistics SampleCount Average``.

  - DynamoDB ``SuccessfulRequestLatency`` (dimension ``Operation`` GetItem / PutItem /
    DeleteItem) -> ``aws.dynamodb.latency.item_s``; (``Operation`` Query) ->
    ``aws.dynamodb.latency.query_page_s``;
  - API Gateway ``Latency`` and ``IntegrationLatency`` of the same periods ->
    ``aws.api_gateway.latency.route_s``, from the per-period difference (API Gateway's own
    time). WebSocket APIs publish only ``IntegrationLatency`` (the integration's time, which
    the Lambda REPORT lines measure better); ``Latency`` exists for REST and HTTP APIs.

Fits:

* per-request samples (the REPORT lines): closed-form maximum likelihood of each kind the
  schema knows with a continuous density (lognormal, exponential, Pareto, uniform); the kind
  with the lowest AIC is kept. Goodness of fit: the Kolmogorov-Smirnov statistic against the
  samples and the relative error of the fitted p50 and p99 against the empirical ones.
* per-period averages (the metric exports): an average of ``N`` requests is taken as normal
  with the per-request mean and variance / ``N`` (central limit theorem), and the mean and
  variance are fitted by maximum likelihood from the scatter of the averages; the lognormal
  with those two moments is kept unless the exponential (its variance tied to its mean) has
  the lower AIC. Averages identify two moments only, so the shape beyond them (the tail) is
  the lognormal's assumption, and the per-request p50 / p99 cannot be checked against the
  data (reported as missing). KS is computed on the standardized averages against N(0, 1).

Caveats the source strings repeat: a REPORT ``Duration`` includes the time the handler waits
on DynamoDB and PostToConnection, which the model adds separately (a function that makes such
calls is modelled slower than measured by about those calls); ``SuccessfulRequestLatency`` is
DynamoDB's server-side time, without the network hop from Lambda; load that changes the mean
from period to period inflates the fitted variance (a conservative, wider spread).

>>> import simulator as sim
>>> cal = sim.calibrate(lambda_reports={"default": "data/examples/cloudwatch/lambda-default-report.csv"})
>>> cal.table()                        # one row per fitted entry: kind, n, KS, p50 / p99 errors
>>> cal.write("calibration.yaml")      # the overlay: dotted keys -> distributions with 'source'
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from simulator.errors import ScenarioError
from simulator.primitives.distributions import make_distribution, normal_cdf

#: fewest values a fit accepts (per-request samples; periods of a metric export)
MIN_SAMPLES = 20  # not a catalog value
MIN_PERIODS = 3  # not a catalog value
_MS = 1e-3   # CloudWatch reports milliseconds; the model's unit is the second

LOGS_COLUMNS = ("@duration", "@initDuration")
METRIC_COLUMNS = ("Timestamp", "MetricName", "SampleCount", "Average")
DYNAMODB_METRIC = "SuccessfulRequestLatency"


@dataclass
class Fit:
    """One fitted distribution: the overlay key it sets, its spec (seconds) with ``source``,
    the data behind it, and its goodness of fit.

    ``basis`` is ``"samples"`` (per-request values: ``values_s``) or ``"period averages"``
    (``values_s`` the averages, ``counts`` their sample counts). ``ks`` is the
    Kolmogorov-Smirnov statistic (samples: against the fitted CDF; averages: standardized
    against N(0, 1)); ``p50_error`` / ``p99_error`` the fitted quantile over the empirical one,
    minus 1 (None for period averages). ``candidates``: kind -> (log-likelihood, AIC, KS).
    """

    key: str
    spec: dict
    n: int
    basis: str
    values_s: np.ndarray
    ks: float
    p50_error: float | None
    p99_error: float | None
    candidates: dict = field(default_factory=dict)
    counts: np.ndarray | None = None
    moments: tuple[float, float] | None = None   # (mean, variance) of a period-average fit

    @property
    def dist(self):
        return make_distribution(self.spec)

    @property
    def kind(self) -> str:
        return self.spec["kind"]


class Calibration:
    """The fits of one ``calibrate`` call: :meth:`table`, :meth:`overlay`, :meth:`write`."""

    def __init__(self, fits: list[Fit]):
        self.fits = fits

    def __getitem__(self, key: str) -> Fit:
        for f in self.fits:
            if f.key == key:
                return f
        raise KeyError(key)

    def table(self):
        """One row per fitted entry: key, kind, n, basis, fitted p50 / p99 (ms), empirical p50 /
        p99 (ms, samples only), their relative errors, KS and the runner-up kind's AIC gap."""
        import pandas as pd

        rows = []
        for f in self.fits:
            d = f.dist
            emp = (np.quantile(f.values_s, [0.5, 0.99]) * 1000.0 if f.basis == "samples"
                   else (None, None))
            aics = sorted(a for _, a, _ in f.candidates.values())
            rows.append({"key": f.key, "kind": f.kind, "n": f.n, "basis": f.basis,
                         "fit_p50_ms": d.quantile(0.5) * 1000.0,
                         "fit_p99_ms": d.quantile(0.99) * 1000.0,
                         "data_p50_ms": emp[0], "data_p99_ms": emp[1],
                         "p50_error": f.p50_error, "p99_error": f.p99_error, "ks": f.ks,
                         "aic_gap_next": aics[1] - aics[0] if len(aics) > 1 else None})
        return pd.DataFrame(rows)

    def overlay(self) -> dict:
        """Dotted scenario path -> distribution spec (seconds, with ``source``): the form
        ``load_scenario(..., overrides=...)`` and ``--overlay`` take."""
        return {f.key: dict(f.spec) for f in self.fits}

    def write(self, path: str | Path) -> Path:
        """Write :meth:`overlay` as YAML with a header saying how it was made."""
        p = Path(path)
        head = ("# Scenario overlay written by `python -m simulator calibrate` "
                "(simulator.calibrate): fitted\n"
                "# latency distributions in seconds; each entry's 'source' names the file and "
                "the number of samples.\n"
                "# Use: python -m simulator run SCENARIO --overlay THIS_FILE, or\n"
                "#      sim.load_scenario(path, overrides=yaml.safe_load(open(THIS_FILE)))\n")
        p.write_text(head + yaml.safe_dump(self.overlay(), sort_keys=False, width=100))
        return p


def calibrate(lambda_reports: dict[str, str | Path] | None = None,
              dynamodb_item: str | Path | None = None,
              dynamodb_query: str | Path | None = None,
              apigw_latency: str | Path | None = None,
              apigw_integration_latency: str | Path | None = None) -> Calibration:
    """Fit the scenario's latency distributions to CloudWatch exports (see the module
    docstring for the file formats and what each is fitted to).

    Parameters
    ----------
    lambda_reports : dict, optional
        Function name (``default``, ``connect``, ``authorizer``, ...: a key of
        ``aws.lambda.functions``) -> Logs Insights CSV of its REPORT lines.
    dynamodb_item, dynamodb_query : path, optional
        ``SuccessfulRequestLatency`` metric exports of the item calls and of Query.
    apigw_latency, apigw_integration_latency : path, optional
        ``Latency`` and ``IntegrationLatency`` metric exports of the same periods (both or
        neither).

    Returns
    -------
    Calibration

    Raises
    ------
    ScenarioError
        A missing, unknown or malformed file (naming the file, the column and the rule), too
        few values to fit, or no input at all.
    """
    from simulator.scenario import Functions

    fits: list[Fit] = []
    for fname, path in (lambda_reports or {}).items():
        if fname not in Functions.model_fields:
            raise ScenarioError("lambda_reports", fname, "unknown function; known: "
                                + ", ".join(Functions.model_fields))
        dur, init = read_lambda_report(path)
        where = f"aws.lambda.functions.{fname}"
        fits.append(fit_samples(f"{where}.handler_s", dur, _src(path, len(dur), "@duration",
                    "REPORT lines; Duration includes the handler's own AWS calls")))
        if len(init):
            fits.append(fit_samples(f"{where}.init_s", init,
                                    _src(path, len(init), "@initDuration", "cold starts")))
    for export, key, ops in ((dynamodb_item, "aws.dynamodb.latency.item_s", "item calls"),
                             (dynamodb_query, "aws.dynamodb.latency.query_page_s", "Query")):
        if export is not None:
            avg, cnt, _ = read_metric(export, DYNAMODB_METRIC)
            fits.append(fit_period_averages(key, avg, cnt, _src(
                export, int(cnt.sum()), f"{DYNAMODB_METRIC} ({ops})",
                f"averages of {len(avg)} periods; server-side, without the network hop",
                "requests")))
    if (apigw_latency is None) != (apigw_integration_latency is None):
        missing = "apigw_latency" if apigw_latency is None else "apigw_integration_latency"
        raise ScenarioError(missing, None, "API Gateway's own time is Latency - "
                            "IntegrationLatency: give both exports (WebSocket APIs publish "
                            "only IntegrationLatency; fit the Lambda from its REPORT lines)")
    if apigw_latency is not None:
        assert apigw_integration_latency is not None   # both or neither, checked above
        avg, cnt = _apigw_overhead(apigw_latency, apigw_integration_latency)
        fits.append(fit_period_averages("aws.api_gateway.latency.route_s", avg, cnt, _src(
            apigw_latency, int(cnt.sum()), "Latency - IntegrationLatency",
            f"averages of {len(avg)} periods, with {Path(apigw_integration_latency).name}",
            "requests")))
    if not fits:
        raise ScenarioError("calibrate", None, "give at least one export: lambda_reports, "
                            "dynamodb_item, dynamodb_query, or apigw_latency with "
                            "apigw_integration_latency")
    return Calibration(fits)


def _src(path, n: int, what: str, note: str, unit: str = "samples") -> str:
    return f"{Path(path).as_posix()}: {what}, {n} {unit} ({note}); fitted by simulator.calibrate"


# -- reading ---------------------------------------------------------------------------------------
def _read_csv(path: str | Path) -> tuple[list[str], list[list[str]]]:
    p = Path(path)
    if not p.exists():
        raise ScenarioError("export file", str(path), "file does not exist")
    if p.is_dir():
        raise ScenarioError("export file", str(path), "is a directory, not a CSV file")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ScenarioError("export file", str(path), "is not UTF-8 text") from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise ScenarioError("export file", str(path), "is empty (no header row)")
    try:
        rows = list(csv.reader(lines, strict=True))
    except csv.Error as e:
        raise ScenarioError("export file", str(path), f"malformed CSV ({e})") from None
    header = [h.strip() for h in rows[0]]
    for k, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise ScenarioError(f"{path}: row {k}", ",".join(r),
                                f"has {len(r)} cells; the header has {len(header)}")
    return header, rows[1:]


def _number(path, row: int, col: str, cell: str, unit: str = "milliseconds") -> float:
    try:
        v = float(cell)
    except ValueError:
        raise ScenarioError(f"{path}: row {row}, column {col!r}", cell,
                            f"must be a number of {unit}") from None
    if not math.isfinite(v) or v <= 0:
        raise ScenarioError(f"{path}: row {row}, column {col!r}", cell, f"must be > 0 {unit}")
    return v


def read_lambda_report(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(durations_s, init_durations_s)`` from a Logs Insights CSV of REPORT lines."""
    header, rows = _read_csv(path)
    if "@duration" not in header:
        hint = (" (this looks like a metric export: pass it as a DynamoDB or API Gateway file)"
                if "SampleCount" in header else "")
        raise ScenarioError(f"{path}: column '@duration'", header,
                            "missing: export the Logs Insights query 'filter @type = \"REPORT\" "
                            "| fields @timestamp, @duration, @initDuration'" + hint)
    i_dur = header.index("@duration")
    i_init = header.index("@initDuration") if "@initDuration" in header else None
    i_type = header.index("@type") if "@type" in header else None
    dur, init = [], []
    for k, r in enumerate(rows, start=2):
        if i_type is not None and r[i_type].strip() != "REPORT":
            raise ScenarioError(f"{path}: row {k}, column '@type'", r[i_type],
                                "must be REPORT (filter @type = \"REPORT\" in the query)")
        dur.append(_number(path, k, "@duration", r[i_dur].strip()))
        if i_init is not None and r[i_init].strip():
            init.append(_number(path, k, "@initDuration", r[i_init].strip()))
    _enough(path, "@duration", len(dur), MIN_SAMPLES, "REPORT lines")
    if init:
        _enough(path, "@initDuration", len(init), MIN_SAMPLES, "cold starts")
    return np.array(dur) * _MS, np.array(init) * _MS


def _enough(path, col: str, n: int, need: int, what: str) -> None:
    if n < need:
        raise ScenarioError(f"{path}: column {col!r}", n,
                            f"too few {what} to fit a distribution (need at least {need})")


def read_metric(path: str | Path, metric: str | None
                ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(averages_s, sample_counts, timestamps)`` from a metric statistics CSV of ``metric``."""
    header, rows = _read_csv(path)
    missing = [c for c in METRIC_COLUMNS if c not in header]
    if missing:
        hint = (" (this looks like a Logs Insights export: pass it as a Lambda REPORT file)"
                if "@duration" in header else "")
        raise ScenarioError(f"{path}: column {missing[0]!r}", header,
                            "missing: a metric export needs the columns "
                            + ", ".join(METRIC_COLUMNS) + hint)
    ix = {c: header.index(c) for c in header}
    avg, cnt, ts = [], [], []
    for k, r in enumerate(rows, start=2):
        name = r[ix["MetricName"]].strip()
        if metric is not None and name != metric:
            raise ScenarioError(f"{path}: row {k}, column 'MetricName'", name,
                                f"must be {metric} for this input")
        if "Unit" in ix and r[ix["Unit"]].strip() != "Milliseconds":
            raise ScenarioError(f"{path}: row {k}, column 'Unit'", r[ix["Unit"]],
                                "must be Milliseconds")
        n = _number(path, k, "SampleCount", r[ix["SampleCount"]].strip(), "requests")
        if n != int(n):
            raise ScenarioError(f"{path}: row {k}, column 'SampleCount'", r[ix["SampleCount"]],
                                "must be a whole number of requests")
        cnt.append(n)
        avg.append(_number(path, k, "Average", r[ix["Average"]].strip()))
        ts.append(r[ix["Timestamp"]].strip())
    if len(set(ts)) != len(ts):
        dup = next(t for t in ts if ts.count(t) > 1)
        raise ScenarioError(f"{path}: column 'Timestamp'", dup,
                            "repeats a period: export one metric (one dimension set) per file")
    _enough(path, "Timestamp", len(avg), MIN_PERIODS, "periods")
    return np.array(avg) * _MS, np.array(cnt), ts


def _apigw_overhead(lat_path, int_path) -> tuple[np.ndarray, np.ndarray]:
    """Per-period averages of Latency - IntegrationLatency (the same requests in both: the
    difference of the averages is the average of the differences)."""
    lat, n_lat, ts_lat = read_metric(lat_path, "Latency")
    itg, n_itg, ts_itg = read_metric(int_path, "IntegrationLatency")
    by_ts = dict(zip(ts_itg, zip(itg, n_itg)))
    diff, cnt = [], []
    for t, a, n in zip(ts_lat, lat, n_lat):
        if t not in by_ts:
            raise ScenarioError(f"{int_path}: column 'Timestamp'", t,
                                f"period of {lat_path} missing here: export the same periods")
        b, m = by_ts[t]
        if m != n:
            raise ScenarioError(f"{int_path}: column 'SampleCount'", m,
                                f"must equal Latency's {n:g} at {t} (the same requests)")
        diff.append(a - b)
        cnt.append(n)
    diff_a = np.array(diff)
    if np.any(diff_a <= 0):
        t = ts_lat[int(np.argmax(diff_a <= 0))]
        raise ScenarioError(f"{lat_path}: column 'Average'", t, "Latency must exceed "
                            "IntegrationLatency in every period (API Gateway's own time > 0)")
    return diff_a, np.array(cnt)


# -- fitting ---------------------------------------------------------------------------------------
def _mle(kind: str, x: np.ndarray) -> tuple[dict, float, int]:
    """Closed-form maximum likelihood of ``kind`` on samples ``x`` (seconds):
    (spec, log-likelihood, number of parameters)."""
    n = len(x)
    lx = np.log(x)
    if kind == "lognormal":   # mu, sigma of ln X: their sample mean and (1/n) deviation
        mu, sigma = float(lx.mean()), float(lx.std())
        ll = float(-lx.sum() - n * math.log(sigma) - n / 2 * math.log(2 * math.pi) - n / 2)
        return {"kind": "lognormal", "median": math.exp(mu), "sigma": sigma}, ll, 2
    if kind == "exponential":   # the sample mean
        m = float(x.mean())
        return {"kind": "exponential", "mean": m}, -n * math.log(m) - n, 1
    if kind == "pareto":   # scale = min; shape = n / sum ln(x / scale)
        scale = float(x.min())
        shape = n / float((lx - math.log(scale)).sum())
        ll = n * math.log(shape) + n * shape * math.log(scale) - (shape + 1) * float(lx.sum())
        return {"kind": "pareto", "shape": shape, "scale": scale}, ll, 2
    if kind == "uniform":   # the sample range
        lo, hi = float(x.min()), float(x.max())
        return {"kind": "uniform", "low": lo, "high": hi}, -n * math.log(hi - lo), 2
    raise ValueError(kind)


SAMPLE_KINDS = ("lognormal", "exponential", "pareto", "uniform")


def ks_statistic(x: np.ndarray, cdf) -> float:
    """Kolmogorov-Smirnov statistic of samples ``x`` against a CDF (a callable)."""
    xs = np.sort(np.asarray(x, dtype=float))
    n = len(xs)
    f = cdf(xs)
    k = np.arange(1, n + 1)
    return float(max(np.max(k / n - f), np.max(f - (k - 1) / n)))


def fit_samples(key: str, x_s: np.ndarray, source: str) -> Fit:
    """Fit per-request samples (seconds): every kind of :data:`SAMPLE_KINDS` by maximum
    likelihood, the lowest AIC kept.

    Notes
    -----
    MLEs: lognormal mu = mean(ln x), sigma^2 = mean((ln x - mu)^2); exponential mean = mean(x);
    Pareto scale = min(x), shape = n / sum(ln(x / scale)); uniform [min, max] (e.g. Casella &
    Berger, *Statistical Inference*, 2nd ed., ch. 7). AIC = 2k - 2 ln L (Akaike 1974).
    """
    x = np.asarray(x_s, dtype=float)
    if np.ptp(x) <= 0:
        raise ScenarioError(source.split(":")[0], float(x[0]) * 1000.0,
                            "every value is the same: no spread to fit")
    cands, best = {}, None
    for kind in SAMPLE_KINDS:
        spec, ll, k = _mle(kind, x)
        aic = 2 * k - 2 * ll
        ks = ks_statistic(x, make_distribution(spec).cdf)
        cands[kind] = (ll, aic, ks)
        if best is None or aic < best[1]:
            best = (spec, aic, ks)
    assert best is not None   # SAMPLE_KINDS is not empty
    spec, _, ks = best
    d = make_distribution(spec)
    e50, e99 = np.quantile(x, [0.5, 0.99])
    return Fit(key, _with(spec, source), len(x), "samples", x, ks,
               d.quantile(0.5) / e50 - 1.0, d.quantile(0.99) / e99 - 1.0, cands)


def fit_period_averages(key: str, avg_s: np.ndarray, counts: np.ndarray, source: str) -> Fit:
    """Fit a per-request distribution to per-period averages ``avg_s`` of ``counts`` requests.

    Notes
    -----
    Model: an average of N requests ~ Normal(m, v / N) (central limit theorem). The maximum
    likelihood estimates are m = sum(N a) / sum(N) and v = mean(N (a - m)^2); the exponential
    (v = m^2) has m = (-B + sqrt(B^2 + 4 k C)) / (2 k) with B = sum(N a), C = sum(N a^2), k
    periods (setting d ln L / dm = 0). The lognormal with mean m and variance v has
    sigma^2 = ln(1 + v / m^2), median = m / sqrt(1 + v / m^2).
    """
    a = np.asarray(avg_s, dtype=float)
    n = np.asarray(counts, dtype=float)
    k = len(a)

    def loglik(m, v):
        var = v / n
        return float(np.sum(-0.5 * np.log(2 * math.pi * var) - (a - m) ** 2 / (2 * var)))

    m = float(np.sum(n * a) / n.sum())
    v = float(np.mean(n * (a - m) ** 2))
    if v <= 0:
        raise ScenarioError(source.split(":")[0], None,
                            "the period averages do not vary: no spread to fit")
    B, C = float(np.sum(n * a)), float(np.sum(n * a * a))
    m_exp = (-B + math.sqrt(B * B + 4 * k * C)) / (2 * k)
    cands = {}
    for kind, mm, vv, npar in (("lognormal", m, v, 2), ("exponential", m_exp, m_exp ** 2, 1)):
        z = (a - mm) * np.sqrt(n / vv)
        ll = loglik(mm, vv)
        cands[kind] = (ll, 2 * npar - 2 * ll, ks_statistic(z, normal_cdf), mm, vv)
    kind = min(cands, key=lambda c: cands[c][1])
    _, _, ks, mm, vv = cands[kind]
    if kind == "lognormal":
        r = 1.0 + vv / mm ** 2
        spec = {"kind": "lognormal", "median": mm / math.sqrt(r), "sigma": math.sqrt(math.log(r))}
    else:
        spec = {"kind": "exponential", "mean": mm}
    return Fit(key, _with(spec, source), int(n.sum()), "period averages", a, ks, None, None,
               {c: v[:3] for c, v in cands.items()}, counts=n, moments=(mm, vv))


def _with(spec: dict, source: str) -> dict:
    """The spec rounded to 6 significant digits (the overlay stays readable), with its source."""
    out = {k: (float(f"{v:.6g}") if isinstance(v, float) else v) for k, v in spec.items()}
    out["source"] = source
    return out
