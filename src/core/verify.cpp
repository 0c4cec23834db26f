#include "sqlkeeper/core/verify.h"

#include <fcntl.h>
#include <unistd.h>

#include "sqlkeeper/core/catalog.h"
#include "sqlkeeper/core/integrity.h"
#include "sqlkeeper/core/sha256.h"
#include "sqlkeeper/error.h"
#include "sqlkeeper/fd.h"

namespace sqlkeeper::core {
namespace {

using Ms = std::chrono::milliseconds;

Ms since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - t);
}

std::optional<Sidecar> sidecar_of(const std::filesystem::path& file) {
  const auto path = std::filesystem::path(file.string() + ".sha256");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(std::filesystem::symlink_status(path, ec))) return std::nullopt;
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::string text(64 * 1024, '\0');
  const auto n = ::read(fd.get(), text.data(), text.size());
  if (n <= 0) return std::nullopt;
  text.resize(static_cast<std::size_t>(n));
  return parse_sidecar(text, file.filename().string());
}

}  // namespace

VerifyResult verify_backup(const std::filesystem::path& file, Job& job) {
  const auto started = std::chrono::steady_clock::now();
  VerifyResult r;
  r.file = file;
  std::error_code ec;
  const auto status = std::filesystem::symlink_status(file, ec);
  if (!std::filesystem::is_regular_file(status)) {
    r.problem = std::filesystem::exists(status) ? "not a regular file" : "no such file";
    return r;
  }
  if (const auto sidecar = sidecar_of(file)) {
    r.checksum_checked = true;
    const auto actual = sha256_file(file);
    if (actual != sidecar->sha256) {
      r.problem = "checksum mismatch: the sidecar says " + sidecar->sha256 + ", the file has " + actual;
      r.duration = since(started);
      return r;
    }
  }
  job.check("verifying " + file.string());
  try {
    const auto check = check_database(file, CheckDepth::full, job, Ms(0));
    if (!check.ok) r.problem = "integrity_check: " + check.first_error;
  } catch (const Error& e) {
    if (e.code() == ErrorCode::stopped) throw;
    r.problem = e.what();
  }
  r.ok = r.problem.empty();
  r.duration = since(started);
  return r;
}

}  // namespace sqlkeeper::core
