// Package maskinportenagent asks a running maskinporten-agent for
// Maskinporten access tokens over its Unix socket (one JSON line each way;
// the README's "Socket protocol (version 1)"). Standard library only. The socket is found
// as `maskinporten-agent token` finds it (agent/cli/socket_path.cpp).
package maskinportenagent

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// SystemConfigFile is where the agent's system-wide configuration lives.
const SystemConfigFile = "/etc/maskinporten-agent/agent.toml"

// DefaultTimeout bounds one request: an exchange may wait for Maskinporten,
// including the agent's retries.
const DefaultTimeout = 90 * time.Second

// The agent's answers are a few KiB; more is not an answer.
const maxAnswerBytes = 1024 * 1024

// Error is a refusal by the agent, or a failure to ask it. Code is the
// protocol's error code: compare it with the Code constants, or use errors.Is
// with the Err values (errors.Is(err, ErrInvalidScope)).
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is makes errors.Is(err, ErrForbidden) match any Error with that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// One per error code of the protocol, for errors.Is.
var (
	ErrInvalidRequest = &Error{Code: "invalid_request"}
	ErrForbidden      = &Error{Code: "forbidden"}
	ErrUnknownClient  = &Error{Code: "unknown_client"}
	ErrInvalidScope   = &Error{Code: "invalid_scope"}
	ErrInvalidGrant   = &Error{Code: "invalid_grant"}
	ErrInvalidClient  = &Error{Code: "invalid_client"}
	ErrUnavailable    = &Error{Code: "unavailable"}
	ErrHsm            = &Error{Code: "hsm_error"}
	ErrInvalidToken   = &Error{Code: "invalid_token"}
	ErrInternal       = &Error{Code: "internal"}
	ErrInvalidConfig  = &Error{Code: "invalid_config"}
)

// Request describes the token wanted; only Scopes is required.
type Request struct {
	Scopes               []string          `json:"scopes"`
	Client               string            `json:"client,omitempty"`
	Resource             []string          `json:"resource,omitempty"`
	ConsumerOrg          string            `json:"consumer_org,omitempty"`
	IssOnbehalfof        string            `json:"iss_onbehalfof,omitempty"`
	Pid                  string            `json:"pid,omitempty"`
	AuthorizationDetails []json.RawMessage `json:"authorization_details,omitempty"`
	Exchange             string            `json:"exchange,omitempty"`
	MinTTL               *int64            `json:"min_ttl,omitempty"`
}

// Options say where the agent is and how long to wait; the zero value looks
// where the CLI looks and waits DefaultTimeout.
type Options struct {
	Socket  string // as the CLI's --socket
	Config  string // as the CLI's --config: where `run --config` listens
	Timeout time.Duration
}

// Token is the agent's answer.
type Token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	ExpiresAt   int64  `json:"expires_at"`
	Scope       string `json:"scope"`
}

var (
	tableHeader   = regexp.MustCompile(`^\s*\[\s*([^\]\s]+)\s*\]\s*(#.*)?$`)
	basicSocket   = regexp.MustCompile(`^\s*socket\s*=\s*("(?:[^"\\]|\\.)*")\s*(#.*)?$`)
	literalSocket = regexp.MustCompile(`^\s*socket\s*=\s*'([^']*)'\s*(#.*)?$`)
)

// socketInConfig reads [agent] socket line by line (a basic or literal
// string on its own line, as agent.toml.example writes it): the path, or why
// there is none, and whether the file could be read.
func socketInConfig(path string) (socket string, why string, read bool) {
	text, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", "does not exist", false
	} else if err != nil {
		return "", "cannot be opened: " + err.Error(), false
	}
	table := ""
	for _, line := range strings.Split(string(text), "\n") {
		if m := tableHeader.FindStringSubmatch(line); m != nil {
			table = m[1]
			continue
		}
		if table != "agent" {
			continue
		}
		value := ""
		if m := basicSocket.FindStringSubmatch(line); m != nil {
			_ = json.Unmarshal([]byte(m[1]), &value)
		} else if m := literalSocket.FindStringSubmatch(line); m != nil {
			value = m[1]
		}
		if value != "" {
			if !filepath.IsAbs(value) {
				value = filepath.Join(filepath.Dir(path), value)
			}
			return filepath.Clean(value), "", true
		}
	}
	return "", "names no [agent] socket", true
}

func runtimeDefault(directory string) string {
	return filepath.Join(directory, "maskinporten-agent", "agent.sock")
}

// SocketPath is where `maskinporten-agent token` would look: Socket; then
// where `run --config Config` listens; then $MASKINPORTEN_AGENT_SOCKET; then
// [agent] socket of /etc/maskinporten-agent/agent.toml; then
// $XDG_RUNTIME_DIR/maskinporten-agent/agent.sock.
func SocketPath(options Options) (string, error) {
	runtime := os.Getenv("XDG_RUNTIME_DIR")
	if options.Socket != "" {
		return options.Socket, nil
	}
	if options.Config != "" {
		socket, why, read := socketInConfig(options.Config)
		if socket != "" {
			return socket, nil
		}
		if !read {
			return "", &Error{"invalid_config", "--config " + options.Config + " " + why}
		}
		if strings.HasPrefix(runtime, "/") {
			return runtimeDefault(runtime), nil
		}
		return "", &Error{"invalid_config", "--config " + options.Config +
			" names no [agent] socket and XDG_RUNTIME_DIR is not set (an absolute path); `run` would refuse it too"}
	}
	if env := os.Getenv("MASKINPORTEN_AGENT_SOCKET"); env != "" {
		return env, nil
	}
	socket, why, _ := socketInConfig(SystemConfigFile)
	if socket != "" {
		return socket, nil
	}
	if runtime != "" {
		return runtimeDefault(runtime), nil
	}
	return "", &Error{"invalid_request", "no socket to ask: give --socket PATH or --config FILE, or set " +
		"MASKINPORTEN_AGENT_SOCKET (" + SystemConfigFile + " " + why + ", and XDG_RUNTIME_DIR is not set)"}
}

func refusal(path, why string) error {
	return &Error{"unavailable", "refusing the socket " + path + ": " + why}
}

func writableByOthers(info *syscall.Stat_t) bool { return info.Mode&0o022 != 0 }

// checkTheWayUp checks every directory (or, not following, symbolic link)
// from directory up to /: writable by others only if sticky, and owned by
// root, the caller or owner.
func checkTheWayUp(path, directory string, follow bool, caller, owner uint32) error {
	for {
		var info syscall.Stat_t
		stat := syscall.Stat
		if !follow {
			stat = syscall.Lstat
		}
		if err := stat(directory, &info); err != nil {
			return refusal(path, "cannot check "+directory+" on its path: "+err.Error())
		}
		if info.Mode&syscall.S_IFMT == syscall.S_IFDIR && writableByOthers(&info) && info.Mode&syscall.S_ISVTX == 0 {
			return refusal(path, fmt.Sprintf("%s on its path is writable by others (mode %04o) and not sticky, "+
				"so another user could replace what is below it", directory, info.Mode&0o7777))
		}
		if info.Uid != 0 && info.Uid != caller && info.Uid != owner {
			return refusal(path, fmt.Sprintf("%s on its path belongs to uid %d, neither root, you, "+
				"nor the owner of the socket's directory", directory, info.Uid))
		}
		if directory == "/" {
			return nil
		}
		directory = filepath.Dir(directory)
	}
}

// trustedDirectoryOwner is the owner of the socket's directory, once no one
// else could have put a socket there (agent/protocol/server_check.h has the
// same rules).
func trustedDirectoryOwner(path string, caller uint32) (uint32, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return 0, refusal(path, "cannot resolve its path: "+err.Error())
	}
	real, _ = filepath.Abs(real)
	directory := filepath.Dir(real)
	var info syscall.Stat_t
	if err := syscall.Stat(directory, &info); err != nil {
		return 0, refusal(path, "cannot check its directory "+directory+": "+err.Error())
	}
	if writableByOthers(&info) {
		return 0, refusal(path, fmt.Sprintf("its directory %s is writable by others (mode %04o), so anyone could "+
			"have put a socket there; keep the agent's socket in a directory only its owner may write to "+
			"(the agent's default under $XDG_RUNTIME_DIR or /run/maskinporten-agent is)", directory, info.Mode&0o7777))
	}
	if err := checkTheWayUp(path, filepath.Dir(directory), true, caller, info.Uid); err != nil {
		return 0, err
	}
	asGiven, _ := filepath.Abs(path)
	if asGiven = filepath.Dir(asGiven); asGiven != directory {
		if err := checkTheWayUp(path, asGiven, false, caller, info.Uid); err != nil {
			return 0, err
		}
	}
	return info.Uid, nil
}

// checkServer refuses a squatted socket before anything is sent: its
// directory, then the uid that serves it (SO_PEERCRED).
func checkServer(connection *net.UnixConn, path string) error {
	caller := uint32(os.Geteuid())
	owner, err := trustedDirectoryOwner(path, caller)
	if err != nil {
		return err
	}
	raw, err := connection.SyscallConn()
	if err != nil {
		return refusal(path, "cannot learn who serves it: "+err.Error())
	}
	var peer *syscall.Ucred
	var peerErr error
	if err := raw.Control(func(fd uintptr) {
		peer, peerErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || peerErr != nil {
		return refusal(path, fmt.Sprintf("cannot learn who serves it (SO_PEERCRED): %v %v", err, peerErr))
	}
	if peer.Uid != 0 && peer.Uid != caller && peer.Uid != owner {
		return &Error{"unavailable", fmt.Sprintf("refusing the agent on %s: it runs as uid %d, which is neither "+
			"root, you (uid %d), nor the owner of the socket's directory (uid %d); another user may be posing "+
			"as the agent", path, peer.Uid, caller, owner)}
	}
	return nil
}

func ask(path string, line []byte, timeout time.Duration) ([]byte, error) {
	connection, err := net.DialTimeout("unix", path, timeout)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &Error{"unavailable", path + " does not exist; is the agent running? (maskinporten-agent run --config FILE)"}
	} else if err != nil {
		return nil, &Error{"unavailable", "cannot ask the agent on " + path + ": " + err.Error()}
	}
	defer connection.Close()
	if err := checkServer(connection.(*net.UnixConn), path); err != nil {
		return nil, err
	}
	_ = connection.SetDeadline(time.Now().Add(timeout))
	if _, err := connection.Write(line); err != nil {
		return nil, &Error{"unavailable", "cannot ask the agent on " + path + ": " + err.Error()}
	}
	answer, err := bufio.NewReader(io.LimitReader(connection, maxAnswerBytes)).ReadBytes('\n')
	var netError net.Error
	if errors.As(err, &netError) && netError.Timeout() {
		return nil, &Error{"unavailable", fmt.Sprintf("the agent on %s did not answer within %v", path, timeout)}
	} else if err != nil {
		return nil, &Error{"unavailable", "the agent on " + path + " closed the connection without an answer"}
	}
	return answer, nil
}

// GetTokenResponse asks the agent for a token and returns its whole answer.
func GetTokenResponse(request Request, options Options) (*Token, error) {
	path, err := SocketPath(options)
	if err != nil {
		return nil, err
	}
	if len(request.Scopes) == 0 {
		return nil, &Error{"invalid_request", "at least one scope is required"}
	}
	body, err := json.Marshal(request)
	if err != nil {
		return nil, &Error{"invalid_request", err.Error()}
	}
	line := append([]byte(`{"op":"token",`), body[1:]...)
	timeout := options.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	answer, err := ask(path, append(line, '\n'), timeout)
	if err != nil {
		return nil, err
	}
	var decoded struct {
		Ok      bool   `json:"ok"`
		Code    string `json:"error"`
		Message string `json:"message"`
		Token
	}
	if err := json.Unmarshal(answer, &decoded); err != nil {
		return nil, &Error{"internal", "the agent's answer is not JSON: " + err.Error()}
	}
	if !decoded.Ok {
		return nil, &Error{decoded.Code, decoded.Message}
	}
	return &decoded.Token, nil
}

// GetToken returns an access token for scopes from the running agent. Its
// errors are *Error, with the agent's code.
func GetToken(scopes []string, client string, options Options) (string, error) {
	token, err := GetTokenResponse(Request{Scopes: scopes, Client: client}, options)
	if err != nil {
		return "", err
	}
	return token.AccessToken, nil
}
