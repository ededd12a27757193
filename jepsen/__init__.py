"""jepsen: fault-injection harness for raftha (real processes, namespaces, nftables, checkers)."""
