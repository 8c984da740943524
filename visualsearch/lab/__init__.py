"""Benchmarks, evaluations and model fitting, apart from the product.

Reached through management commands; no product module imports this package.
"""
