"""`python -m deploy`: operations on a deployed stack through the Automation API (backups, restores)."""
