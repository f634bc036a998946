"""The Messages API side: clients and shards, the rate-limit governor, the breaker policy, streams.

A package of its own modules, not a public namespace: importers name the module they need.
"""
