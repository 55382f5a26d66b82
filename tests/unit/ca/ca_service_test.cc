// The CA service's pieces without the network: join tokens in a real SQLite file, certificate
// requests made and signed with OpenSSL, and the decision on a request.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "ca/ca_directory.hpp"
#include "ca/join_tokens.hpp"
#include "ca/sign_request.hpp"
#include "common/address_list.hpp"
#include "security/certificates.hpp"

namespace skiff {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class CaDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("skiff-ca-service-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    ASSERT_TRUE(init_ca_directory(dir_, "example.org", 24h, 12h).ok());
    auto store = JoinTokenStore::open(dir_ / "tokens.db");
    ASSERT_TRUE(store.ok()) << store.error().message;
    tokens_ = std::move(*store);
  }
  void TearDown() override {
    tokens_.reset();
    fs::remove_all(dir_);
  }
  SignAnswer ask(const std::string& token, const std::string& uri, uint64_t ttl = 3600) {
    auto request = make_workload_request(uri);
    EXPECT_TRUE(request.ok());
    nlohmann::json body = {{"token", token}, {"csr", request->csr_pem}, {"ttl_seconds", ttl}};
    return answer_sign_request(dir_, *tokens_, body.dump(), 600s);
  }
  fs::path dir_;
  std::unique_ptr<JoinTokenStore> tokens_;
};

TEST_F(CaDir, ATokenWorksUntilRevokedAndOnlyWhole) {
  auto token = tokens_->create("prod", "", 0);
  ASSERT_TRUE(token.ok());
  auto checked = tokens_->check(*token);
  ASSERT_TRUE(checked.ok());
  EXPECT_EQ(checked->app_namespace, "prod");
  std::string tampered = *token;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  EXPECT_FALSE(tokens_->check(tampered).ok());
  EXPECT_FALSE(tokens_->check(token->substr(0, token->size() - 1)).ok());
  EXPECT_FALSE(tokens_->check("").ok());
  std::string id, secret;
  ASSERT_TRUE(split_join_token(*token, id, secret));
  ASSERT_TRUE(tokens_->revoke(id).ok());
  EXPECT_FALSE(tokens_->check(*token).ok());
  EXPECT_EQ(tokens_->revoke("0000000000000000").error().code, SKIFF_ERR_NOT_FOUND);
  auto listed = tokens_->list();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE(listed->front().revoked);
}

TEST_F(CaDir, TheCaSignsWhatTheTokenCoversAndNothingElse) {
  auto prod = *tokens_->create("prod", "", 0);
  auto cart_only = *tokens_->create("prod", "cart", 0);
  auto ok = ask(prod, "spiffe://example.org/ns/prod/orders", 99999);
  ASSERT_EQ(ok.status, 200u) << ok.body;
  auto body = nlohmann::json::parse(ok.body);
  auto uri = verify_chain(body["chain"].get<std::string>(), body["bundle"].get<std::string>());
  ASSERT_TRUE(uri.ok()) << uri.error().message;
  EXPECT_EQ(*uri, "spiffe://example.org/ns/prod/orders");
  auto validity = certificate_validity(body["chain"].get<std::string>());
  EXPECT_LE(validity->second - std::chrono::system_clock::now(), 601s);  // capped at the maximum
  EXPECT_EQ(ask(prod, "spiffe://example.org/ns/dev/orders").status, 403u);
  EXPECT_EQ(ask(prod, "spiffe://other.org/ns/prod/orders").status, 403u);
  EXPECT_EQ(ask(cart_only, "spiffe://example.org/ns/prod/orders").status, 403u);
  EXPECT_EQ(ask(cart_only, "spiffe://example.org/ns/prod/cart").status, 200u);
  EXPECT_EQ(ask("skiff-jt.nope", "spiffe://example.org/ns/prod/cart").status, 401u);
  EXPECT_EQ(ask(prod, "spiffe://example.org/skiff-ca").status, 400u);  // never the CA's own ID
  for (std::string_view bad : {"", "{}", "[1]", R"({"token": 1, "csr": "x"})",
                               R"({"token": "t", "csr": "-----BEGIN CERTIFICATE REQUEST-----"})"})
    EXPECT_GE(answer_sign_request(dir_, *tokens_, bad, 600s).status, 400u) << bad;
}

TEST_F(CaDir, AHalfRotatedIssuerIsRefusedNotUsed) {
  auto prod = *tokens_->create("prod", "", 0);
  // A new issuer certificate beside the old key: the CA must not sign with a mismatched pair.
  auto other_root = make_root_ca("example.org", 24h);
  auto other_issuer = make_issuing_ca(*other_root, "example.org", 12h);
  ASSERT_TRUE(other_issuer.ok());
  fs::remove(dir_ / "issuer.crt");
  FILE* f = fopen((dir_ / "issuer.crt").c_str(), "w");
  fputs(other_issuer->cert_pem.c_str(), f);
  fclose(f);
  EXPECT_FALSE(load_ca_directory(dir_).ok());
  EXPECT_EQ(ask(prod, "spiffe://example.org/ns/prod/cart").status, 503u);
}

TEST(Certificates, ARequestNamesItsOneUriAndItsKeyIsKept) {
  auto request = make_workload_request("spiffe://example.org/ns/prod/cart");
  ASSERT_TRUE(request.ok());
  EXPECT_NE(request->key_pem.find("PRIVATE KEY"), std::string::npos);
  auto uri = requested_uri(request->csr_pem);
  ASSERT_TRUE(uri.ok());
  EXPECT_EQ(*uri, "spiffe://example.org/ns/prod/cart");
  EXPECT_FALSE(requested_uri("garbage").ok());
  EXPECT_FALSE(requested_uri(std::string(20000, 'A')).ok());
}

TEST(Certificates, AChainOfAnotherRootDoesNotVerify) {
  auto root = make_root_ca("public", 24h);
  auto other = make_root_ca("public", 24h);
  auto leaf = issue_workload_certificate(*root, "spiffe://public/ns/default/cart", 1h);
  ASSERT_TRUE(leaf.ok());
  EXPECT_TRUE(verify_chain(leaf->chain_pem, root->cert_pem).ok());
  EXPECT_TRUE(verify_chain(leaf->chain_pem, other->cert_pem + root->cert_pem).ok());
  EXPECT_FALSE(verify_chain(leaf->chain_pem, other->cert_pem).ok());
  EXPECT_FALSE(verify_chain("", root->cert_pem).ok());
  EXPECT_FALSE(verify_chain(leaf->chain_pem, "").ok());
}

TEST(HostPort, ParsesNamesAddressesAndPortsAndRefusesTheRest) {
  auto a = parse_host_port("ca.example.org:7443");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "ca.example.org");
  EXPECT_EQ(a->port, 7443);
  auto b = parse_host_port("[::1]:1");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  for (std::string_view bad : {"", ":80", "host", "host:", "host:0", "host:65536", "host:8x",
                               "::1:80", "[::1:80", "host:123456"})
    EXPECT_FALSE(parse_host_port(bad).ok()) << bad;
}

}  // namespace
}  // namespace skiff
