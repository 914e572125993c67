"""Unit conversions (units, not facts: nothing here comes from AWS)."""

MB = float(1 << 20)  # bytes per MB; not a catalog value
MINUTE = 60.0  # seconds per minute; not a catalog value
MILLION = 1e6  # not a catalog value
