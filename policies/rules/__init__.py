"""The preflight rules, by concern. The pack, the README table and the tests all read ALL_RULES."""

from . import (
    containers,
    data,
    data_loss,
    edge,
    environments,
    host,
    load_balancer,
    monitoring,
    observability,
    placement,
    security,
    transport,
)

ALL_RULES = [*security.RULES, *data.RULES, *data_loss.RULES, *containers.RULES, *edge.RULES, *host.RULES,
             *placement.RULES, *environments.RULES, *load_balancer.RULES, *observability.RULES, *transport.RULES,
             *monitoring.RULES]
