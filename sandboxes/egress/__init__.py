"""Egress for sandboxes: an internal network per server version whose only way out is a proxy
that reaches the hosts on that version's allowlist and nothing else.
"""

from sandboxes.egress.errors import EgressError
from sandboxes.egress.network import EgressAttachment, EgressNetworks, proxy_environment

__all__ = ["EgressAttachment", "EgressError", "EgressNetworks", "proxy_environment"]
