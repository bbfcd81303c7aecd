"""Declarative agents, their runs and approvals, and the routed model layer.

Filled by the agents issue.
"""
