#pragma once
// Who may ask the daemon to act (POST /backup, POST /checkpoint): root, the
// daemon's own user, and members of admin-group, judged by the peer's
// credentials from the kernel (SO_PEERCRED, SO_PEERGROUPS), never by anything
// the client says. Everyone who can reach the socket may still read (GET).
#include <optional>
#include <string>
#include <vector>

#include "sqlkeeper/daemon/health_server.h"

namespace sqlkeeper::daemon {

struct AdminPolicy {
  unsigned self_uid = 0;
  std::optional<unsigned> admin_gid;  // none when admin-group is empty or unknown
};

// Pure: may this peer act?
bool may_administer(const HttpRequest& request, const AdminPolicy& policy);

// The policy for this process and `admin_group` (looked up in the group database).
AdminPolicy admin_policy(const std::string& admin_group);

class Maintenance;

// Answers POST /backup (202 and the job to follow) and POST /checkpoint (its
// result, later); 403 for a peer that may not act. nullopt for other requests.
std::optional<HttpResponse> admin_route(const HttpRequest& request, Maintenance& maintenance,
                                        const AdminPolicy& policy);

}  // namespace sqlkeeper::daemon
