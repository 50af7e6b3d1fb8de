"""The socket protocol (the README's "Socket protocol (version 1)") and the
socket lookup of `maskinporten-agent token` (agent/cli/socket_path.cpp)."""

from __future__ import annotations

import json
import os
import socket
import stat
import struct
import tomllib
from dataclasses import dataclass
from typing import Any, Iterable

SYSTEM_CONFIG_FILE = "/etc/maskinporten-agent/agent.toml"
# An exchange may wait for Maskinporten, including the agent's retries
# (the CLI waits as long).
DEFAULT_TIMEOUT_SECONDS = 90.0
# The agent's answers are a few KiB; more is not an answer.
_MAX_ANSWER_BYTES = 1024 * 1024
# Grant fields the agent takes, as Python names: consumer_org=... and so on.
_GRANT_FIELDS = ("resource", "consumer_org", "iss_onbehalfof", "pid", "authorization_details", "exchange")


class AgentError(Exception):
    """The agent refused, or could not be asked. `code` is the protocol's
    error code ("invalid_scope", "unavailable", ...), `message` its words."""

    code = "internal"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(f"{code or self.code}: {message}")
        if code is not None:
            self.code = code
        self.message = message


class InvalidRequestError(AgentError):
    code = "invalid_request"


class ForbiddenError(AgentError):
    code = "forbidden"


class UnknownClientError(AgentError):
    code = "unknown_client"


class InvalidScopeError(AgentError):
    code = "invalid_scope"


class InvalidGrantError(AgentError):
    code = "invalid_grant"


class InvalidClientError(AgentError):
    code = "invalid_client"


class UnavailableError(AgentError):
    """Maskinporten, or the agent itself, could not be reached; retrying later may help."""

    code = "unavailable"


class HsmError(AgentError):
    code = "hsm_error"


class InvalidTokenError(AgentError):
    code = "invalid_token"


class InternalError(AgentError):
    code = "internal"


class NoSocketError(InvalidRequestError):
    """Nothing says where the agent's socket is."""


_BY_CODE = {cls.code: cls for cls in (
    InvalidRequestError, ForbiddenError, UnknownClientError, InvalidScopeError, InvalidGrantError,
    InvalidClientError, UnavailableError, HsmError, InvalidTokenError, InternalError)}


@dataclass(frozen=True)
class AccessToken:
    access_token: str
    token_type: str
    expires_in: int
    expires_at: int  # Unix time
    scope: str


def _socket_in_config(path: str) -> tuple[str | None, str, bool]:
    """([agent] socket made absolute, why there is none, whether the file is TOML)."""
    try:
        with open(path, "rb") as file:
            table = tomllib.load(file)
    except FileNotFoundError:
        return None, "does not exist", False
    except OSError as error:
        return None, f"cannot be opened: {error.strerror}", False
    except tomllib.TOMLDecodeError as error:
        return None, f"is not TOML: {error}", False
    agent = table.get("agent")
    value = agent.get("socket") if isinstance(agent, dict) else None
    if not isinstance(value, str) or not value:
        return None, "names no [agent] socket", True
    return os.path.normpath(os.path.join(os.path.dirname(path), value)), "", True


def _runtime_default(runtime_directory: str) -> str:
    return os.path.normpath(os.path.join(runtime_directory, "maskinporten-agent", "agent.sock"))


def socket_path(socket: str | None = None, config: str | None = None) -> str:
    """Where `maskinporten-agent token` would look: `socket`; then where
    `run --config CONFIG` listens; then $MASKINPORTEN_AGENT_SOCKET; then
    [agent] socket of /etc/maskinporten-agent/agent.toml; then
    $XDG_RUNTIME_DIR/maskinporten-agent/agent.sock."""
    runtime_directory = os.environ.get("XDG_RUNTIME_DIR") or None
    if socket:
        return socket
    if config:
        found, why_none, read = _socket_in_config(config)
        if found:
            return found
        if not read:
            raise AgentError(f"--config {config} {why_none}", code="invalid_config")
        if runtime_directory and runtime_directory.startswith("/"):
            return _runtime_default(runtime_directory)
        raise AgentError(f"--config {config} names no [agent] socket and XDG_RUNTIME_DIR is not set "
                         "(an absolute path); `run` would refuse it too", code="invalid_config")
    from_environment = os.environ.get("MASKINPORTEN_AGENT_SOCKET")
    if from_environment:
        return from_environment
    found, why_none, _ = _socket_in_config(SYSTEM_CONFIG_FILE)
    if found:
        return found
    if runtime_directory:
        return _runtime_default(runtime_directory)
    raise NoSocketError("no socket to ask: give --socket PATH or --config FILE, or set "
                        f"MASKINPORTEN_AGENT_SOCKET ({SYSTEM_CONFIG_FILE} {why_none}, "
                        "and XDG_RUNTIME_DIR is not set)")


def _request_line(scopes: Iterable[str], client: str | None, min_ttl: int | None,
                  grant_fields: dict[str, Any]) -> bytes:
    if isinstance(scopes, str):
        raise TypeError("scopes is a list of scopes, not one string")
    request: dict[str, Any] = {"op": "token", "scopes": list(scopes)}
    if client is not None:
        request["client"] = client
    for name, value in grant_fields.items():
        if name not in _GRANT_FIELDS:
            raise TypeError(f"unknown grant field {name!r}; the agent takes {', '.join(_GRANT_FIELDS)}")
        if value is not None:
            request[name] = value
    if min_ttl is not None:
        request["min_ttl"] = int(min_ttl)
    return (json.dumps(request, separators=(",", ":")) + "\n").encode()


def _refusal(path: str, why: str) -> UnavailableError:
    return UnavailableError(f"refusing the socket {path}: {why}")


def _writable_by_others(mode: int) -> bool:
    return bool(mode & (stat.S_IWGRP | stat.S_IWOTH))


def _check_the_way_up(path: str, directory: str, follow: bool, caller: int, owner: int) -> None:
    """Every directory (or, not following, symbolic link) from `directory` up to /:
    writable by others only if sticky, and owned by root, the caller or `owner`."""
    while True:
        info = os.stat(directory) if follow else os.lstat(directory)
        if stat.S_ISDIR(info.st_mode) and _writable_by_others(info.st_mode) and not info.st_mode & stat.S_ISVTX:
            raise _refusal(path, f"{directory} on its path is writable by others (mode {stat.S_IMODE(info.st_mode):04o}) "
                           "and not sticky, so another user could replace what is below it")
        if info.st_uid not in (0, caller, owner):
            raise _refusal(path, f"{directory} on its path belongs to uid {info.st_uid}, neither root, you, "
                           "nor the owner of the socket's directory")
        if directory == "/":
            return
        directory = os.path.dirname(directory)


def _trusted_directory_owner(path: str, caller: int) -> int:
    """The owner of the socket's directory, once no one else could have put a
    socket there (agent/protocol/server_check.h has the same rules)."""
    real = os.path.realpath(path)
    directory = os.path.dirname(real)
    info = os.stat(directory)
    if _writable_by_others(info.st_mode):
        raise _refusal(path, f"its directory {directory} is writable by others (mode {stat.S_IMODE(info.st_mode):04o}), "
                       "so anyone could have put a socket there; keep the agent's socket in a directory only its "
                       "owner may write to (the agent's default under $XDG_RUNTIME_DIR or /run/maskinporten-agent is)")
    _check_the_way_up(path, os.path.dirname(directory), True, caller, info.st_uid)
    as_given = os.path.dirname(os.path.normpath(os.path.abspath(path)))
    if as_given != directory:
        _check_the_way_up(path, as_given, False, caller, info.st_uid)
    return info.st_uid


def _check_server(connection: socket.socket, path: str) -> None:
    """Refuses a squatted socket before anything is sent: its directory, then
    the uid that serves it (SO_PEERCRED)."""
    caller = os.geteuid()
    owner = _trusted_directory_owner(path, caller)
    _, server, _ = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                              struct.calcsize("3i")))
    if server not in (0, caller, owner):
        raise UnavailableError(f"refusing the agent on {path}: it runs as uid {server}, which is neither root, "
                               f"you (uid {caller}), nor the owner of the socket's directory (uid {owner}); "
                               "another user may be posing as the agent")


def _ask(path: str, line: bytes, timeout: float) -> dict[str, Any]:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout)
            connection.connect(path)
            _check_server(connection, path)
            connection.sendall(line)
            answer = bytearray()
            while not answer.endswith(b"\n"):
                chunk = connection.recv(65536)
                if not chunk:
                    raise UnavailableError(f"the agent on {path} closed the connection without an answer")
                answer += chunk
                if len(answer) > _MAX_ANSWER_BYTES:
                    raise InternalError(f"the agent's answer is longer than {_MAX_ANSWER_BYTES} bytes")
    except FileNotFoundError:
        raise UnavailableError(f"{path} does not exist; is the agent running? "
                               "(maskinporten-agent run --config FILE)") from None
    except socket.timeout:
        raise UnavailableError(f"the agent on {path} did not answer within {timeout:g} s") from None
    except ConnectionRefusedError:
        raise UnavailableError(f"nothing listens on {path}; is the agent running?") from None
    except OSError as error:
        raise UnavailableError(f"cannot ask the agent on {path}: {error.strerror or error}") from None
    try:
        decoded = json.loads(answer)
    except ValueError as error:
        raise InternalError(f"the agent's answer is not JSON: {error}") from None
    if not isinstance(decoded, dict):
        raise InternalError("the agent's answer is not a JSON object")
    return decoded


def get_token_response(scopes: Iterable[str], client: str | None = None, min_ttl: int | None = None,
                       *, socket: str | None = None, config: str | None = None,
                       timeout: float = DEFAULT_TIMEOUT_SECONDS, **grant_fields: Any) -> AccessToken:
    """The agent's whole answer; see get_token."""
    path = socket_path(socket, config)
    answer = _ask(path, _request_line(scopes, client, min_ttl, grant_fields), timeout)
    if answer.get("ok") is not True:
        code = str(answer.get("error", "internal"))
        message = str(answer.get("message", "the agent refused without words"))
        raise _BY_CODE.get(code, AgentError)(message, code=code)
    try:
        return AccessToken(str(answer["access_token"]), str(answer["token_type"]), int(answer["expires_in"]),
                           int(answer["expires_at"]), str(answer.get("scope", "")))
    except (KeyError, TypeError, ValueError) as error:
        raise InternalError(f"the agent's token answer lacks {error}") from None


def get_token(scopes: Iterable[str], client: str | None = None, min_ttl: int | None = None,
              **grant_fields: Any) -> str:
    """An access token for `scopes` from the running agent.

    client: which [[client]] of the agent (default: its only one).
    min_ttl: seconds the token must stay valid (default: the agent's margin).
    grant_fields: resource=[...], consumer_org="999888777", iss_onbehalfof=...,
    pid=..., authorization_details=[...], exchange="altinn"; and socket=PATH,
    config=FILE (where to find the agent, as the CLI's --socket/--config),
    timeout=SECONDS (default 90).
    Raises an AgentError subclass named for the agent's error code.
    """
    return get_token_response(scopes, client, min_ttl, **grant_fields).access_token
