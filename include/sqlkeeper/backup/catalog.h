#pragma once
// The backups on disk: which files in the backup folder are sqlkeeper's
// finished backups (name pattern + sidecar), which are its unfinished
// temporaries, and which are someone else's (never touched, listed as foreign).
// The sidecar "<backup>.sha256" is a sha256sum(1) line followed by "# key: value"
// lines (sha256sum -c ignores them) describing the backup and its verification.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sqlkeeper::core {

struct Sidecar {
  std::string sha256;
  std::string file_name;
  std::map<std::string, std::string> fields;  // size, pages, schema_version, verified, ...

  std::string field(const std::string& key) const;
  // Verified when written, and not found damaged by a later scrub (backup/scrub.h).
  bool verified() const { return field("verified") == "ok" && (field("checked").empty() || field("check") == "ok"); }
};

// The sidecar key naming the database a backup is of: its configured path made
// absolute. Why the path and nothing else: an id kept in the database would change
// the applications' data; the inode changes when the file is copied or restored
// with --to and moved into place; the machine id changes when the backups are
// taken to a new machine after a disaster, exactly when they are needed. The
// path survives a restore in place, a VACUUM and a move to a new machine.
// Sidecars written before it are taken as this database's (they were chosen by
// the file name alone, as before).
inline constexpr const char* kDatabaseKey = "database";
std::string database_identity(const std::filesystem::path& database);

// Pure: text <-> Sidecar. parse_sidecar returns nullopt unless the first line is
// "<64 lowercase hex>  <file_name>" for the expected file name; read_sidecar_text
// says why not.
struct ParsedSidecar {
  std::optional<Sidecar> sidecar;
  std::string problem;  // set when sidecar is nullopt
};
std::string format_sidecar(const Sidecar& sidecar);
ParsedSidecar read_sidecar_text(const std::string& text, const std::string& expected_file_name);
std::optional<Sidecar> parse_sidecar(const std::string& text, const std::string& expected_file_name);

struct BackupName {
  std::chrono::system_clock::time_point at;
  std::string label;  // "", "pre-migration", "pre-restore", ...
};
// "<stem>-<UTC yyyymmddThhmmssZ>[-<label>][-<n>].db"; nullopt for any other name.
std::optional<BackupName> parse_backup_name(const std::string& name, const std::string& stem);

struct CatalogEntry {
  std::filesystem::path file;
  BackupName name;
  std::uint64_t size = 0;
  std::optional<Sidecar> sidecar;  // nullopt: missing or unreadable, so not a finished backup
  bool sidecar_exists = false;     // a file "<backup>.sha256" is there, whether it parses or not
  std::string sidecar_problem;     // why the sidecar that exists is not this backup's
  std::filesystem::file_time_type mtime;
  bool finished() const { return sidecar.has_value(); }
  bool verified() const { return sidecar && sidecar->verified(); }
};

struct Catalog {
  std::vector<CatalogEntry> backups;           // named like ours, oldest first (finished or not)
  std::vector<std::filesystem::path> temporaries;  // "*.db.tmp" and friends of ours, left by a killed run
  std::vector<std::filesystem::path> foreign;      // everything else
};

// Reads the folder; a missing folder is an empty catalog. Symlinks are never
// followed: a link with our name is foreign.
Catalog read_catalog(const std::filesystem::path& dir, const std::string& stem);

// One file, named like a backup or not, with its sidecar (for `verify FILE`).
CatalogEntry describe_file(const std::filesystem::path& file);

// The newest finished, verified backup without a label (pre-migration and
// pre-restore copies are not "the last backup").
const CatalogEntry* last_regular_backup(const Catalog& catalog);

// The lock file that serialises backups, restores and pruning in one folder.
inline constexpr const char* kBackupLockName = ".sqlkeeper.lock";
// The WAL archive's folder in the backup folder, unless archive-dir says otherwise.
inline constexpr const char* kArchiveFolderName = "wal";

}  // namespace sqlkeeper::core
