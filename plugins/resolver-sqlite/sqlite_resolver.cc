// resolver-sqlite: the embedded default resolver. Sidecars on one machine share one SQLite file
// (WAL, busy timeout): each registers a row and heartbeats it; a row is live while its heartbeat
// is younger than `ttl`. Every SQLite call runs on the plugin's own worker thread; resolve()
// answers from an in-memory snapshot refreshed by that worker, so the host's event loop never
// waits on the database. Each heartbeat also checks that the path still names the file that is
// open: one deleted or replaced under running sidecars is opened again and registered in again.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "resolver_abi.hpp"
#include "skiff/plugin.hpp"

namespace {

using skiff::sdk::str;
using skiff::sdk::view;
using Clock = std::chrono::steady_clock;

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string default_db_path() {
  namespace fs = std::filesystem;
  if (const char* d = std::getenv("STATE_DIRECTORY"); d && *d) {  // systemd StateDirectory=
    std::string first(d);
    return (fs::path(first.substr(0, first.find(':'))) / "nameresolution.db").string();
  }
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x)
    return (fs::path(x) / "skiff" / "nameresolution.db").string();
  if (const char* h = std::getenv("HOME"); h && *h)
    return (fs::path(h) / ".local" / "state" / "skiff" / "nameresolution.db").string();
  return "/var/lib/skiff/nameresolution.db";
}

struct Config {
  std::string path;
  uint64_t heartbeat_ms = 1000;
  uint64_t ttl_ms = 5000;
  uint64_t refresh_ms = 1000;
  uint64_t busy_timeout_ms = 800;
  uint64_t cleanup_ms = 60000;
};

struct Row {
  std::string address;
  int64_t last_update;
};

// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  Statement& bind(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  int step() { return sqlite3_step(stmt_); }
  std::string text(int col) const {
    auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col))
             : std::string();
  }
  int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

// Which file a path names: a file deleted or replaced under us has another identity (or none).
struct FileIdentity {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileIdentity&) const = default;
};

// An exclusive flock on the database's directory while a sidecar opens and initialises the file,
// so that deciding whether the -wal and -shm files are orphans and creating the database happen
// as one step among skiff sidecars (see remove_orphaned_wal). Waiting is bounded: a stopped
// process holding it must not keep others from starting; without the lock nothing is removed.
class DirectoryLock {
 public:
  explicit DirectoryLock(const std::string& dir) {
    fd_ = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) return;
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if ((errno != EWOULDBLOCK && errno != EINTR) || Clock::now() >= deadline) {
        ::close(fd_);
        fd_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  ~DirectoryLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// What the file at a path holds, read from its header without SQLite: SQLite pairs any file with
// the -wal and -shm files next to it before it validates the header.
enum class FileKind { kMissingOrEmpty, kRollbackDatabase, kWalDatabase, kNotDatabase, kUnreadable };

FileKind inspect(const std::string& path, std::string& why) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return FileKind::kMissingOrEmpty;
    why = std::strerror(errno);
    return FileKind::kUnreadable;
  }
  std::array<unsigned char, 20> header{};
  ssize_t n = ::read(fd, header.data(), header.size());
  int read_errno = errno;
  ::close(fd);
  if (n < 0) {
    why = std::strerror(read_errno);
    return FileKind::kUnreadable;
  }
  if (n == 0) return FileKind::kMissingOrEmpty;
  static constexpr char kMagic[] = "SQLite format 3";  // 16 bytes with its NUL
  if (n < 16 || std::memcmp(header.data(), kMagic, sizeof kMagic) != 0)
    return FileKind::kNotDatabase;
  // Byte 18 is the write version: 2 while the database is in WAL mode, 1 otherwise.
  return n > 18 && header[18] == 2 ? FileKind::kWalDatabase : FileKind::kRollbackDatabase;
}

class SqliteResolver {
 public:
  SqliteResolver(const skiff_host_api_t* host, Config cfg) : host_(host), cfg_(std::move(cfg)) {}
  ~SqliteResolver() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    sqlite3_close_v2(db_);
  }

  // Runs on the control thread at start-up, so blocking here is allowed.
  std::string open() {
    if (auto err = open_database(db_, identity_); !err.empty()) return err;
    worker_ = std::thread([this] { run(); });
    return "";
  }

  void register_self(const skiff_registration_t* self, skiff_done_fn done, void* ud) {
    Registration r{std::string(view(self->app_id)), std::string(view(self->app_namespace)),
                   std::string(view(self->host)) + ":" + std::to_string(self->internal_port),
                   new_registration_id()};
    enqueue([this, r = std::move(r), done, ud] {
      std::string err = write_registration(r);
      if (err.empty()) {
        registration_ = r;
        next_heartbeat_ = Clock::now() + std::chrono::milliseconds(cfg_.heartbeat_ms);
        log(SKIFF_LOG_INFO,
            "registered " + r.app_id + "." + r.ns + " at " + r.address + " in " + cfg_.path);
        refresh();
      }
      done(ud, err.empty() ? SKIFF_OK : SKIFF_ERR_UNAVAILABLE, str(err));
    });
  }

  void deregister_self(skiff_done_fn done, void* ud) {
    enqueue([this, done, ud] {
      std::string err;
      if (registration_) {
        Statement st(db_, "DELETE FROM hosts WHERE registration_id = ?");
        st.bind(1, registration_->id);
        if (st.step() != SQLITE_DONE) err = sqlite3_errmsg(db_);
        registration_.reset();
      }
      done(ud, err.empty() ? SKIFF_OK : SKIFF_ERR_UNAVAILABLE, str(err));
    });
  }

  void resolve(const skiff_resolve_request_t* req, skiff_resolve_done_fn done, void* ud) {
    // The common case reads an immutable snapshot that the worker swaps whole.
    auto snap = snapshot();
    thread_local std::string key;
    make_key(key, view(req->app_namespace), view(req->app_id));
    if (auto it = snap->find(key); it != snap->end() && !it->second.empty())
      return complete(key, it->second, done, ud);
    // Not in the snapshot: perhaps it registered since the last refresh. Ask the database.
    enqueue([this, key = key, done, ud, asked = Clock::now()] {
      // Misses in a burst (an unknown app called in a loop) share one query: any refresh that
      // started after this miss was asked sees everything committed before it.
      if (last_refresh_ <= asked) refresh();
      auto fresh = snapshot();
      auto it = fresh->find(key);
      complete(key, it == fresh->end() ? std::vector<std::string>{} : it->second, done, ud);
    });
  }

  void report_unavailable(std::string_view app_id, std::string_view ns, std::string_view address) {
    std::lock_guard lock(suspects_mu_);  // rare path: a peer could not be reached
    suspects_[std::string(address)] = unix_ms();
    // Copy on write: readers keep the snapshot they hold.
    auto snap = snapshot();
    std::string key;
    make_key(key, ns, app_id);
    auto it = snap->find(key);
    if (it == snap->end() || it->second.size() <= 1) return;
    auto next = std::make_shared<Snapshot>(*snap);
    std::erase((*next)[key], std::string(address));
    publish(std::move(next));
  }

 private:
  struct Registration {
    std::string app_id, ns, address, id;
  };

  // Snapshot keys are "namespace\napp"; built into a reused buffer so a lookup allocates nothing.
  static void make_key(std::string& out, std::string_view ns, std::string_view app) {
    out.assign(ns);
    out.push_back('\n');
    out.append(app);
  }

  static std::string new_registration_id() {
    std::random_device rd;
    std::string id;
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 32; ++i) id.push_back(kHex[rd() & 15]);
    return id;
  }

  void complete(const std::string& key, const std::vector<std::string>& addresses,
                skiff_resolve_done_fn done, void* ud) {
    if (addresses.empty())
      return done(ud, SKIFF_ERR_NOT_FOUND, nullptr, 0, str("no live instance"));
    // Round robin per app: each call starts one further along the list. Counters are picked by a
    // hash of the app, so calls to other apps in between do not skew this one's rotation.
    auto& counter = rotation_[std::hash<std::string>{}(key) % rotation_.size()];
    size_t start = counter.fetch_add(1, std::memory_order_relaxed) % addresses.size();
    std::vector<skiff_str_t> views;
    views.reserve(addresses.size());
    for (size_t i = 0; i < addresses.size(); ++i)
      views.push_back(str(addresses[(start + i) % addresses.size()]));
    done(ud, SKIFF_OK, views.data(), views.size(), str(""));
  }

  void log(int32_t level, const std::string& msg) const {
    host_->log(host_->host, level, str("resolver-sqlite"), str(msg));
  }

  static std::pair<int, std::string> exec(sqlite3* db, const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    std::string msg = rc == SQLITE_OK ? "" : err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return {rc & 0xff, msg};
  }

  void enqueue(std::function<void()> job) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

  // Opens the database at the path, creating the file and the schema if needed, into `out` and
  // records which file that is. On failure `out` is untouched and nothing stays open. Runs at
  // start-up and on the worker when the file was deleted or replaced.
  std::string open_database(sqlite3*& out, FileIdentity& identity) {
    std::error_code ec;
    auto dir = std::filesystem::path(cfg_.path).parent_path();
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    if (ec) return "cannot create directory " + dir.string() + ": " + ec.message();
    DirectoryLock lock(dir.string());
    std::string why;
    switch (inspect(cfg_.path, why)) {
      case FileKind::kNotDatabase:
        // Refused before SQLite sees it: SQLite would pair it with the -wal and -shm of the
        // file it replaced, which other sidecars may still be writing. Those are orphans now,
        // and left in place they would be paired with whatever file is put back.
        if (lock.held()) remove_orphaned_wal();
        return cfg_.path + ": file is not a database";
      case FileKind::kUnreadable:
        return "cannot open " + cfg_.path + ": " + why;
      case FileKind::kMissingOrEmpty:
      case FileKind::kRollbackDatabase:
        if (lock.held()) remove_orphaned_wal();
        break;
      case FileKind::kWalDatabase:
        break;
    }
    sqlite3* db = nullptr;
    int rc =
        sqlite3_open_v2(cfg_.path.c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_close_v2(db);
      return "cannot open " + cfg_.path + ": " + sqlite3_errstr(rc);
    }
    sqlite3_busy_timeout(db, static_cast<int>(cfg_.busy_timeout_ms));
    // Switching to WAL needs a moment of exclusive access while another sidecar may be creating
    // the same file: the busy timeout waits for it, and a busy answer that skipped the busy
    // handler (lock upgrade) is tried again. Any other error is final.
    std::string err;
    for (int attempt = 0; attempt < 5; ++attempt) {
      std::tie(rc, err) = exec(db, "PRAGMA journal_mode=WAL");
      if (rc == SQLITE_OK)
        std::tie(rc, err) =
            exec(db,
                 "CREATE TABLE IF NOT EXISTS hosts ("
                 " registration_id TEXT PRIMARY KEY,"
                 " address TEXT NOT NULL UNIQUE,"
                 " app_id TEXT NOT NULL,"
                 " namespace TEXT NOT NULL,"
                 " last_update INTEGER NOT NULL);"
                 "CREATE INDEX IF NOT EXISTS hosts_app ON hosts(app_id, namespace, last_update);");
      if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
    }
    // SQLite keeps no way to fstat its descriptor, so the identity is taken from the path now,
    // while the lock keeps other sidecars from creating the file anew.
    struct stat st {};
    if (err.empty() && ::stat(cfg_.path.c_str(), &st) != 0)
      err = std::string("cannot stat it: ") + std::strerror(errno);
    if (!err.empty()) {
      close_detached(db);
      return cfg_.path + ": " + err;
    }
    out = db;
    identity = FileIdentity{st.st_dev, st.st_ino};
    return "";
  }

  // The -wal and -shm files next to a missing, empty or rollback-mode database (or a file that is
  // no database) belong to a file that was deleted or replaced: a database in WAL mode always
  // says so in its header. SQLite would pair them with the new file while sidecars still using
  // the old one keep writing to them, and the new file then reads the old one's pages or fails
  // with "disk I/O error". Removing the names leaves those sidecars their open files; they move
  // over on their next heartbeat. Called with the directory lock held, so no sidecar is creating
  // the new file's own.
  void remove_orphaned_wal() {
    bool removed = false;
    for (const char* suffix : {"-wal", "-shm"})
      removed |= ::unlink((cfg_.path + suffix).c_str()) == 0;
    if (removed) log(SKIFF_LOG_INFO, "removed the -wal and -shm files of a previous " + cfg_.path);
  }

  // Closes a connection to a file that is no longer (or never became) the one at the path. A
  // last connection normally checkpoints and then deletes the -wal and -shm files by name, and
  // those names may by now belong to the new file.
  static void close_detached(sqlite3* db) {
    if (!db) return;
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    sqlite3_close_v2(db);
  }

  // Worker thread only from here on.

  // Whether the path still names the file that is open; if not, opens what is there now (or
  // creates it), registers there again and answers from it. Until that succeeds the old file
  // stays open: sidecars that have not noticed yet keep meeting there, and the last view stays.
  void check_file() {
    struct stat st {};
    const char* what;
    if (::stat(cfg_.path.c_str(), &st) == 0) {
      if (FileIdentity{st.st_dev, st.st_ino} == identity_) {
        if (fault_) log(SKIFF_LOG_WARN, cfg_.path + " is the file in use again");
        fault_ = false;
        failures_ = 0;
        return;
      }
      what = "replaced";
    } else if (errno == ENOENT || errno == ENOTDIR) {
      what = "deleted";
    } else {
      report_fault(std::string("cannot check ") + cfg_.path + ": " + std::strerror(errno));
      return;
    }
    if (!fault_) {
      fault_ = true;
      log(SKIFF_LOG_WARN, cfg_.path + " was " + what +
                              " while in use; opening the file now at that path and registering "
                              "again (sidecars started since could not find this one)");
    }
    sqlite3* fresh = nullptr;
    FileIdentity identity;
    if (auto err = open_database(fresh, identity); !err.empty()) {
      report_fault("cannot reopen " + err +
                   "; keeping the previous file (instances known so far stay reachable), "
                   "retrying on every heartbeat");
      return;
    }
    close_detached(db_);
    db_ = fresh;
    identity_ = identity;
    fault_ = false;
    failures_ = 0;
    // Peers still on the old file move over on their own heartbeat; until then (at most a ttl)
    // calls to them keep going by the view taken from the old file.
    carried_ = snapshot();
    carried_until_ = Clock::now() + std::chrono::milliseconds(cfg_.ttl_ms);
    if (registration_) {
      if (auto err = write_registration(*registration_); !err.empty()) {
        log(SKIFF_LOG_WARN, err);  // the heartbeat registers again when it finds no row
      } else {
        log(SKIFF_LOG_WARN, "reopened " + cfg_.path + "; registered " + registration_->app_id +
                                "." + registration_->ns + " at " + registration_->address +
                                " again");
      }
    } else {
      log(SKIFF_LOG_WARN, "reopened " + cfg_.path);
    }
    refresh();
  }

  // A fault that persists is logged when first seen and then at most every 30 s, with the count
  // of attempts in between, instead of once per heartbeat.
  void report_fault(const std::string& msg) {
    ++failures_;
    auto now = Clock::now();
    if (failures_ > 1 && now < next_fault_log_) return;
    next_fault_log_ = now + std::chrono::seconds(30);
    log(SKIFF_LOG_ERROR,
        failures_ == 1 ? msg : msg + " (" + std::to_string(failures_) + " attempts so far)");
  }

  std::string write_registration(const Registration& r) {
    Statement st(
        db_,
        "INSERT OR REPLACE INTO hosts (registration_id, address, app_id, namespace, last_update)"
        " VALUES (?, ?, ?, ?, ?)");
    st.bind(1, r.id).bind(2, r.address).bind(3, r.app_id).bind(4, r.ns).bind(5, unix_ms());
    return st.step() == SQLITE_DONE ? "" : std::string("cannot register: ") + sqlite3_errmsg(db_);
  }

  void heartbeat() {
    Statement st(db_, "UPDATE hosts SET last_update = ? WHERE registration_id = ?");
    st.bind(1, unix_ms()).bind(2, registration_->id);
    if (st.step() != SQLITE_DONE) {
      log(SKIFF_LOG_WARN, std::string("heartbeat failed, will retry: ") + sqlite3_errmsg(db_));
      return;
    }
    if (sqlite3_changes(db_) == 0) {
      // Someone removed our row (cleanup after a long pause, a manual delete): register again
      // instead of dying, so callers find us within one heartbeat.
      log(SKIFF_LOG_WARN,
          "registration row of " + registration_->address + " disappeared; registering again");
      if (auto err = write_registration(*registration_); !err.empty()) log(SKIFF_LOG_WARN, err);
    }
  }

  void refresh() {
    last_refresh_ = Clock::now();
    const int64_t now = unix_ms();
    Statement st(db_,
                 "SELECT app_id, namespace, address, last_update FROM hosts WHERE last_update >= ? "
                 "ORDER BY address");
    st.bind(1, now - static_cast<int64_t>(cfg_.ttl_ms));
    std::map<std::string, std::vector<Row>> rows;
    std::string key;
    int rc;
    while ((rc = st.step()) == SQLITE_ROW) {
      make_key(key, st.text(1), st.text(0));
      rows[key].push_back(Row{st.text(2), st.integer(3)});
    }
    if (rc != SQLITE_DONE) {
      log(SKIFF_LOG_WARN,
          std::string("refresh failed, keeping the previous view: ") + sqlite3_errmsg(db_));
      return;
    }
    if (carried_ && last_refresh_ < carried_until_) {
      for (const auto& [app_key, addresses] : *carried_) {
        auto& list = rows[app_key];
        for (const auto& address : addresses)
          if (std::none_of(list.begin(), list.end(),
                           [&](const Row& r) { return r.address == address; }))
            list.push_back(Row{address, 0});  // no heartbeat seen here: a suspect stays out
      }
    } else {
      carried_.reset();
    }
    auto next = std::make_shared<Snapshot>();
    std::lock_guard lock(suspects_mu_);
    for (auto& [app_key, list] : rows) {
      auto& out = (*next)[app_key];
      std::vector<std::string> held_back;
      for (auto& row : list) {
        // An instance reported unreachable stays out until it heartbeats after the report.
        auto s = suspects_.find(row.address);
        if (s != suspects_.end()) {
          if (row.last_update <= s->second) {
            held_back.push_back(std::move(row.address));
            continue;
          }
          suspects_.erase(s);
        }
        out.push_back(std::move(row.address));
      }
      // When every instance is suspect, trying one beats answering "not found".
      if (out.empty()) out = std::move(held_back);
    }
    publish(std::move(next));
  }

  void cleanup() {
    Statement st(db_, "DELETE FROM hosts WHERE last_update < ?");
    // Only rows whose heartbeat is older than the ttl, which are by definition not live.
    st.bind(1, unix_ms() - static_cast<int64_t>(cfg_.ttl_ms));
    if (st.step() != SQLITE_DONE)
      log(SKIFF_LOG_WARN, std::string("cleanup failed: ") + sqlite3_errmsg(db_));
    else if (int n = sqlite3_changes(db_))
      log(SKIFF_LOG_DEBUG, "removed " + std::to_string(n) + " expired rows");
  }

  void run() {
    auto next_refresh = Clock::now() + std::chrono::milliseconds(cfg_.refresh_ms);
    auto next_cleanup = Clock::now();
    auto next_check = Clock::now() + std::chrono::milliseconds(cfg_.heartbeat_ms);
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (!jobs_.empty()) {
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        job();
        lock.lock();
        continue;
      }
      auto now = Clock::now();
      auto run_unlocked = [&](auto fn) {
        lock.unlock();
        fn();
        lock.lock();
      };
      // On the heartbeat's period and just before it, so the heartbeat goes to the current file.
      if (now >= next_check) {
        run_unlocked([&] { check_file(); });
        next_check = now + std::chrono::milliseconds(cfg_.heartbeat_ms);
        continue;
      }
      if (registration_ && now >= next_heartbeat_) {
        run_unlocked([&] { heartbeat(); });
        next_heartbeat_ = now + std::chrono::milliseconds(cfg_.heartbeat_ms);
        continue;
      }
      if (now >= next_refresh) {
        run_unlocked([&] { refresh(); });
        next_refresh = now + std::chrono::milliseconds(cfg_.refresh_ms);
        continue;
      }
      if (now >= next_cleanup) {
        run_unlocked([&] { cleanup(); });
        next_cleanup = now + std::chrono::milliseconds(cfg_.cleanup_ms);
        continue;
      }
      auto wake = std::min({next_refresh, next_cleanup, next_check});
      if (registration_) wake = std::min(wake, next_heartbeat_);
      cv_.wait_until(lock, wake);
    }
  }

  const skiff_host_api_t* host_;
  Config cfg_;
  sqlite3* db_ = nullptr;  // used by the worker thread only (after open())
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::optional<Registration> registration_;  // worker only
  Clock::time_point next_heartbeat_{};        // worker only
  Clock::time_point last_refresh_{};          // worker only
  FileIdentity identity_;                     // of the open file; worker only (after open())
  bool fault_ = false;                        // the path names another file or none; worker only
  uint64_t failures_ = 0;                     // reopen attempts failed in a row; worker only
  Clock::time_point next_fault_log_{};        // worker only

  // Live instances by "namespace\napp", in the order calls should try them. Readers share the
  // lock only to copy the pointer; the worker swaps in a whole new snapshot.
  using Snapshot = std::map<std::string, std::vector<std::string>, std::less<>>;
  std::shared_ptr<const Snapshot> snapshot() const {
    std::shared_lock lock(snapshot_mu_);
    return snapshot_;
  }
  void publish(std::shared_ptr<const Snapshot> next) {
    std::unique_lock lock(snapshot_mu_);
    snapshot_.swap(next);
  }  // the old snapshot is released here, after the lock
  mutable std::shared_mutex snapshot_mu_;
  std::shared_ptr<const Snapshot> snapshot_ = std::make_shared<const Snapshot>();
  // The view from a file left behind, merged into refreshes until carried_until_; worker only.
  std::shared_ptr<const Snapshot> carried_;
  Clock::time_point carried_until_{};
  std::mutex suspects_mu_;  // guards suspects_: taken by refreshes and failure reports only
  std::map<std::string, int64_t> suspects_;
  std::array<std::atomic<uint64_t>, 64> rotation_{};
};

// ---- C ABI: create() parses the configuration; resolver_abi.hpp does the rest ----

// What open() would refuse about the file at `path`, read without creating or changing anything.
std::string check_database_file(const std::string& path) {
  std::string why;
  switch (inspect(path, why)) {
    case FileKind::kNotDatabase:
      return path + ": file is not a database";
    case FileKind::kUnreadable:
      return "cannot open " + path + ": " + why;
    default:
      return "";
  }
}

// The configuration as create() takes it; throws std::invalid_argument naming the key.
Config parse_config(const skiff_host_api_t* host, const skiff_config_t* config) {
  skiff::sdk::ConfigReader reader(host, config);
  static constexpr std::string_view kKeys[] = {
      "path", "heartbeat_interval", "ttl", "refresh_interval", "busy_timeout", "cleanup_interval"};
  reader.reject_unknown_keys(kKeys);
  Config cfg;
  cfg.path = reader.string_or("path", "");
  if (cfg.path.empty()) cfg.path = default_db_path();
  cfg.heartbeat_ms = reader.duration_ms_or("heartbeat_interval", cfg.heartbeat_ms);
  cfg.ttl_ms = reader.duration_ms_or("ttl", cfg.ttl_ms);
  cfg.refresh_ms = reader.duration_ms_or("refresh_interval", cfg.refresh_ms);
  cfg.busy_timeout_ms = reader.duration_ms_or("busy_timeout", cfg.busy_timeout_ms);
  cfg.cleanup_ms = reader.duration_ms_or("cleanup_interval", cfg.cleanup_ms);
  if (cfg.heartbeat_ms == 0 || cfg.refresh_ms == 0 || cfg.cleanup_ms == 0)
    throw std::invalid_argument(reader.describe("heartbeat_interval") +
                                ": intervals must be greater than 0");
  if (cfg.ttl_ms <= cfg.heartbeat_ms)
    throw std::invalid_argument(reader.describe("ttl") +
                                ": must be longer than heartbeat_interval");
  return cfg;
}

skiff_status_t create(const skiff_host_api_t* host, const skiff_config_t* config, void** instance,
                      skiff_errbuf_t err) {
  return skiff::sdk::guard(err, [&]() -> skiff_status_t {
    Config cfg = parse_config(host, config);
    auto r = std::make_unique<SqliteResolver>(host, std::move(cfg));
    if (auto e = r->open(); !e.empty()) throw std::runtime_error(e);
    *instance = r.release();
    return SKIFF_OK;
  });
}

// What check mode runs: the same parsing as create(), nothing started.
skiff_status_t check_config(const skiff_host_api_t* host, const skiff_config_t* config,
                            skiff_errbuf_t err) {
  return skiff::sdk::guard(err, [&]() -> skiff_status_t {
    Config cfg = parse_config(host, config);
    if (auto e = check_database_file(cfg.path); !e.empty()) throw std::runtime_error(e);
    return SKIFF_OK;
  });
}

}  // namespace

SKIFF_BUNDLED_RESOLVER(SqliteResolver, create, check_config, "sqlite", "resolver-sqlite")
