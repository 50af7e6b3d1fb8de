"""maskinporten_agent against the real agent over its real socket; run by
tests/integration/test_clients.sh, which starts the agent and sets
MPA_TEST_SOCKET and MPA_TEST_CONFIG."""

import base64
import json
import os
import socket
import tempfile
import unittest
from unittest import mock

import maskinporten_agent as mpa

SOCKET = os.environ["MPA_TEST_SOCKET"]
CONFIG = os.environ["MPA_TEST_CONFIG"]


def claims(token):
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


class GetToken(unittest.TestCase):
    def test_token_for_the_scopes_asked(self):
        token = mpa.get_token(["altinn:enduser"], socket=SOCKET)
        self.assertEqual(claims(token)["scope"], "altinn:enduser")

    def test_whole_answer_and_grant_fields(self):
        answer = mpa.get_token_response(["skatteetaten:test"], client="default", min_ttl=30, socket=SOCKET,
                                        resource=["https://example.no/api"])
        self.assertEqual(answer.token_type, "Bearer")
        self.assertEqual(answer.scope, "skatteetaten:test")
        self.assertGreater(answer.expires_in, 30)

    def test_finds_the_socket_through_config_like_the_cli(self):
        with mock.patch.dict(os.environ, {}, clear=False):
            os.environ.pop("MASKINPORTEN_AGENT_SOCKET", None)
            self.assertEqual(mpa.socket_path(config=CONFIG), SOCKET)
            self.assertTrue(mpa.get_token(["altinn:enduser"], config=CONFIG))

    def test_finds_the_socket_in_the_environment(self):
        with mock.patch.dict(os.environ, {"MASKINPORTEN_AGENT_SOCKET": SOCKET}):
            self.assertTrue(mpa.get_token(["altinn:enduser"]))

    def test_socket_wins_over_config_which_wins_over_environment(self):
        with mock.patch.dict(os.environ, {"MASKINPORTEN_AGENT_SOCKET": "/env.sock"}):
            self.assertEqual(mpa.socket_path("/flag.sock", CONFIG), "/flag.sock")
            self.assertEqual(mpa.socket_path(None, CONFIG), SOCKET)
            self.assertEqual(mpa.socket_path(), "/env.sock")

    def test_config_without_socket_means_runs_default(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "agent.toml")
            with open(path, "w") as file:
                file.write("[pkcs11]\nmodule = 'x'\n")
            with mock.patch.dict(os.environ, {"XDG_RUNTIME_DIR": "/run/user/1"}):
                self.assertEqual(mpa.socket_path(config=path), "/run/user/1/maskinporten-agent/agent.sock")

    @unittest.skipIf(os.path.exists(mpa.SYSTEM_CONFIG_FILE), "this machine has a system configuration")
    def test_no_socket_anywhere_says_why_as_the_cli_does(self):
        with mock.patch.dict(os.environ, {}, clear=True):
            with self.assertRaises(mpa.NoSocketError) as caught:
                mpa.get_token(["altinn:enduser"])
        self.assertEqual(caught.exception.code, "invalid_request")
        self.assertIn("/etc/maskinporten-agent/agent.toml does not exist, and XDG_RUNTIME_DIR is not set",
                      caught.exception.message)


class Errors(unittest.TestCase):
    def test_scope_outside_the_clients_list_is_typed(self):
        with self.assertRaises(mpa.AgentError) as caught:
            mpa.get_token(["not:mine"], socket=SOCKET)
        self.assertIn(caught.exception.code, ("forbidden", "invalid_scope"))
        self.assertIs(type(caught.exception), {"forbidden": mpa.ForbiddenError,
                                               "invalid_scope": mpa.InvalidScopeError}[caught.exception.code])

    def test_unknown_client(self):
        with self.assertRaises(mpa.UnknownClientError) as caught:
            mpa.get_token(["altinn:enduser"], client="nope", socket=SOCKET)
        self.assertIn("nope", caught.exception.message)

    def test_malformed_request_is_invalid_request(self):
        with self.assertRaises(mpa.InvalidRequestError):
            mpa.get_token(["a b"], socket=SOCKET)

    def test_unknown_grant_field_is_a_type_error(self):
        with self.assertRaises(TypeError):
            mpa.get_token(["altinn:enduser"], socket=SOCKET, consumer="999888777")

    def test_no_agent_is_unavailable(self):
        with self.assertRaises(mpa.UnavailableError) as caught:
            mpa.get_token(["altinn:enduser"], socket=SOCKET + ".missing")
        self.assertIn("does not exist; is the agent running?", caught.exception.message)

    def test_an_agent_that_does_not_answer_times_out(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "silent.sock")
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
                silent.bind(path)
                silent.listen(1)
                with self.assertRaises(mpa.UnavailableError) as caught:
                    mpa.get_token(["altinn:enduser"], socket=path, timeout=0.3)
        self.assertIn("did not answer within 0.3 s", caught.exception.message)


    def test_a_socket_in_a_directory_others_may_write_is_refused(self):
        with tempfile.TemporaryDirectory() as directory:
            os.chmod(directory, 0o777)
            path = os.path.join(directory, "squat.sock")
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as squatter:
                squatter.bind(path)
                squatter.listen(1)
                with self.assertRaises(mpa.UnavailableError) as caught:
                    mpa.get_token(["altinn:enduser"], socket=path)
        self.assertIn(f"refusing the socket {path}: its directory {directory} is writable by others (mode 0777)",
                      caught.exception.message)


if __name__ == "__main__":
    unittest.main()
