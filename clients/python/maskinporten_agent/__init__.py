"""Maskinporten access tokens from a running maskinporten-agent.

    from maskinporten_agent import get_token
    token = get_token(["altinn:enduser"])

The agent keeps the key on its PKCS#11 token and caches tokens; this module
only speaks the agent's socket protocol (one JSON line each way). Standard
library only.
"""

from ._client import (
    DEFAULT_TIMEOUT_SECONDS,
    SYSTEM_CONFIG_FILE,
    AccessToken,
    AgentError,
    ForbiddenError,
    HsmError,
    InternalError,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    InvalidTokenError,
    NoSocketError,
    UnavailableError,
    UnknownClientError,
    get_token,
    get_token_response,
    socket_path,
)

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "SYSTEM_CONFIG_FILE",
    "AccessToken",
    "AgentError",
    "ForbiddenError",
    "HsmError",
    "InternalError",
    "InvalidClientError",
    "InvalidGrantError",
    "InvalidRequestError",
    "InvalidScopeError",
    "InvalidTokenError",
    "NoSocketError",
    "UnavailableError",
    "UnknownClientError",
    "get_token",
    "get_token_response",
    "socket_path",
]
