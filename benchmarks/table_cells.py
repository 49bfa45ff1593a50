"""Cells of the benchmarks' markdown tables."""

import statistics


def mean_std(values: list[float], signed: bool = False) -> str:
    """`mean ± sample std` to two decimals (the mean with its sign if `signed`, for differences); the mean alone for
    one value."""
    mean = f"{statistics.mean(values):{'+' if signed else ''}.2f}"
    return f"{mean} ± {statistics.stdev(values):.2f}" if len(values) > 1 else mean
