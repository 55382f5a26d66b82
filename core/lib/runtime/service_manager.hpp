// Tells systemd (Type=notify units) what the sidecar is doing, by the sd_notify protocol: one
// datagram of "KEY=value" lines to the AF_UNIX socket named by $NOTIFY_SOCKET. The protocol is
// systemd's stable interface (sd_notify(3)); speaking it directly spares skiffd a libsystemd
// dependency for two messages.
#pragma once

#include <string_view>

namespace skiff {

// Sends `state` (e.g. "READY=1\nSTATUS=serving") when a service manager asked for it; does
// nothing otherwise. Never blocks: a datagram the manager cannot take at once is dropped, with a
// warning.
void notify_service_manager(std::string_view state);

}  // namespace skiff
