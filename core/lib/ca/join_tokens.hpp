// Join tokens of the CA service: each one lets its holder obtain certificates for one namespace
// (and optionally one app id). Kept in SQLite beside the CA, only as a SHA-256 of the secret, so
// a copy of the database lets no one join; revocation and expiry apply to the next request.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace skiff {

struct JoinToken {
  std::string id;             // public part, shown by `skiff ca token list`
  std::string app_namespace;  // identities the token covers: ns/<app_namespace>/...
  std::string app_id;         // empty: any app id of the namespace
  int64_t created = 0;        // unix seconds
  int64_t expires = 0;        // unix seconds, 0 never
  bool revoked = false;
};

class JoinTokenStore {
 public:
  // Opens (or creates) the database; its file is owner-only.
  static Result<std::unique_ptr<JoinTokenStore>> open(const std::filesystem::path& file);
  ~JoinTokenStore();
  JoinTokenStore(const JoinTokenStore&) = delete;
  JoinTokenStore& operator=(const JoinTokenStore&) = delete;

  // A new token; the whole token (id and secret) exists only in what this returns.
  Result<std::string> create(const std::string& app_namespace, const std::string& app_id,
                             int64_t ttl_seconds);
  Result<std::vector<JoinToken>> list();
  // Revokes the token with this id (or the whole token's id part).
  Status revoke(const std::string& id);
  // The token's record when `token` is one that is known, not revoked and not expired; the secret
  // is compared in constant time. The error never tells which of these it was not.
  Result<JoinToken> check(const std::string& token);

 private:
  explicit JoinTokenStore(sqlite3* db) : db_(db) {}
  Status exec(const char* sql);
  std::mutex mu_;  // one statement at a time on the handle; requests are few
  sqlite3* db_;
};

// "skiff-jt.<id>.<secret>" → {id, secret}; false when it is not of that form.
bool split_join_token(const std::string& token, std::string& id, std::string& secret);

}  // namespace skiff
