#include "ca/join_tokens.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <chrono>

namespace skiff {
namespace {

constexpr std::string_view kPrefix = "skiff-jt.";

std::string hex(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 15]);
  }
  return out;
}

std::string sha256_hex(const std::string& text) {
  unsigned char digest[32];
  unsigned int n = 0;
  EVP_Digest(text.data(), text.size(), digest, &n, EVP_sha256(), nullptr);
  return hex(digest, n);
}

bool lower_hex(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A prepared statement, finalized when it goes out of scope.
struct Statement {
  sqlite3_stmt* s = nullptr;
  Statement(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &s, nullptr); }
  ~Statement() { sqlite3_finalize(s); }
  void text(int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  std::string column(int i) {
    const auto* p = sqlite3_column_text(s, i);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
};

Error db_error(sqlite3* db, const std::string& what) {
  return make_error(SKIFF_ERR_INTERNAL, what + ": " + sqlite3_errmsg(db));
}

}  // namespace

bool split_join_token(const std::string& token, std::string& id, std::string& secret) {
  if (!token.starts_with(kPrefix)) return false;
  auto rest = std::string_view(token).substr(kPrefix.size());
  auto dot = rest.find('.');
  if (dot == std::string_view::npos) return false;
  id = std::string(rest.substr(0, dot));
  secret = std::string(rest.substr(dot + 1));
  return id.size() == 16 && lower_hex(id) && secret.size() == 64 && lower_hex(secret);
}

Result<std::unique_ptr<JoinTokenStore>> JoinTokenStore::open(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  // Created owner-only: the hashes are no secret, but who may join is the CA's business.
  mode_t old = ::umask(077);
  int rc = sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  ::umask(old);
  std::unique_ptr<JoinTokenStore> store(new JoinTokenStore(db));
  if (rc != SQLITE_OK) return db_error(db, "cannot open " + file.string());
  sqlite3_busy_timeout(db, 5000);
  if (auto st = store->exec(
          "CREATE TABLE IF NOT EXISTS join_tokens (id TEXT PRIMARY KEY, secret_sha256 TEXT NOT "
          "NULL, namespace TEXT NOT NULL, app_id TEXT NOT NULL, created INTEGER NOT NULL, "
          "expires INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)");
      !st)
    return st.error();
  return store;
}

JoinTokenStore::~JoinTokenStore() {
  sqlite3_close(db_);
}

Status JoinTokenStore::exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string m = message ? message : "error";
    sqlite3_free(message);
    return make_error(SKIFF_ERR_INTERNAL, "token database: " + m);
  }
  return Ok{};
}

Result<std::string> JoinTokenStore::create(const std::string& app_namespace,
                                           const std::string& app_id, int64_t ttl_seconds) {
  unsigned char id[8], secret[32];
  if (RAND_bytes(id, sizeof id) != 1 || RAND_bytes(secret, sizeof secret) != 1)
    return make_error(SKIFF_ERR_INTERNAL, "no randomness for a token");
  const std::string id_hex = hex(id, sizeof id), secret_hex = hex(secret, sizeof secret);
  std::lock_guard lock(mu_);
  Statement st(db_,
               "INSERT INTO join_tokens (id, secret_sha256, namespace, app_id, created, expires) "
               "VALUES (?, ?, ?, ?, ?, ?)");
  const int64_t now = now_s();
  st.text(1, id_hex);
  st.text(2, sha256_hex(secret_hex));
  st.text(3, app_namespace);
  st.text(4, app_id);
  sqlite3_bind_int64(st.s, 5, now);
  sqlite3_bind_int64(st.s, 6, ttl_seconds > 0 ? now + ttl_seconds : 0);
  if (sqlite3_step(st.s) != SQLITE_DONE) return db_error(db_, "cannot store the token");
  return std::string(kPrefix) + id_hex + "." + secret_hex;
}

Result<std::vector<JoinToken>> JoinTokenStore::list() {
  std::lock_guard lock(mu_);
  Statement st(db_,
               "SELECT id, namespace, app_id, created, expires, revoked FROM join_tokens ORDER BY "
               "created, id");
  std::vector<JoinToken> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW)
    out.push_back({st.column(0), st.column(1), st.column(2), sqlite3_column_int64(st.s, 3),
                   sqlite3_column_int64(st.s, 4), sqlite3_column_int(st.s, 5) != 0});
  if (rc != SQLITE_DONE) return db_error(db_, "cannot read the tokens");
  return out;
}

Status JoinTokenStore::revoke(const std::string& id_or_token) {
  std::string id = id_or_token, secret;
  if (split_join_token(id_or_token, id, secret)) secret.clear();
  std::lock_guard lock(mu_);
  Statement st(db_, "UPDATE join_tokens SET revoked = 1 WHERE id = ?");
  st.text(1, id);
  if (sqlite3_step(st.s) != SQLITE_DONE) return db_error(db_, "cannot revoke the token");
  if (sqlite3_changes(db_) == 0) return make_error(SKIFF_ERR_NOT_FOUND, "no token " + id);
  return Ok{};
}

Result<JoinToken> JoinTokenStore::check(const std::string& token) {
  auto refused = make_error(SKIFF_ERR_UNAUTHENTICATED, "unknown, revoked or expired join token");
  std::string id, secret;
  if (!split_join_token(token, id, secret)) return refused;
  std::lock_guard lock(mu_);
  Statement st(db_,
               "SELECT secret_sha256, namespace, app_id, created, expires, revoked FROM "
               "join_tokens WHERE id = ?");
  st.text(1, id);
  int rc = sqlite3_step(st.s);
  if (rc == SQLITE_DONE) return refused;
  if (rc != SQLITE_ROW) return db_error(db_, "cannot read the tokens");
  const std::string stored = st.column(0), given = sha256_hex(secret);
  JoinToken t{id,
              st.column(1),
              st.column(2),
              sqlite3_column_int64(st.s, 3),
              sqlite3_column_int64(st.s, 4),
              sqlite3_column_int(st.s, 5) != 0};
  if (stored.size() != given.size() ||
      CRYPTO_memcmp(stored.data(), given.data(), given.size()) != 0)
    return refused;
  if (t.revoked || (t.expires != 0 && t.expires <= now_s())) return refused;
  return t;
}

}  // namespace skiff
