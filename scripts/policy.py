"""Prints the arguments that preview a stack with the policy pack and its enforcement config
(deploy/policy_pack.py), for `make preview STACK=...`.

    python scripts/policy.py STACK
"""

from __future__ import annotations

import sys

from deploy.policy_pack import pack_arguments

if __name__ == "__main__":
    print(" ".join(pack_arguments(sys.argv[1])))
