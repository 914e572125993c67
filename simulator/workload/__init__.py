"""Client populations: arrival profiles, channels, and the struct-of-arrays connection registry."""

from simulator.workload.arrivals import ArrivalProcess
from simulator.workload.channels import ChannelPlan
from simulator.workload.population import ConnectionRegistry, State

__all__ = ["ArrivalProcess", "ChannelPlan", "ConnectionRegistry", "State"]
