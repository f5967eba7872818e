"""Analysis runners: neighbour graph, map, clusters, duplicates, conflicts, coverage, leakage, flags."""
