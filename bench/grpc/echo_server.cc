// skiff-grpc-echo: the benchmark's gRPC app. Answers every method, unary or streaming, by
// sending each request message back unchanged (grpc++'s generic callback service: no schema).
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

namespace {

class Echo final : public grpc::ServerGenericBidiReactor {
 public:
  Echo() { StartRead(&message_); }
  void OnReadDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::OK);  // the client finished sending
    StartWrite(&message_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::UNKNOWN, "write failed"));
    StartRead(&message_);
  }
  void OnDone() override { delete this; }

 private:
  grpc::ByteBuffer message_;
};

class Service final : public grpc::CallbackGenericService {
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    return new Echo();
  }
};

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  CLI::App app{"skiff-grpc-echo: a gRPC server that echoes every message of every method"};
  app.add_option("--port", port, "Port on 127.0.0.1")->required();
  CLI11_PARSE(app, argc, argv);
  Service service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials());
  builder.RegisterCallbackGenericService(&service);
  builder.SetMaxReceiveMessageSize(-1);
  auto server = builder.BuildAndStart();
  if (!server) {
    std::cerr << "skiff-grpc-echo: cannot listen on port " << port << "\n";
    return 1;
  }
  std::cerr << "skiff-grpc-echo listening on 127.0.0.1:" << port << std::endl;
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  int sig = 0;
  sigwait(&stop, &sig);  // the harness stops it with SIGTERM
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return 0;
}
