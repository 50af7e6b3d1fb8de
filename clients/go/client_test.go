// GetToken against the real agent over its real socket; run by
// tests/integration/test_clients.sh, which starts the agent and sets
// MPA_TEST_SOCKET and MPA_TEST_CONFIG.
package maskinportenagent

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testSocket(t *testing.T) string {
	socket := os.Getenv("MPA_TEST_SOCKET")
	if socket == "" {
		t.Fatal("MPA_TEST_SOCKET is not set: run through tests/integration/test_clients.sh")
	}
	return socket
}

func scopeClaim(t *testing.T, token string) string {
	body, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Scope string }
	if err := json.Unmarshal(body, &claims); err != nil {
		t.Fatal(err)
	}
	return claims.Scope
}

func TestTokenForTheScopesAsked(t *testing.T) {
	token, err := GetToken([]string{"altinn:enduser"}, "", Options{Socket: testSocket(t)})
	if err != nil {
		t.Fatal(err)
	}
	if got := scopeClaim(t, token); got != "altinn:enduser" {
		t.Fatalf("scope %q", got)
	}
}

func TestWholeAnswerWithGrantFields(t *testing.T) {
	minTTL := int64(30)
	token, err := GetTokenResponse(Request{Scopes: []string{"skatteetaten:test"}, Client: "default",
		Resource: []string{"https://example.no/api"}, MinTTL: &minTTL}, Options{Socket: testSocket(t)})
	if err != nil {
		t.Fatal(err)
	}
	if token.TokenType != "Bearer" || token.Scope != "skatteetaten:test" || token.ExpiresIn <= 30 {
		t.Fatalf("answer %+v", token)
	}
}

func TestSocketIsFoundAsTheCliFindsIt(t *testing.T) {
	socket := testSocket(t)
	t.Setenv("MASKINPORTEN_AGENT_SOCKET", "/env.sock")
	config := os.Getenv("MPA_TEST_CONFIG")
	for _, c := range []struct {
		options Options
		want    string
	}{{Options{Socket: "/flag.sock", Config: config}, "/flag.sock"}, {Options{Config: config}, socket}, {Options{}, "/env.sock"}} {
		if got, err := SocketPath(c.options); err != nil || got != c.want {
			t.Errorf("SocketPath(%+v) = %q, %v; want %q", c.options, got, err, c.want)
		}
	}
	directory := t.TempDir()
	file := filepath.Join(directory, "agent.toml")
	os.WriteFile(file, []byte("[agent]\nsocket = \"run/agent.sock\"\n"), 0o600)
	if got, _ := SocketPath(Options{Config: file}); got != filepath.Join(directory, "run/agent.sock") {
		t.Errorf("relative socket: %q", got)
	}
	if _, err := SocketPath(Options{Config: file + ".missing"}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("missing --config: %v", err)
	}
}

func TestNoSocketAnywhereSaysWhy(t *testing.T) {
	if _, err := os.Stat(SystemConfigFile); err == nil {
		t.Skip("this machine has a system configuration")
	}
	t.Setenv("MASKINPORTEN_AGENT_SOCKET", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	_, err := SocketPath(Options{})
	if !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), SystemConfigFile+" does not exist, and XDG_RUNTIME_DIR is not set") {
		t.Fatalf("error %v", err)
	}
}

func TestRefusalsCarryTheirCode(t *testing.T) {
	socket := testSocket(t)
	if _, err := GetToken([]string{"altinn:enduser"}, "nope", Options{Socket: socket}); !errors.Is(err, ErrUnknownClient) {
		t.Errorf("unknown client: %v", err)
	}
	_, err := GetToken([]string{"not:mine"}, "", Options{Socket: socket})
	if !errors.Is(err, ErrForbidden) && !errors.Is(err, ErrInvalidScope) {
		t.Errorf("scope not the client's: %v", err)
	}
	if _, err := GetToken([]string{"a b"}, "", Options{Socket: socket}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("malformed: %v", err)
	}
}

func TestNoAgentIsUnavailable(t *testing.T) {
	_, err := GetToken([]string{"altinn:enduser"}, "", Options{Socket: testSocket(t) + ".missing"})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "does not exist; is the agent running?") {
		t.Fatalf("error %v", err)
	}
}

func TestAnAgentThatDoesNotAnswerTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "silent.sock")
	silent, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	_, err = GetToken([]string{"altinn:enduser"}, "", Options{Socket: path, Timeout: 300 * time.Millisecond})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "did not answer within 300ms") {
		t.Fatalf("error %v", err)
	}
}

func TestASocketInADirectoryOthersMayWriteIsRefused(t *testing.T) {
	directory := t.TempDir()
	if err := os.Chmod(directory, 0o777); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(directory, "squat.sock")
	squatter, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	_, err = GetToken([]string{"altinn:enduser"}, "", Options{Socket: path})
	want := "refusing the socket " + path + ": its directory " + directory + " is writable by others (mode 0777)"
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v", err)
	}
}
