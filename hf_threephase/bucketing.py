"""Length buckets: run a padded batch as a few groups of rows of similar length, each padded only to its own longest.

A transformer's cost grows with the padded width of its batch (attention with its square), so a batch of short and
long texts spends much of its compute on padding. Each extra group costs a fixed overhead instead (one more forward
and, in training, one more pass over the weight gradients), so the split minimises
`sum(rows * width) + group_cost * groups` exactly, by dynamic programming over the rows sorted by length.
"""

# The fixed cost of one more group, in padded tokens: tuned by hand with all-MiniLM-L6-v2 on 2 CPU cores (forward +
# backward, batches of 64 snips2 / sst5 texts; 32 to 1024 tried, 32-128 fastest). benchmarks/step_profile.py measures
# what bucketing buys per training step.
GROUP_COST = 128


def length_buckets(lengths: list[int], group_cost: float = GROUP_COST) -> list[list[int]]:
    """Row indices grouped so that padding each group to its longest row costs least; shortest group first."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    widths = [max(lengths[i], 1) for i in order]
    best, cut = [0.0] + [float("inf")] * len(order), [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        for start in range(end):
            cost = best[start] + (end - start) * widths[end - 1] + group_cost
            if cost < best[end]:
                best[end], cut[end] = cost, start
    groups, end = [], len(order)
    while end > 0:
        groups.append(order[cut[end]:end])
        end = cut[end]
    return groups[::-1]
