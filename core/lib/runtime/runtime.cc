#include "runtime/runtime.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>
#include <thread>

#include "api/grpc_listener.hpp"
#include "api/http_server.hpp"
#include "appchannel/http_app_channel.hpp"
#include "common/call_executor.hpp"
#include "invoke/callee.hpp"
#include "invoke/caller.hpp"
#include "plugin/catalog.hpp"
#include "plugin/components.hpp"
#include "plugin/host_services.hpp"
#include "plugin/middleware_instance.hpp"
#include "runtime/observers.hpp"
#include "runtime/service_manager.hpp"
#include "runtime/startup_check.hpp"
#include "security/identity_keeper.hpp"
#include "telemetry/service_metrics.hpp"

namespace skiff {

namespace asio = boost::asio;

namespace {

struct Inbound {
  asio::io_context* io;
  std::shared_ptr<TransportInstance> transport;
  Callee* callee;
};

void on_inbound_call(void* host_data, skiff_server_call_t* call, const skiff_call_head_t* head) {
  auto* in = static_cast<Inbound*>(host_data);
  asio::co_spawn(call_executor(*in->io),
                 in->callee->serve(in->transport->adopt(call), copy_call_head(*head)),
                 asio::detached);
}

}  // namespace

int run_sidecar(const Settings& settings, SettingsSource reload_source) {
  const unsigned threads = settings.threads > 0 ? static_cast<unsigned>(settings.threads)
                                                : std::max(1u, std::thread::hardware_concurrency());
  asio::io_context io(static_cast<int>(threads));
  set_single_loop_thread(threads == 1);
  HostServices host(io);
  // Declared before everything that records into it, so that it outlives them.
  MetricRegistry metric_registry;
  std::unique_ptr<ServiceMetrics> service_metrics;
  if (settings.metrics_enabled) {
    service_metrics = std::make_unique<ServiceMetrics>(metric_registry, settings.app_id);
    host.set_metrics(&metric_registry);
  }

  auto components = find_configured_components(settings, host.api());
  if (!components) {
    spdlog::critical("{}", components.error().message);
    return 1;
  }
  for (const auto& f : components->refused) spdlog::warn("plugin refused: {}", f.line());
  const auto* resolver_component = &components->resolver;
  const auto* transport_component = &components->transport;
  auto transport =
      TransportInstance::create(*transport_component, host.api(), settings.transport_config);
  if (!transport) {
    spdlog::critical("{}", transport.error().message);
    return 1;
  }
  auto resolver =
      ResolverInstance::create(*resolver_component, host.api(), settings.resolver_config);
  if (!resolver) {
    spdlog::critical("{}", resolver.error().message);
    return 1;
  }

  // mTLS before anything listens: every socket the transport opens from now on starts with a
  // handshake, and the host owns the certificate and its rotation.
  std::unique_ptr<IdentityKeeper> identity;
  if (settings.mtls) {
    auto config = identity_config(settings);
    // Every set the keeper installs, the first included, also goes to the transport: one that
    // runs TLS in its own stack (ABI 1.3) needs the PEMs; one that uses the host's sockets takes
    // this as the switch that turns TLS on.
    config.on_installed = [&transport, &settings](const Credentials& set) -> Status {
      skiff_tls_credentials_t credentials{sizeof(skiff_tls_credentials_t), str(set.chain_pem),
                                          str(set.key_pem), str(set.bundle_pem),
                                          str(settings.trust_domain)};
      return (*transport)->set_credentials(&credentials);
    };
    auto started = IdentityKeeper::start(std::move(config));
    if (!started) {
      spdlog::critical(
          "security.mtls: cannot issue this sidecar's workload certificate or hand it to the "
          "transport: {}; set security.mtls = false to run without mTLS",
          started.error().message);
      return 1;
    }
    identity = std::move(*started);
    host.set_workload_tls(identity->tls());
    spdlog::info("mTLS on: this sidecar is {}", identity->identity());
  } else {
    spdlog::warn(
        "security.mtls = false: sidecars talk plaintext, and a callee trusts whatever app a "
        "caller claims to be");
  }

  SidecarInfo info;
  info.components.push_back({transport_component->plugin_name,
                             "transport." + transport_component->type_name,
                             transport_component->plugin_version});

  auto external = ExternalCaller::create(io, settings);
  if (!external) {
    spdlog::critical("{}", external.error().message);
    return 1;
  }
  std::shared_ptr<ExternalCaller> external_caller = std::move(*external);
  if (identity) info.workload_tls = identity->tls();

  HttpAppChannel app_channel(io, settings);
  std::unique_ptr<AppClient> grpc_app_channel;
  if (settings.app_protocol == "grpc" && settings.app_port != 0) {
    auto module = load_grpc_module();
    if (!module) {
      spdlog::critical("app.protocol = \"grpc\": {}", module.error().message);
      return 1;
    }
    grpc_app_channel = (*module)->create_app_client(settings);
  }
  // The span exporter before the parts that record into it, which it outlives.
  const toml::table span_config = span_exporter_config(settings);
  std::unique_ptr<ObserverInstance> span_exporter;
  SpanSink spans;
  if (components->span_exporter) {
    auto created =
        ObserverInstance::create(*components->span_exporter, host.api(), span_config, "tracing");
    if (!created) {
      spdlog::critical("{}", created.error().message);
      return 1;
    }
    span_exporter = std::move(*created);
    if (auto exporter = span_exporter->span_exporter()) spans.add(*exporter);
  } else if (spans_wanted(settings)) {
    spdlog::warn(
        "OTEL_EXPORTER_OTLP_ENDPOINT is set, but the observer-otlp plugin is not installed: the "
        "sidecar records no spans");
  }

  // The operator's own observers, also before the parts that record into them.
  auto configured_observers =
      ConfiguredObservers::create(settings, components->observers, host.api());
  if (!configured_observers) {
    spdlog::critical("{}", configured_observers.error().message);
    return 1;
  }
  // The set in force: a reload replaces it.
  std::shared_ptr<ConfiguredObservers> observers = std::move(*configured_observers);
  const MetricRegistry* snapshot_registry = service_metrics ? &metric_registry : nullptr;
  observers->activate(spans);
  observers->start_metrics(io, snapshot_registry);

  // The [[middleware]], before the Caller and the Callee that run them.
  std::vector<std::unique_ptr<MiddlewareInstance>> middleware_instances;
  for (size_t i = 0; i < components->middleware.size(); ++i) {
    const auto& config = settings.middleware[i];
    auto created = MiddlewareInstance::create(components->middleware[i], host.api(), config.config,
                                              config.at + ".config");
    if (!created) {
      spdlog::critical("{}", created.error().message);
      return 1;
    }
    middleware_instances.push_back(std::move(*created));
    const auto& c = components->middleware[i];
    info.components.push_back({c.plugin_name, "middleware." + c.type_name, c.plugin_version});
  }
  const MiddlewareChain middleware(std::move(middleware_instances));

  AppClient& app = grpc_app_channel ? *grpc_app_channel : static_cast<AppClient&>(app_channel);
  Callee callee(settings, app);
  // The Caller holds the only reference: a reload that replaces the resolver releases this one.
  Caller caller(settings, std::move(*resolver), *transport);
  Router router(settings, caller, external_caller, info);
  // What a reload changes, each call reads from here.
  LiveSettings live(settings);
  callee.set_live(&live);
  caller.set_live(&live);
  router.set_live(&live);
  callee.set_spans(&spans);
  caller.set_spans(&spans);
  callee.set_middleware(&middleware);
  caller.set_middleware(&middleware);
  router.set_spans(&spans);
  if (service_metrics) {
    callee.set_metrics(service_metrics.get());
    caller.set_metrics(service_metrics.get());
    router.set_metrics(service_metrics.get());
    metric_registry.add_reader("skiff_invocations_in_flight",
                               "Invocations from this sidecar's app that have not finished.",
                               SKIFF_METRIC_GAUGE, [&caller] { return caller.in_flight(); });
    if (identity)
      metric_registry.add_reader(
          "skiff_tls_handshakes_total", "TLS handshakes of this sidecar's transport, both sides.",
          SKIFF_METRIC_COUNTER,
          [tls = identity->tls()] { return static_cast<double>(tls->handshakes()); });
  }
  HttpServer http_server(io, settings, router);
  auto grpc_api = std::make_unique<GrpcListener>(io, settings, caller, info);

  Inbound inbound{&io, *transport, &callee};
  skiff_inbound_handler_t handler{sizeof(skiff_inbound_handler_t), &inbound, on_inbound_call};
  auto internal_port = (*transport)
                           ->listen(settings.internal_address,
                                    static_cast<uint16_t>(settings.internal_port), &handler);
  if (!internal_port && !settings.is_explicit("internal.port")) {
    // Several sidecars on one machine with no configuration: the first takes the default port,
    // the others a free one. Peers learn the actual port from the resolver.
    spdlog::info("internal port {} is taken; using a free port", settings.internal_port);
    internal_port = (*transport)->listen(settings.internal_address, 0, &handler);
  }
  if (!internal_port) {
    spdlog::critical("{}", internal_port.error().message);
    return 1;
  }
  // The default list names both loopbacks; a machine without IPv6 still starts on the other.
  auto http_port =
      http_server.listen(settings.http_listen(), static_cast<uint16_t>(settings.http_port),
                         !settings.is_explicit(settings.http_listen_key()));
  if (!http_port) {
    spdlog::critical("{}", http_port.error().message);
    return 1;
  }

  const bool grpc_lenient = !settings.is_explicit(settings.grpc_listen_key());
  auto grpc_port = grpc_api->listen(settings.grpc_listen(),
                                    static_cast<uint16_t>(settings.grpc_port), grpc_lenient);
  if (!grpc_port && !settings.is_explicit("api.grpc_port")) {
    // As with the internal port: sidecars sharing a machine without configuration.
    spdlog::warn("gRPC API port {} is taken; using a free port", settings.grpc_port);
    // A service registers with one server only: a fresh one for the second try.
    grpc_api = std::make_unique<GrpcListener>(io, settings, caller, info);
    grpc_port = grpc_api->listen(settings.grpc_listen(), 0, grpc_lenient);
  }
  if (!grpc_port) {
    spdlog::critical("{}", grpc_port.error().message);
    return 1;
  }

  // The exposition last of the listeners, once the readers it calls exist; destroyed (its worker
  // stopped) before them.
  const toml::table exporter_config = metrics_exporter_config(settings);
  std::unique_ptr<ObserverInstance> metrics_exporter;
  if (components->metrics_exporter) {
    auto created = ObserverInstance::create(*components->metrics_exporter, host.api(),
                                            exporter_config, "metrics");
    if (created) {
      metrics_exporter = std::move(*created);
    } else if (settings.is_explicit("metrics.port") || settings.is_explicit("metrics.address")) {
      spdlog::critical("{}", created.error().message);
      return 1;
    } else {
      // As with the internal port: several sidecars on one machine, the first one serves.
      spdlog::warn("metrics are kept but not served: {}; set metrics.port",
                   created.error().message);
    }
  } else if (settings.metrics_enabled) {
    spdlog::warn(
        "metrics are kept but not served: the observer-prometheus plugin is not installed");
  }

  int exit_code = 0;
  const std::string advertise = settings.effective_advertise_address();
  const bool registers = !settings.app_id.empty();
  asio::signal_set hangups(io, SIGHUP);
  std::unique_ptr<Reloader> reloader;
  if (reload_source)
    reloader = std::make_unique<Reloader>(
        io, settings, std::move(reload_source),
        ReloadTargets{live, router, caller, host.api(), spans, snapshot_registry, observers});
  std::function<void()> await_hangup = [&] {
    hangups.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      if (reloader)
        reloader->request();
      else
        spdlog::warn("SIGHUP: this sidecar was started without configuration files to reload");
      await_hangup();
    });
  };
  await_hangup();

  auto shutdown = [&]() -> asio::awaitable<void> {
    notify_service_manager("STOPPING=1");
    hangups.cancel();
    http_server.stop();
    grpc_api->shutdown();
    // Calls the app already made get the transport's grace period to finish.
    asio::steady_timer wait(io);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (caller.in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
      wait.expires_after(std::chrono::milliseconds(10));
      boost::system::error_code ec;
      co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (registers) {
      auto r = co_await caller.resolver()->deregister_self();
      if (r.status != SKIFF_OK) spdlog::warn("deregistration failed: {}", r.message);
    }
    co_await (*transport)->shutdown();
    io.stop();
  };

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("received signal {}, shutting down", sig);
    asio::co_spawn(io, shutdown(), asio::detached);
  });

  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto registration = [&]() {
          return skiff_registration_t{sizeof(skiff_registration_t),
                                      str(settings.app_id),
                                      str(settings.app_namespace),
                                      str(advertise),
                                      *internal_port,
                                      *http_port,
                                      0,
                                      static_cast<uint16_t>(settings.app_port)};
        };
        if (registers) {
          const skiff_registration_t self = registration();
          auto r = co_await caller.resolver()->register_self(self);
          if (r.status != SKIFF_OK) {
            spdlog::critical("registration with resolver '{}' failed: {}", settings.resolver_type,
                             r.message);
            exit_code = 1;
            signals.cancel();
            co_await shutdown();
            co_return;
          }
        }
        if (reloader)
          reloader->set_registration(registers ? std::function<skiff_registration_t()>(registration)
                                               : nullptr);
        spdlog::info(
            "skiffd ready: app-id={} namespace={} http={} port {} grpc={} port {} internal={}:{} "
            "resolver={} transport={}",
            settings.app_id.empty() ? "(none)" : settings.app_id, settings.app_namespace,
            settings.http_listen(), *http_port, settings.grpc_listen(), *grpc_port, advertise,
            *internal_port, settings.resolver_type, settings.transport_type);
        // Type=notify: systemd starts what is ordered after this unit only now.
        notify_service_manager(fmt::format("READY=1\nSTATUS=serving app-id={} on http port {}",
                                           settings.app_id.empty() ? "(none)" : settings.app_id,
                                           *http_port));
      },
      asio::detached);

  std::vector<std::thread> workers;
  for (unsigned i = 1; i < threads; ++i) workers.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : workers) t.join();
  observers->push_last_metrics();
  if (int n = caller.in_flight(); n > 0) {
    // Their plugin operations may still complete into the event loop: tearing it down under them
    // is unsafe, and the process is ending anyway.
    spdlog::warn("skiffd stopped with {} calls still in flight", n);
    spdlog::shutdown();  // drains the log queue
    std::_Exit(exit_code);
  }
  spdlog::info("skiffd stopped");
  return exit_code;
}

}  // namespace skiff
