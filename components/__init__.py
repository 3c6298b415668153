"""Preflight's Pulumi components: one concern per module."""
