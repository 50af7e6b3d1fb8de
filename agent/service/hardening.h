// The agent process made safer at start, as ssh-agent does: standard
// descriptors open, inherited ones closed (systemd's kept), no core dumps
// or ptrace by the same user, SIGPIPE ignored, a private umask, one malloc
// arena and the open file limit raised to the hard limit.
#pragma once

namespace mpa {

// Once, first thing in `run`, before any thread starts.
void harden_process();

}  // namespace mpa
