"""Private test "hosts" for the mDNS tests: Linux network namespaces, each with its own D-Bus system bus and
avahi-daemon, connected by a veth pair (2 hosts) or a bridge in an extra namespace (more hosts). Multicast
never reaches the machine's real interfaces: every avahi-daemon runs inside a namespace the test created and
only knows that namespace's veth end (allow-interfaces=).

Each host is a "holder" process -- `ip netns exec NS unshare -m` with a private tmpfs on /run, exec'd into
`dbus-daemon --nofork` -- so /run/dbus/system_bus_socket and /run/avahi-daemon/ are private per host while
the rest of the file system (the build tree, pytest's tmp_path) is shared. Everything else (avahi-daemon,
sidecars, avahi-publish, one-shot commands) joins the holder's mount and network namespace with nsenter.

Use from a test module (tests/ is on sys.path through tests/conftest.py):

    from netns import netns_lan  # noqa: F401  (registers the pytest fixture in this module)

    def test_x(netns_lan):
        a, b = netns_lan.hosts
        pub = a.spawn(["avahi-publish", "-s", "x", "_skiff._tcp", "4242"], a.log_dir / "pub.log")
        ...

or without pytest fixtures: `with NetnsLan(hosts=2, tmp_dir=...) as lan: ...`.
Teardown stops every process started in the hosts (also strays found with `ip netns pids`) and deletes the
namespaces; the fixture does that also when the test fails.
"""
import atexit
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness import Process, wait_until

PREFIX = "skiff-t-"
IFACE = "skiff0"  # the veth end inside every host namespace (interface names are per namespace)
REQUIRED_TOOLS = ("ip", "unshare", "nsenter", "avahi-daemon", "dbus-daemon")
_SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin", "/bin"])
_NAME_RE = re.compile(r"^" + re.escape(PREFIX) + r"[0-9a-f]+-(\d+)-[a-z0-9]+$")

STARTUP_TIMEOUT = 15.0


def tool(name):
    return shutil.which(name, path=_SBIN_PATH)


def missing_tools(names=REQUIRED_TOOLS):
    return [n for n in names if not tool(n)]


def unsupported_reason():
    """None when the harness can run here, otherwise why not (for pytest.skip)."""
    if os.geteuid() != 0:
        return "netns harness needs root (network namespaces, mounts, nsenter)"
    missing = missing_tools()
    if missing:
        return "netns harness needs " + ", ".join(missing) + " (apt-get install iproute2 util-linux avahi-daemon dbus)"
    probe = subprocess.run([tool("unshare"), "--net", "--mount", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create network/mount namespaces here: {probe.stderr.strip()}"
    return None


def _run(args, check=True, timeout=30):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def _ip(*args, check=True):
    return _run([tool("ip"), *args], check=check)


def list_namespaces():
    out = _ip("netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _netns_pids(ns):
    r = _ip("netns", "pids", ns, check=False)
    return [int(p) for p in r.stdout.split() if p.isdigit()]


def pid_alive(pid):
    """True while pid exists and is not a zombie (a killed orphan may wait a while for its reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _kill_and_delete(ns):
    """SIGKILLs whatever still runs in namespace ns, waits for it to go and deletes the namespace."""
    for pid in _netns_pids(ns):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_until(lambda: not _netns_pids(ns), timeout=10, what=f"processes in {ns} to exit")
    _ip("netns", "delete", ns, check=False)


def cleanup_stale_namespaces():
    """Deletes skiff-t-* namespaces left by earlier runs whose owning process is gone. Names carry the owner's
    pid, so namespaces of a run still in progress (in parallel) are never touched."""
    removed = []
    for ns in list_namespaces():
        m = _NAME_RE.match(ns)
        if not m or pid_alive(int(m.group(1))):
            continue
        _kill_and_delete(ns)
        removed.append(ns)
    return removed


def in_root_netns(pid):
    """True when process pid shares the test runner's (the machine's) network namespace."""
    try:
        return os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net")
    except OSError:
        return False


def pids_named(comm):
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == comm:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


DBUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<!-- A private system bus for one test host: the stock system-bus policy, but no <user> (runs as root, so
     no messagebus account is needed), no <fork>/<pidfile>/<syslog>, and no service directories, so nothing
     is ever bus-activated: when the test stops avahi-daemon, it stays stopped. -->
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <includedir>/usr/share/dbus-1/system.d</includedir>
  <includedir>/etc/dbus-1/system.d</includedir>
</busconfig>
"""

AVAHI_CONF = """[server]
host-name={host_name}
domain-name=local
use-ipv4=yes
use-ipv6=yes
allow-interfaces={iface}
enable-dbus=yes
disallow-other-stacks=no
ratelimit-interval-usec=0
ratelimit-burst=1000

[wide-area]
enable-wide-area=no

[publish]
publish-addresses=yes
publish-hinfo=no
publish-workstation=no
publish-domain=no
publish-aaaa-on-ipv4=yes
publish-a-on-ipv6=no

[reflector]
enable-reflector=no

[rlimits]
"""

AVAHI_READY = "Server startup complete"


class Host:
    """One private host: a network namespace + private /run with its own dbus-daemon and avahi-daemon."""

    def __init__(self, lan, name, index, address, address6):
        self.lan = lan
        self.name = name            # namespace name == avahi host name (mDNS: <name>.local)
        self.netns = name
        self.fqdn = f"{name}.local"
        self.index = index
        self.address = address      # IPv4 on the LAN, e.g. 10.213.7.1
        self.address6 = address6    # IPv6 ULA on the LAN, e.g. fd00:5c1f:7::1
        self.iface = IFACE
        self.log_dir = lan.tmp / name
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.holder = None          # dbus-daemon, the process whose namespaces everything joins
        self.avahi = None
        self.processes = []         # everything spawned in this host, stopped at close

    # -- running things inside the host -------------------------------------------------------------------

    def _enter(self, cwd=None):
        assert self.holder is not None and self.holder.running(), f"{self.name}: holder process is not running"
        return [tool("nsenter"), f"--target={self.holder.proc.pid}", "--mount", "--net",
                f"--wd={cwd or os.getcwd()}", "--"]

    def spawn(self, args, log_path, env=None, cwd=None):
        """Starts args inside this host (net + mount namespace); stopped at teardown. Returns harness.Process."""
        p = Process(self._enter(cwd) + [str(a) for a in args], log_path, env)
        self.processes.append(p)
        return p

    def run(self, args, timeout=30, env=None, cwd=None, input=None, check=False):
        """Runs args to completion inside this host and returns the subprocess.CompletedProcess (text output)."""
        return subprocess.run(self._enter(cwd) + [str(a) for a in args], capture_output=True, text=True,
                              timeout=timeout, env=env, input=input,
                              stdin=None if input is not None else subprocess.DEVNULL, check=check)

    def python(self, code, timeout=30, env=None):
        """Runs /usr/bin/python3 -c code inside this host and returns its stdout; fails on a non-zero exit."""
        r = self.run(["/usr/bin/python3", "-c", code], timeout=timeout, env=env)
        if r.returncode != 0:
            raise AssertionError(f"python in {self.name} exited {r.returncode}:\n{r.stderr}")
        return r.stdout

    def link_ready(self):
        """The veth end has carrier (veth carrier comes up asynchronously after both ends are up) and usable
        IPv4, ULA and link-local addresses."""
        info = json.loads(_ip("-n", self.netns, "-j", "addr", "show", "dev", IFACE).stdout)[0]
        flags = info.get("flags", [])
        if "LOWER_UP" not in flags or "NO-CARRIER" in flags or info.get("operstate") not in ("UP", "UNKNOWN"):
            return False
        addrs = {a["local"]: a for a in info.get("addr_info", [])}
        link_local = [a for a in addrs if a.startswith("fe80:")]
        return (self.address in addrs and self.address6 in addrs and bool(link_local)
                and not any(a.get("tentative") for a in addrs.values()))

    # -- lifecycle --------------------------------------------------------------------------------------------

    def _bus_socket(self):
        return f"/proc/{self.holder.proc.pid}/root/run/dbus/system_bus_socket"

    def _bus_listening(self):
        if not self.holder.running():
            raise AssertionError(f"dbus-daemon in {self.name} exited:\n{self.holder.output()}")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            return s.connect_ex(self._bus_socket()) == 0

    def start_holder(self):
        conf = self.log_dir / "dbus.conf"
        conf.write_text(DBUS_CONF)
        script = ("mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /run/dbus /run/avahi-daemon && "
                  f"exec dbus-daemon --config-file={conf} --nofork --nopidfile")
        self.holder = Process([tool("ip"), "netns", "exec", self.netns, tool("unshare"), "--mount",
                               "--propagation", "private", "sh", "-c", script], self.log_dir / "dbus.log")

    def wait_holder(self):
        wait_until(self._bus_listening, timeout=STARTUP_TIMEOUT, what=f"dbus-daemon in {self.name}")
        comm = Path(f"/proc/{self.holder.proc.pid}/comm").read_text().strip()
        assert comm == "dbus-daemon", f"holder of {self.name} is {comm!r}, expected dbus-daemon (exec chain broke)"

    def start_avahi(self, wait=True):
        """Starts avahi-daemon in this host (again, after stop_avahi) and by default waits until it is up."""
        assert self.avahi is None or not self.avahi.running(), f"avahi-daemon already runs in {self.name}"
        conf = self.log_dir / "avahi-daemon.conf"
        conf.write_text(AVAHI_CONF.format(host_name=self.name, iface=self.iface))
        log = self.log_dir / "avahi-daemon.log"
        self._avahi_log_offset = log.stat().st_size if log.exists() else 0
        self.avahi = Process(self._enter() + [tool("avahi-daemon"), "--no-drop-root", "--no-chroot", "--no-rlimits",
                                              "--no-proc-title", "-f", conf], log)
        if wait:
            self.wait_avahi()
        return self.avahi

    def avahi_log(self):
        """avahi-daemon's output since its last start."""
        return self.avahi.output()[self._avahi_log_offset:] if self.avahi else ""

    def _avahi_up(self):
        if not self.avahi.running():
            raise AssertionError(f"avahi-daemon in {self.name} exited {self.avahi.proc.returncode}:\n"
                                 f"{self.avahi_log()}")
        return AVAHI_READY in self.avahi_log()

    def wait_avahi(self, timeout=STARTUP_TIMEOUT):
        """Waits until avahi-daemon has registered on D-Bus and established its host name."""
        wait_until(self._avahi_up, timeout=timeout, what=f"avahi-daemon in {self.name} ({AVAHI_READY!r})")

    def stop_avahi(self, sig=signal.SIGTERM):
        """Stops avahi-daemon (SIGTERM: it sends goodbyes; SIGKILL: it just vanishes). dbus keeps running."""
        if self.avahi is not None:
            self.avahi.stop(sig)

    def avahi_running(self):
        return self.avahi is not None and self.avahi.running()

    def close(self):
        for p in reversed(self.processes):
            p.stop(timeout=5)
        if self.avahi is not None:
            self.avahi.stop(timeout=5)
        if self.holder is not None:
            self.holder.stop(timeout=5)


class NetnsLan:
    """N private hosts on one link. Context manager; close() is idempotent and always tears everything down."""

    def __init__(self, hosts=2, tmp_dir=None, avahi=True):
        assert hosts >= 1
        self._own_tmp = tmp_dir is None
        self.tmp = Path(tmp_dir or tempfile.mkdtemp(prefix="skiff-netns-"))
        self.run_id = secrets.token_hex(3)
        self.subnet = secrets.randbelow(254) + 1  # 10.213.<k>.0/24, fd00:5c1f:<k>::/64
        self.namespaces = []     # everything created, for teardown, in creation order
        self.hosts = []
        self.bridge_ns = None
        self.closed = False
        self.stale_removed = cleanup_stale_namespaces()
        atexit.register(self.close)
        try:
            self._create(hosts, avahi)
        except BaseException:
            self.close()
            raise

    def _ns_name(self, suffix):
        return f"{PREFIX}{self.run_id}-{os.getpid()}-{suffix}"

    def _add_ns(self, name):
        _ip("netns", "add", name)
        self.namespaces.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def _create(self, n, avahi):
        k = self.subnet
        for i in range(n):
            name = self._ns_name(chr(ord("a") + i) if i < 26 else f"h{i}")
            self._add_ns(name)
            self.hosts.append(Host(self, name, i, f"10.213.{k}.{i + 1}", f"fd00:5c1f:{k}::{i + 1}"))
        if n == 2:
            a, b = self.hosts
            _ip("-n", a.netns, "link", "add", IFACE, "type", "veth", "peer", "name", IFACE, "netns", b.netns)
        elif n > 2:
            self.bridge_ns = self._ns_name("br")
            self._add_ns(self.bridge_ns)
            _ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
            for h in self.hosts:
                port = f"p{h.index}"
                _ip("-n", h.netns, "link", "add", IFACE, "type", "veth", "peer", "name", port,
                    "netns", self.bridge_ns)
                _ip("-n", self.bridge_ns, "link", "set", port, "master", "br0", "up")
            _ip("-n", self.bridge_ns, "link", "set", "br0", "up")
        if n == 1:  # a lone host still gets a multicast link: a veth whose peer stays unused in the same namespace
            h = self.hosts[0]
            _ip("-n", h.netns, "link", "add", IFACE, "type", "veth", "peer", "name", "p0")
            _ip("-n", h.netns, "link", "set", "p0", "up")
        for h in self.hosts:
            # No duplicate address detection: addresses (also link-local) are usable at once, no waiting.
            _run([tool("ip"), "netns", "exec", h.netns, "sh", "-c",
                  "for f in all default " + IFACE + "; do echo 0 > /proc/sys/net/ipv6/conf/$f/accept_dad; done"])
            _ip("-n", h.netns, "addr", "add", f"{h.address}/24", "dev", IFACE)
            _ip("-n", h.netns, "-6", "addr", "add", f"{h.address6}/64", "dev", IFACE, "nodad")
            _ip("-n", h.netns, "link", "set", IFACE, "multicast", "on", "up")
        for h in self.hosts:
            wait_until(h.link_ready, timeout=STARTUP_TIMEOUT, what=f"{IFACE} carrier and addresses in {h.name}")
        for h in self.hosts:
            h.start_holder()
        for h in self.hosts:
            h.wait_holder()
        if avahi:
            for h in self.hosts:
                h.start_avahi(wait=False)
            for h in self.hosts:
                h.wait_avahi()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __getitem__(self, i):
        return self.hosts[i]

    def __iter__(self):
        return iter(self.hosts)

    def __len__(self):
        return len(self.hosts)

    def close(self):
        """Stops every process of every host, kills strays still in the namespaces, deletes the namespaces.
        Raises if a namespace could not be removed."""
        if self.closed:
            return
        self.closed = True
        atexit.unregister(self.close)
        errors = []
        for h in reversed(self.hosts):
            try:
                h.close()
            except Exception as e:  # keep tearing down the rest
                errors.append(f"{h.name}: {e!r}")
        for ns in reversed(self.namespaces):
            try:
                _kill_and_delete(ns)
            except Exception as e:
                errors.append(f"{ns}: {e!r}")
        left = [ns for ns in self.namespaces if ns in list_namespaces()]
        if self._own_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if left or errors:
            raise RuntimeError(f"netns teardown incomplete: left {left}, errors {errors}")


@pytest.fixture
def netns_lan(request, tmp_path):
    """A NetnsLan of 2 hosts with avahi running (indirect-parametrize with an int for more hosts)."""
    reason = unsupported_reason()
    if reason:
        pytest.skip(reason)
    lan = NetnsLan(hosts=getattr(request, "param", 2), tmp_dir=tmp_path)
    try:
        yield lan
    finally:
        lan.close()


def parse_browse(output):
    """Parses `avahi-browse -p` output into dicts; resolved ('=') lines carry host, address, port and txt."""
    def unescape(s):
        return re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1))), s)

    entries = []
    for line in output.splitlines():
        f = line.split(";")
        if not f or f[0] not in "+-=" or len(f) < 6:
            continue
        e = {"event": f[0], "iface": f[1], "proto": f[2], "name": unescape(f[3]), "type": f[4], "domain": f[5]}
        if f[0] == "=" and len(f) >= 10:
            e.update(host=f[6], address=f[7], port=int(f[8]),
                     txt=re.findall(r'"((?:[^"\\]|\\.)*)"', ";".join(f[9:])))
        entries.append(e)
    return entries


def browse(host, service_type, resolve=True, timeout=20):
    """One-shot avahi-browse in host (-t: dump what is known and exit). Returns parse_browse() entries."""
    args = ["avahi-browse", "-t", "-p", "-k"] + (["-r"] if resolve else []) + [service_type]
    r = host.run(args, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"avahi-browse in {host.name} failed ({r.returncode}): {r.stderr}")
    return parse_browse(r.stdout)


__all__ = ["NetnsLan", "Host", "netns_lan", "unsupported_reason", "missing_tools", "cleanup_stale_namespaces",
           "list_namespaces", "in_root_netns", "pid_alive", "pids_named", "parse_browse", "browse", "PREFIX"]
