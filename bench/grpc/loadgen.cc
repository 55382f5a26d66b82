// skiff-grpc-loadgen: the gRPC side of the benchmark. Unary calls of any method with a raw
// payload (no schema), over --connections channels with one call in flight each, open or closed
// loop exactly as skiff-loadgen (report.hpp). Results as one JSON object on stdout.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "../loadgen/report.hpp"

namespace {

using skiff::bench::Clock;
using skiff::bench::LaneStats;
using skiff::bench::Schedule;

struct Options {
  skiff::bench::LoadShape load;
  std::string target = "127.0.0.1:50001";
  std::string method = "/bench.Echo/Echo";
  std::vector<std::string> metadata;  // "name: value"
};

// One unary call, waited for: a lane has one call in flight, so a blocking wait is the simplest
// honest driver (the lanes are the load generator's own threads, not the measured processes').
grpc::Status call(grpc::GenericStub& stub, const Options& o, const grpc::ByteBuffer& request,
                  grpc::ByteBuffer& response) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  for (const auto& m : o.metadata) {
    auto colon = m.find(':');
    auto value = m.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    ctx.AddMetadata(m.substr(0, colon), value);
  }
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  stub.UnaryCall(&ctx, o.method, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
    std::lock_guard lock(mu);
    status = std::move(s);
    done = true;
    cv.notify_one();
  });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done; });
  return status;
}

void lane(const Options& o, Schedule& schedule, const grpc::ByteBuffer& request, int index,
          LaneStats& stats) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetInt("skiff.bench.lane", index);  // distinct arguments: a connection of its own
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(o.target, grpc::InsecureChannelCredentials(), args);
  channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::GenericStub stub(channel);
  while (auto due = schedule.next()) {
    std::this_thread::sleep_until(*due);  // the schedule: this call is due then (open loop)
    grpc::ByteBuffer response;
    auto status = call(stub, o, request, response);
    auto done = Clock::now();
    if (!schedule.measured(*due)) continue;
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      ++stats.errors;
      continue;
    }
    if (!status.ok()) ++stats.failed;
    stats.latency.record(static_cast<uint64_t>(std::chrono::nanoseconds(done - *due).count()));
    ++stats.completed;
    stats.bytes_in += response.Length();
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"skiff-grpc-loadgen: gRPC unary load generator (open or closed loop)"};
  app.add_option("--target", o.target, "host:port of the gRPC server");
  app.add_option("--method", o.method, "Full method name, e.g. /bench.Echo/Echo");
  skiff::bench::add_load_options(app, o.load, "Channels, one call in flight each");
  app.add_option("--metadata,-H", o.metadata, "Metadata \"name: value\" (repeatable)");
  CLI11_PARSE(app, argc, argv);
  for (const auto& m : o.metadata)
    if (m.find(':') == std::string::npos) {
      std::cerr << "skiff-grpc-loadgen: --metadata needs \"name: value\": " << m << "\n";
      return 2;
    }

  std::string payload(o.load.body_size, 'x');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  grpc::Slice slice(payload);
  grpc::ByteBuffer request(&slice, 1);

  Schedule schedule(o.load);
  std::vector<LaneStats> stats(static_cast<size_t>(o.load.connections));
  std::vector<std::thread> lanes;
  for (int i = 0; i < o.load.connections; ++i)
    lanes.emplace_back([&, i] { lane(o, schedule, request, i, stats[static_cast<size_t>(i)]); });
  for (auto& t : lanes) t.join();
  return skiff::bench::report(stats, o.load);
}
