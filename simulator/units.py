"""Unit conversions (units, not facts: nothing here comes from AWS)."""

MB = float(1 << 20)  # bytes per MB; not a catalog value
