"""Streaming metrics: log histograms, counters, levels, time series, breaches, Result."""

from simulator.metrics.histogram import LogHistogram
from simulator.metrics.recorder import BreachLog, Level, Recorder
from simulator.metrics.result import Result

__all__ = ["BreachLog", "Level", "LogHistogram", "Recorder", "Result"]
