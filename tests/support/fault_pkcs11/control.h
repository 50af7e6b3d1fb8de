// The control directory of the fault module (env MPA_FAULT_DIR): tests write
// small files there to switch faults on and off while the process that loaded
// the module keeps running, and the module writes its counters back there.
// README.md in this folder lists every file name and what it means.
//
// Everything here is per call and cheap (a stat or a read of a tiny file), so
// a fault takes effect on the very next PKCS#11 call after the file changes.
// A ControlDir made from an empty path is switched off: no file "exists", and
// counters and logs are not written, so the module is a plain pass-through.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace mpa_fault {

// Writes "mpa_fault_pkcs11: <message>" to stderr: the module has no other way
// to tell a test that a control file is wrong or a counter cannot be written.
void complain(const std::string& message);

class ControlDir {
 public:
  ControlDir() = default;
  explicit ControlDir(std::string path) : path_(std::move(path)) {}

  bool enabled() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

  // True if the control file `name` exists (of any type).
  bool has(const char* name) const;

  // The contents of the control file `name` with surrounding white space
  // trimmed, or nullopt if it does not exist. Control files are tiny; only
  // the first 4 KiB are read.
  std::optional<std::string> read(const char* name) const;

  // read() for a file that holds a value, where an empty file counts as
  // absent: `echo X >file` truncates before it writes, and a call that reads
  // in between must not take the empty file for a (bad) value.
  std::optional<std::string> read_value(const char* name) const;

  // Blocks the calling thread while `name` exists, checking every 10 ms (a
  // sleep, not a spin: a hung call must not eat the CPU the test needs).
  void wait_while_present(const char* name) const;

  // Adds one to the decimal counter file `name` (a missing file counts as 0).
  // Safe across threads and processes sharing the directory: the update holds
  // an flock on `.counters.lock`, and the new value is written to a temporary
  // file and renamed over the old one, so a reader sees the old or the new
  // number, never a partial one.
  void bump(const char* name) const;

  // Appends `line` and a newline to the file `name` with one write() on an
  // O_APPEND descriptor, so lines from concurrent writers never interleave.
  void append_line(const char* name, const std::string& line) const;

  // An exclusive flock on the file `name` in the directory, held until the
  // Lock is destroyed. Each Lock opens its own descriptor, so two threads of
  // one process exclude each other just as two processes do.
  class Lock {
   public:
    Lock(const ControlDir& dir, const char* name);
    ~Lock();
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

   private:
    int fd_ = -1;
  };

 private:
  std::string file(const char* name) const { return path_ + "/" + name; }
  std::uint64_t read_counter(const char* name) const;

  std::string path_;
};

}  // namespace mpa_fault
