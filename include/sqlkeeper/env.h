#pragma once
// The seam between sqlkeeper and the outside world's clock and file system
// (after leveldb's Env). Everything that publishes a file or asks the time goes
// through an Env, so a test can fail an fsync or a rename, or move time by a month,
// without touching the real disk or waiting.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

namespace sqlkeeper {

class Env {
 public:
  using Clock = std::chrono::system_clock;
  virtual ~Env() = default;

  virtual Clock::time_point now() const { return Clock::now(); }

  // Flushes a file's data and metadata to stable storage.
  virtual void fsync_file(const std::filesystem::path& path);
  // Flushes a directory, making a rename or creation inside it durable.
  virtual void fsync_dir(const std::filesystem::path& dir);
  virtual void rename(const std::filesystem::path& from, const std::filesystem::path& to);
  // Gives `from` the name `to` only while nothing has that name: throws
  // Error(conflict) naming `to` when something does, and replaces nothing.
  virtual void rename_new(const std::filesystem::path& from, const std::filesystem::path& to);
  // Creates a new, empty file with `mode` (exactly: the umask does not apply);
  // never through a symbolic link, never over an existing file.
  virtual void create_file(const std::filesystem::path& path, unsigned mode);
  // Creates a folder and its missing parents; the folder itself gets `mode`.
  virtual void create_directories(const std::filesystem::path& dir, unsigned mode);
  // Deletes a file (a symbolic link itself, never what it points to); false when
  // there was none. Throws Error(io) naming it when it cannot.
  virtual bool remove_file(const std::filesystem::path& path);
  // Writes `data` to `path` through a temporary name, fsyncs it and renames it
  // into place; the file is never seen half-written.
  virtual void write_file_atomic(const std::filesystem::path& path, const std::string& data, unsigned mode);
  virtual std::uint64_t free_bytes(const std::filesystem::path& path) const;
  // Appends `size` bytes to an existing file (not durable until fsync_file).
  virtual void append(const std::filesystem::path& path, const void* data, std::size_t size);
  // Cuts an existing file to `size` bytes.
  virtual void truncate(const std::filesystem::path& path, std::uint64_t size);

  // The process-wide real environment.
  static Env& real();
};

}  // namespace sqlkeeper
