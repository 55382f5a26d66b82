// Workload identities and mTLS through the host's socket functions (ABI 1.2), with certificates
// from a real local CA on a real socket pair and a real io_context.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <string>

#include "plugin/host_services.hpp"
#include "security/certificates.hpp"
#include "security/local_ca.hpp"
#include "security/spiffe_id.hpp"

namespace skiff {
namespace {

using namespace std::chrono_literals;

TEST(SpiffeId, ParsesDaprsFormAndRefusesTheRest) {
  auto id = parse_spiffe_id("spiffe://public/ns/default/cart");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->trust_domain, "public");
  EXPECT_EQ(id->app_namespace, "default");
  EXPECT_EQ(id->app_id, "cart");
  EXPECT_EQ(id->uri(), "spiffe://public/ns/default/cart");
  for (std::string_view bad : std::initializer_list<std::string_view>{
           "", "spiffe://", "spiffe://public", "spiffe://public/", "spiffe://public/ns/default",
           "spiffe://public/ns/default/", "spiffe://public/ns//cart", "spiffe://Public/ns/d/cart",
           "spiffe://public/x/default/cart", "spiffe://public/ns/default/cart/extra",
           "spiffe://public/ns/../cart", "spiffe://pub lic/ns/d/c", "https://public/ns/d/c",
           "spiffe://public/ns/d/c\r\nx", std::string_view("spiffe://public/ns/d/c\0", 23)}) {
    EXPECT_FALSE(parse_spiffe_id(bad).ok()) << bad;
  }
}

X509* read_leaf(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return cert;
}

TEST(Certificates, AWorkloadCertificateIsAnSvidOfItsId) {
  auto ca = make_root_ca("public", 24h);
  ASSERT_TRUE(ca.ok()) << ca.error().message;
  auto cert = issue_workload_certificate(*ca, "spiffe://public/ns/default/cart", 1h);
  ASSERT_TRUE(cert.ok()) << cert.error().message;
  X509* leaf = read_leaf(cert->chain_pem);
  ASSERT_NE(leaf, nullptr);
  auto uri = svid_uri(leaf);
  X509_free(leaf);
  ASSERT_TRUE(uri.ok()) << uri.error().message;
  EXPECT_EQ(*uri, "spiffe://public/ns/default/cart");
  EXPECT_NEAR(
      std::chrono::duration<double>(cert->not_after - std::chrono::system_clock::now()).count(),
      3600, 5);
  // The root is a CA: never accepted as a workload's leaf.
  X509* root = read_leaf(ca->cert_pem);
  EXPECT_FALSE(svid_uri(root).ok());
  X509_free(root);
}

TEST(LocalCa, IsMadeOnceOwnerOnlyAndReadBack) {
  auto dir = std::filesystem::temp_directory_path() / ("skiff-ca-test-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  auto first = load_or_create_local_ca(dir, "public");
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto again = load_or_create_local_ca(dir, "public");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(first->cert_pem, again->cert_pem);
  auto perms = std::filesystem::status(dir / "ca.key").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::filesystem::remove_all(dir);
}

struct Done {
  int calls = 0;
  skiff_status_t status = -1;
  size_t size = 0;
  std::string message;
  static void fn(void* ud, skiff_status_t status, size_t size, skiff_str_t message) {
    auto* d = static_cast<Done*>(ud);
    ++d->calls;
    d->status = status;
    d->size = size;
    d->message.assign(message.ptr, message.len);
  }
};

// Two hosts (a caller and a callee sidecar) on one loop, joined by a socket pair.
class HostTls : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = make_root_ca("public", 24h);
    ASSERT_TRUE(ca.ok());
    ca_ = *ca;
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds_), 0);
  }
  void TearDown() override {
    if (client_io_) client_->api()->io_close(client_io_);
    if (server_io_) server_->api()->io_close(server_io_);
    loop_.restart();
    loop_.run_for(50ms);
  }
  void give_identity(HostServices& host, const std::string& uri, const CaMaterial& ca) {
    auto cert = issue_workload_certificate(ca, uri, 1h);
    ASSERT_TRUE(cert.ok());
    auto tls = std::make_shared<WorkloadTls>("public");
    ASSERT_TRUE(tls->install(cert->chain_pem, cert->key_pem, ca_.cert_pem, uri, cert->not_after,
                             cert->not_after)
                    .ok());
    host.set_workload_tls(tls);
  }
  void open_both() {
    char why[128] = "";
    client_io_ = client_->api()->io_open(client_->api()->host, fds_[0], {why, sizeof why});
    server_io_ = server_->api()->io_open(server_->api()->host, fds_[1], {why, sizeof why});
    ASSERT_NE(client_io_, nullptr);
    ASSERT_NE(server_io_, nullptr);
  }
  // Handshakes, the client expecting `app`; returns when both ends completed.
  void handshake(std::string_view app) {
    client_->api()->io_start_tls(client_io_, SKIFF_TLS_CLIENT, {app.data(), app.size()},
                                 {"default", 7}, &Done::fn, &client_done_);
    server_->api()->io_start_tls(server_io_, SKIFF_TLS_SERVER, {"", 0}, {"", 0}, &Done::fn,
                                 &server_done_);
    for (int i = 0; i < 2000 && (client_done_.calls == 0 || server_done_.calls == 0); ++i)
      run_a_little();
  }
  // A loop that ran out of work stops; restart it before running it again.
  void run_a_little() {
    loop_.restart();
    loop_.run_for(5ms);
  }
  std::string peer_of(const std::unique_ptr<HostServices>& host, skiff_io_t* io) {
    auto s = host->api()->io_peer_identity(io);
    return std::string(s.ptr, s.len);
  }

  boost::asio::io_context loop_;
  std::unique_ptr<HostServices> client_ = std::make_unique<HostServices>(loop_);
  std::unique_ptr<HostServices> server_ = std::make_unique<HostServices>(loop_);
  CaMaterial ca_;
  int fds_[2] = {-1, -1};
  skiff_io_t* client_io_ = nullptr;
  skiff_io_t* server_io_ = nullptr;
  Done client_done_, server_done_;
};

TEST_F(HostTls, BothEndsLearnTheVerifiedPeerAndDataFlows) {
  give_identity(*client_, "spiffe://public/ns/default/order", ca_);
  give_identity(*server_, "spiffe://public/ns/default/cart", ca_);
  open_both();
  handshake("cart");
  ASSERT_EQ(client_done_.status, SKIFF_OK) << client_done_.message;
  ASSERT_EQ(server_done_.status, SKIFF_OK) << server_done_.message;
  EXPECT_EQ(peer_of(client_, client_io_), "spiffe://public/ns/default/cart");
  EXPECT_EQ(peer_of(server_, server_io_), "spiffe://public/ns/default/order");

  std::string a = "hello ", b = "world";
  skiff_bytes_t pieces[] = {{reinterpret_cast<const uint8_t*>(a.data()), a.size()},
                            {reinterpret_cast<const uint8_t*>(b.data()), b.size()}};
  Done wrote, read;
  client_->api()->io_write(client_io_, pieces, 2, &Done::fn, &wrote);
  char buf[64];
  server_->api()->io_read(server_io_, buf, sizeof buf, &Done::fn, &read);
  for (int i = 0; i < 400 && (wrote.calls == 0 || read.calls == 0); ++i) run_a_little();
  EXPECT_EQ(wrote.status, SKIFF_OK);
  ASSERT_EQ(read.status, SKIFF_OK);
  EXPECT_EQ(std::string(buf, read.size), "hello world");
}

TEST_F(HostTls, APeerThatClosesWithoutCloseNotifyEndsTheStreamAndACancelledReadLeavesItUsable) {
  give_identity(*client_, "spiffe://public/ns/default/order", ca_);
  give_identity(*server_, "spiffe://public/ns/default/cart", ca_);
  open_both();
  handshake("cart");
  ASSERT_EQ(server_done_.status, SKIFF_OK) << server_done_.message;
  char buf[64];
  // Nothing to read: a cancel completes the read as cancelled, and the socket reads on after it.
  Done cancelled;
  server_->api()->io_read(server_io_, buf, sizeof buf, &Done::fn, &cancelled);
  server_->api()->io_cancel(server_io_);
  for (int i = 0; i < 400 && cancelled.calls == 0; ++i) run_a_little();
  EXPECT_EQ(cancelled.status, SKIFF_ERR_CANCELLED);
  std::string a = "after";
  skiff_bytes_t piece{reinterpret_cast<const uint8_t*>(a.data()), a.size()};
  Done wrote, read;
  client_->api()->io_write(client_io_, &piece, 1, &Done::fn, &wrote);
  server_->api()->io_read(server_io_, buf, sizeof buf, &Done::fn, &read);
  for (int i = 0; i < 400 && (wrote.calls == 0 || read.calls == 0); ++i) run_a_little();
  ASSERT_EQ(read.status, SKIFF_OK) << read.message;
  EXPECT_EQ(std::string(buf, read.size), "after");
  // The client goes away as skiffd's sidecars do, without close_notify: the end of the stream,
  // not an error.
  client_->api()->io_close(client_io_);
  client_io_ = nullptr;
  Done ended;
  server_->api()->io_read(server_io_, buf, sizeof buf, &Done::fn, &ended);
  for (int i = 0; i < 400 && ended.calls == 0; ++i) run_a_little();
  EXPECT_EQ(ended.status, SKIFF_OK) << ended.message;
  EXPECT_EQ(ended.size, 0u);
}

TEST_F(HostTls, AClientRefusesACalleeThatIsAnotherApp) {
  give_identity(*client_, "spiffe://public/ns/default/order", ca_);
  give_identity(*server_, "spiffe://public/ns/default/pay", ca_);
  open_both();
  handshake("cart");
  EXPECT_EQ(client_done_.status, SKIFF_ERR_UNAVAILABLE);
  EXPECT_NE(client_done_.message.find("is spiffe://public/ns/default/pay, not "
                                      "spiffe://public/ns/default/cart"),
            std::string::npos)
      << client_done_.message;
}

TEST_F(HostTls, AServerRefusesAClientOfAnotherCa) {
  auto other = make_root_ca("public", 24h);
  ASSERT_TRUE(other.ok());
  // The client's certificate comes from a CA the server does not trust.
  auto cert = issue_workload_certificate(*other, "spiffe://public/ns/default/order", 1h);
  auto tls = std::make_shared<WorkloadTls>("public");
  ASSERT_TRUE(tls->install(cert->chain_pem, cert->key_pem, ca_.cert_pem, "x", cert->not_after,
                           cert->not_after)
                  .ok());
  client_->set_workload_tls(tls);
  give_identity(*server_, "spiffe://public/ns/default/cart", ca_);
  open_both();
  handshake("cart");
  EXPECT_NE(server_done_.status, SKIFF_OK);
  EXPECT_EQ(peer_of(server_, server_io_), "");
}

TEST_F(HostTls, WithoutCredentialsTheSocketStaysPlaintext) {
  open_both();
  handshake("cart");
  EXPECT_EQ(client_done_.status, SKIFF_OK);
  EXPECT_EQ(server_done_.status, SKIFF_OK);
  EXPECT_EQ(peer_of(client_, client_io_), "");
}

// ABI 1.3: the check a transport with its own TLS stack asks for, on PEM it hands over.
TEST_F(HostTls, CheckPeerAcceptsAnSvidOfTheTrustDomainAndRefusesAnythingElse) {
  auto check = [&](std::string_view pem, std::string_view app, std::string* out) {
    char buf[512] = "";
    auto st =
        server_->api()->tls_check_peer(server_->api()->host, {pem.data(), pem.size()},
                                       {app.data(), app.size()}, {"default", 7}, {buf, sizeof buf});
    *out = buf;
    return st;
  };
  std::string out;
  auto cart = issue_workload_certificate(ca_, "spiffe://public/ns/default/cart", 1h);
  ASSERT_TRUE(cart.ok());
  EXPECT_EQ(check(cart->chain_pem, "", &out), SKIFF_ERR_FAILED_PRECONDITION) << "mTLS is off";

  give_identity(*server_, "spiffe://public/ns/default/order", ca_);
  EXPECT_EQ(check(cart->chain_pem, "", &out), SKIFF_OK) << out;
  EXPECT_EQ(out, "spiffe://public/ns/default/cart");
  EXPECT_EQ(check(cart->chain_pem, "cart", &out), SKIFF_OK) << out;
  EXPECT_EQ(check(cart->chain_pem, "pay", &out), SKIFF_ERR_UNAVAILABLE);
  EXPECT_NE(out.find("not spiffe://public/ns/default/pay"), std::string::npos) << out;

  auto evil = issue_workload_certificate(ca_, "spiffe://evil/ns/default/cart", 1h);
  ASSERT_TRUE(evil.ok());
  EXPECT_EQ(check(evil->chain_pem, "", &out), SKIFF_ERR_UNAUTHENTICATED);
  EXPECT_NE(out.find("not of the trust domain public"), std::string::npos) << out;
  // The CA's own certificate is no leaf.
  EXPECT_EQ(check(ca_.cert_pem, "", &out), SKIFF_ERR_UNAUTHENTICATED);

  // Malformed input: nothing, garbage, a cut-off PEM, a key instead of a certificate.
  const std::string& pem = cart->chain_pem;
  for (std::string bad :
       {std::string(), std::string("not a certificate"), pem.substr(0, pem.size() / 2),
        std::string(pem.size() * 2, '\0'), cart->key_pem}) {
    EXPECT_EQ(check(bad, "", &out), SKIFF_ERR_UNAUTHENTICATED) << bad.substr(0, 40);
    EXPECT_FALSE(out.empty());
  }
}

}  // namespace
}  // namespace skiff
