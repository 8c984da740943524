"""Evaluation code of the search app, reached through management commands only.

No product module imports this package.
"""
