"""Monitoring on every stack: Prometheus' alert rules (rules.py) and Alertmanager's routing to the
team's receivers (alertmanager.py), generated from the monitoring settings."""
