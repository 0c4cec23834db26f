#include "fault_vfs.h"

#include <cstring>
#include <mutex>
#include <new>

namespace sqlkeeper::test_support {
namespace {

std::mutex mutex;

// Our file, with the default VFS's file right behind it in the same allocation.
struct File {
  sqlite3_file base;
  FaultVfs* owner;
  const char* name;
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};

File* as(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
sqlite3_file* real(sqlite3_file* f) { return as(f)->real(); }
const sqlite3_io_methods* io(sqlite3_file* f) { return real(f)->pMethods; }

int x_close(sqlite3_file* f) { return io(f)->xClose(real(f)); }

int x_read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  if (const int rc = as(f)->owner->on(FaultVfs::read, as(f)->name); rc != SQLITE_OK) return rc;
  return io(f)->xRead(real(f), buf, n, off);
}

int x_write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  if (const int rc = as(f)->owner->on(FaultVfs::write, as(f)->name); rc != SQLITE_OK) {
    // Half the bytes land, then the disk is full.
    if (as(f)->owner->short_write_now() && n > 1) io(f)->xWrite(real(f), buf, n / 2, off);
    return rc;
  }
  return io(f)->xWrite(real(f), buf, n, off);
}

int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (const int rc = as(f)->owner->on(FaultVfs::truncate, as(f)->name); rc != SQLITE_OK) return rc;
  return io(f)->xTruncate(real(f), size);
}

int x_sync(sqlite3_file* f, int flags) {
  if (const int rc = as(f)->owner->on(FaultVfs::sync, as(f)->name); rc != SQLITE_OK) return rc;
  return io(f)->xSync(real(f), flags);
}

int x_file_size(sqlite3_file* f, sqlite3_int64* size) { return io(f)->xFileSize(real(f), size); }
int x_lock(sqlite3_file* f, int level) { return io(f)->xLock(real(f), level); }
int x_unlock(sqlite3_file* f, int level) { return io(f)->xUnlock(real(f), level); }
int x_check_reserved_lock(sqlite3_file* f, int* out) { return io(f)->xCheckReservedLock(real(f), out); }
int x_file_control(sqlite3_file* f, int op, void* arg) { return io(f)->xFileControl(real(f), op, arg); }
int x_sector_size(sqlite3_file* f) { return io(f)->xSectorSize(real(f)); }
int x_device_characteristics(sqlite3_file* f) { return io(f)->xDeviceCharacteristics(real(f)); }
int x_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return io(f)->xShmMap(real(f), region, size, extend, out);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) { return io(f)->xShmLock(real(f), offset, n, flags); }
void x_shm_barrier(sqlite3_file* f) { io(f)->xShmBarrier(real(f)); }
int x_shm_unmap(sqlite3_file* f, int delete_flag) { return io(f)->xShmUnmap(real(f), delete_flag); }
// No memory-mapped pages: every read goes through x_read, where the faults are.
int x_fetch(sqlite3_file*, sqlite3_int64, int, void** out) {
  *out = nullptr;
  return SQLITE_OK;
}
int x_unfetch(sqlite3_file*, sqlite3_int64, void*) { return SQLITE_OK; }

const sqlite3_io_methods methods = {
    3,          x_close,       x_read,      x_write,       x_truncate, x_sync,      x_file_size, x_lock,
    x_unlock,   x_check_reserved_lock,      x_file_control, x_sector_size, x_device_characteristics,
    x_shm_map,  x_shm_lock,    x_shm_barrier, x_shm_unmap, x_fetch,    x_unfetch,
};

FaultVfs* owner(sqlite3_vfs* vfs) { return static_cast<FaultVfs*>(vfs->pAppData); }

int x_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  auto* file = as(f);
  file->base.pMethods = nullptr;
  file->owner = owner(vfs);
  file->name = name != nullptr ? name : "";
  const int rc = owner(vfs)->real()->xOpen(owner(vfs)->real(), name, file->real(), flags, out_flags);
  if (file->real()->pMethods != nullptr) file->base.pMethods = &methods;
  return rc;
}
int x_delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return owner(vfs)->real()->xDelete(owner(vfs)->real(), name, sync_dir);
}
int x_access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return owner(vfs)->real()->xAccess(owner(vfs)->real(), name, flags, out);
}
int x_full_pathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  return owner(vfs)->real()->xFullPathname(owner(vfs)->real(), name, n, out);
}

const char* base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash != nullptr ? slash + 1 : path;
}

}  // namespace

FaultVfs::FaultVfs() {
  real_ = sqlite3_vfs_find(nullptr);
  vfs_ = *real_;
  vfs_.pNext = nullptr;
  vfs_.zName = "sqlkeeper-fault";
  vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
  vfs_.pAppData = this;
  vfs_.xOpen = x_open;
  vfs_.xDelete = x_delete;
  vfs_.xAccess = x_access;
  vfs_.xFullPathname = x_full_pathname;
  sqlite3_vfs_register(&vfs_, 1);
}

FaultVfs::~FaultVfs() {
  sqlite3_vfs_unregister(&vfs_);
  sqlite3_vfs_register(real_, 1);
}

void FaultVfs::arm(int nth, Fault fault, unsigned ops, std::string name_contains) {
  const std::lock_guard lock(mutex);
  nth_ = nth;
  fault_ = fault;
  ops_ = ops;
  match_ = std::move(name_contains);
  count_ = 0;
  fired_ = false;
  last_.clear();
}

void FaultVfs::disarm() {
  const std::lock_guard lock(mutex);
  nth_ = 0;
}

int FaultVfs::on(Op op, const char* file_name) {
  const std::lock_guard lock(mutex);
  if (nth_ == 0 || (ops_ & op) == 0 || std::strstr(base_name(file_name), match_.c_str()) == nullptr) return SQLITE_OK;
  if (++count_ < nth_) return SQLITE_OK;
  if (!fired_) {
    static const char* const names[] = {"", "read", "write", "", "sync", "", "", "", "truncate"};
    last_ = std::string(names[op]) + " " + base_name(file_name);
  }
  fired_ = true;
  switch (op) {
    case read: return SQLITE_IOERR_READ;
    case write: return fault_ == Fault::eio ? SQLITE_IOERR_WRITE : SQLITE_FULL;
    case sync: return SQLITE_IOERR_FSYNC;
    default: return SQLITE_IOERR_TRUNCATE;
  }
}

}  // namespace sqlkeeper::test_support
