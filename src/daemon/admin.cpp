#include "sqlkeeper/daemon/admin.h"

#include <grp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "sqlkeeper/daemon/maintenance.h"

namespace sqlkeeper::daemon {
namespace {

using nlohmann::json;

HttpResponse json_response(unsigned status, const json& body) {
  return {status, "application/json", body.dump() + "\n"};
}

json checkpoint_result_json(const Outcome<core::CheckpointResult>& r) {
  if (!r.value) return {{"ok", false}, {"error", r.error}};
  const auto& v = *r.value;
  return {{"ok", true},
          {"complete", v.complete},
          {"wal_frames", v.wal_frames},
          {"checkpointed_frames", v.checkpointed_frames},
          {"passive_passes", v.passive_passes},
          {"last_pass_frames", v.last_pass_frames},
          {"wal_bytes_before", v.wal_bytes_before},
          {"wal_bytes_after", v.wal_bytes_after},
          {"duration_ms", v.duration.count()},
          {"note", v.note}};
}

}  // namespace

bool may_administer(const HttpRequest& request, const AdminPolicy& policy) {
  if (request.peer_uid < 0) return false;
  const auto uid = static_cast<unsigned>(request.peer_uid);
  if (uid == 0 || uid == policy.self_uid) return true;
  if (!policy.admin_gid) return false;
  if (request.peer_gid >= 0 && static_cast<unsigned>(request.peer_gid) == *policy.admin_gid) return true;
  return std::find(request.peer_groups.begin(), request.peer_groups.end(), *policy.admin_gid) !=
         request.peer_groups.end();
}

AdminPolicy admin_policy(const std::string& admin_group) {
  AdminPolicy policy;
  policy.self_uid = ::geteuid();
  if (admin_group.empty()) return policy;
  group g{};
  group* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getgrnam_r(admin_group.c_str(), &g, buffer.data(), buffer.size(), &found) == 0 && found)
    policy.admin_gid = found->gr_gid;
  else
    spdlog::warn("admin-group '{}' does not exist; only root and this daemon's user may POST", admin_group);
  return policy;
}

std::optional<HttpResponse> admin_route(const HttpRequest& request, Maintenance& maintenance,
                                        const AdminPolicy& policy) {
  const auto target = request.target.substr(0, request.target.find('?'));
  if (request.method != "POST" || (target != "/backup" && target != "/checkpoint")) return std::nullopt;
  if (!may_administer(request, policy)) {
    spdlog::warn("refused POST {} from uid {}: not root, this daemon's user or in admin-group", target,
                 request.peer_uid);
    return json_response(403, {{"error", "only root, the daemon's user and members of admin-group may POST"}});
  }
  if (target == "/backup") {
    const auto started = maintenance.backup_now("POST /backup from uid " + std::to_string(request.peer_uid));
    return json_response(202, {{"job", "backup"}, {"id", started.id}, {"joined", started.joined},
                               {"follow", "/status"}});
  }
  HttpResponse later{202, "application/json", ""};
  later.later = [&maintenance, uid = request.peer_uid](std::function<void(HttpResponse)> answer) {
    maintenance.checkpoint_now("POST /checkpoint from uid " + std::to_string(uid),
                               [answer = std::move(answer)](const Outcome<core::CheckpointResult>& r) {
                                 answer(json_response(r.value ? 200 : 409, checkpoint_result_json(r)));
                               });
  };
  return later;
}

}  // namespace sqlkeeper::daemon
