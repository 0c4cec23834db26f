#include "sqlkeeper/backup/verify.h"

#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/db/integrity.h"
#include "sqlkeeper/error.h"

namespace sqlkeeper::core {
namespace {

using Ms = std::chrono::milliseconds;

Ms since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - t);
}

}  // namespace

VerifyResult verify_backup(const std::filesystem::path& file, Job& job, const std::string& database) {
  const auto started = std::chrono::steady_clock::now();
  VerifyResult r;
  r.file = file;
  std::error_code ec;
  const auto status = std::filesystem::symlink_status(file, ec);
  if (!std::filesystem::is_regular_file(status)) {
    r.problem = std::filesystem::exists(status) ? "not a regular file" : "no such file";
    return r;
  }
  const auto state = check_backup(describe_file(file), database, &job);
  r.state = state.state;
  r.checksum_checked = state.content_checked;
  if (state.state == BackupState::damaged) {
    r.problem = "damaged: " + state.problem;
    r.duration = since(started);
    return r;
  }
  if (state.state != BackupState::ok) r.note = std::string(to_string(state.state)) + ": " + state.problem;
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
