"""A local stand-in for Slack: a Web API server with a believable workspace, and signed event delivery."""

from sandbox.catalog import DEFAULT_SPECS_DIR, MethodCatalog
from sandbox.delivery import Delivery, SendOptions, sign
from sandbox.oauth import Installation, code_of
from sandbox.people import Deliverer
from sandbox.server import Call, Sandbox

__all__ = [
    "DEFAULT_SPECS_DIR",
    "Call",
    "Deliverer",
    "Delivery",
    "Installation",
    "MethodCatalog",
    "Sandbox",
    "SendOptions",
    "code_of",
    "sign",
]
