"""The lab's network: namespaces, veth pairs on one bridge, link emulators,
captures, and a teardown that leaves nothing behind (also on Ctrl-C).

Layout (every name carries the run's prefix, so two labs can coexist):

    PREFIXsw   the switch: bridge br0 and one port per host; captures here
    PREFIXwan  link emulators (linkemu.py) between session clients and the switch
    PREFIXsN   server hosts, straight on the bridge
    PREFIXcN   a session's client host: eth0 -> wan (emulated link) -> switch
    PREFIXdN   IoT devices and the IoT "cloud", straight on the bridge

No namespace has a route out: the bridge lives in its own namespace, not in
the machine's, and every address is inside LAB_NET.
"""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

LAB_NET = "10.203.0.0/16"
LAB_PREFIXLEN = 16
HERE = os.path.dirname(os.path.abspath(__file__))


class LabError(RuntimeError):
    pass


class Lab:
    def __init__(self, prefix, workdir, verbose=False):
        self.prefix = prefix
        self.workdir = workdir
        self.verbose = verbose
        self.lock = threading.Lock()
        self.namespaces = []
        self.procs = []
        self.closing = False
        self.sw = prefix + "sw"
        self.wan = prefix + "wan"
        self.log = open(os.path.join(workdir, "lab.log"), "a", buffering=1)

    # --- commands -------------------------------------------------------
    def sh(self, argv, check=True, ns=None, quiet=False, timeout=60):
        if ns:
            argv = ["ip", "netns", "exec", ns] + list(argv)
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout)
        if not quiet:
            self.log.write("$ %s -> %d %s\n" % (" ".join(argv), r.returncode, r.stderr.strip()[:400]))
        if check and r.returncode != 0:
            raise LabError("%s: exit %d: %s" % (" ".join(argv), r.returncode, r.stderr.strip()))
        return r

    def spawn(self, ns, argv, stdout=None, stderr=None, stdin=None, cwd=None, env=None):
        if self.closing:
            raise LabError("the lab is being torn down")
        full = ["ip", "netns", "exec", ns] + list(argv)
        self.log.write("& [%s] %s\n" % (ns, " ".join(argv)))
        out = stdout if stdout is not None else self.log
        err = stderr if stderr is not None else self.log
        p = subprocess.Popen(full, stdout=out, stderr=err, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                             cwd=cwd, env=env, start_new_session=True)
        with self.lock:
            self.procs.append(p)
        return p

    def run_in(self, ns, argv, timeout, stdout=None, input_text=None):
        """Runs a client program to its end, bounded by timeout (killed after)."""
        p = self.spawn(ns, argv, stdout=stdout, stdin=subprocess.PIPE if input_text is not None else None)
        try:
            if input_text is not None:
                p.stdin.write(input_text.encode() if isinstance(input_text, str) else input_text)
                p.stdin.close()
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(p)
            return None

    def stop(self, p, sig=signal.SIGTERM, wait=5.0):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        with self.lock:
            if p in self.procs:
                self.procs.remove(p)

    # --- namespaces and links --------------------------------------------
    def ns_add(self, name):
        if self.closing:
            raise LabError("the lab is being torn down")
        self.sh(["ip", "netns", "add", name])
        with self.lock:
            self.namespaces.append(name)
        self.sh(["ip", "-n", name, "link", "set", "lo", "up"])
        # No IPv6 (router solicitations, MLD): the lab is IPv4 only.
        self.sh(["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1",
                 "net.ipv6.conf.default.disable_ipv6=1"], ns=name)

    def ns_del(self, name):
        out = self.sh(["ip", "netns", "pids", name], check=False, quiet=True).stdout.split()
        for pid in out:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        self.sh(["ip", "netns", "del", name], check=False)
        with self.lock:
            if name in self.namespaces:
                self.namespaces.remove(name)

    def offloads_off(self, ns, dev):
        # Real frames on the wire: no GSO super-frames or partial checksums
        # in the captures (and linkemu could not forward them).
        self.sh(["ethtool", "-K", dev, "tx", "off", "tso", "off", "gso", "off", "gro", "off"],
                ns=ns, check=False, quiet=True)

    def setup(self):
        for ns in (self.sw, self.wan):
            self.ns_add(ns)
        self.sh(["ip", "-n", self.sw, "link", "add", "name", "br0", "type", "bridge",
                 "forward_delay", "0", "stp_state", "0", "mcast_snooping", "0"])
        self.sh(["ip", "-n", self.sw, "link", "set", "br0", "up"])

    def host_settings(self, ns, os_like):
        """The host's OS-like stack settings (initial TTL, TCP options)."""
        self.sh(["sysctl", "-q", "-w", "net.ipv4.ip_default_ttl=%d" % os_like["ttl"],
                 "net.ipv4.tcp_timestamps=%d" % os_like["tcp_timestamps"],
                 "net.ipv4.tcp_sack=%d" % os_like["tcp_sack"],
                 "net.ipv4.tcp_window_scaling=%d" % os_like["tcp_window_scaling"]], ns=ns)

    def add_bridged_host(self, ns, port, addr, mac, os_like):
        """A host straight on the bridge (servers, IoT devices)."""
        self.ns_add(ns)
        self.host_settings(ns, os_like)
        self.sh(["ip", "-n", self.sw, "link", "add", "name", port, "type", "veth",
                 "peer", "name", "eth0", "netns", ns])
        self._finish_port(port)
        self._finish_eth0(ns, addr, mac)

    def add_emulated_host(self, ns, idx, addr, mac, os_like, link, seed):
        """A session client behind an emulated link: eth0 -> cN (wan) ->
        linkemu -> uN (wan) -> sN (switch). Returns the switch port name."""
        self.ns_add(ns)
        self.host_settings(ns, os_like)
        c, u, s = "c%d" % idx, "u%d" % idx, "s%d" % idx
        self.sh(["ip", "-n", self.wan, "link", "add", "name", c, "type", "veth",
                 "peer", "name", "eth0", "netns", ns])
        self.sh(["ip", "-n", self.wan, "link", "add", "name", u, "type", "veth",
                 "peer", "name", s, "netns", self.sw])
        for dev in (c, u):
            self.offloads_off(self.wan, dev)
            self.sh(["ip", "-n", self.wan, "link", "set", dev, "up"])
        self._finish_port(s)
        self._finish_eth0(ns, addr, mac)
        emu = self.spawn(self.wan, [sys.executable, os.path.join(HERE, "linkemu.py"), c, u,
                                    "--delay-ms", "%.1f" % link["delay_ms"],
                                    "--jitter-ms", "%.1f" % link["jitter_ms"],
                                    "--loss", "%.4f" % link["loss"],
                                    "--rate-kbit", "%d" % link["rate_kbit"],
                                    "--seed", str(seed), "--ipid", os_like.get("ipid", "keep")])
        return s, emu

    def remove_emulated_host(self, ns, idx, emu):
        self.stop(emu)
        self.ns_del(ns)
        self.sh(["ip", "-n", self.wan, "link", "del", "u%d" % idx], check=False, quiet=True)

    def _finish_port(self, port):
        self.offloads_off(self.sw, port)
        self.sh(["ip", "-n", self.sw, "link", "set", port, "master", "br0"])
        self.sh(["ip", "-n", self.sw, "link", "set", port, "up"])

    def _finish_eth0(self, ns, addr, mac):
        self.offloads_off(ns, "eth0")
        self.sh(["ip", "-n", ns, "link", "set", "eth0", "address", mac])
        if addr:
            self.sh(["ip", "-n", ns, "addr", "add", "%s/%d" % (addr, LAB_PREFIXLEN), "dev", "eth0"])
        self.sh(["ip", "-n", ns, "link", "set", "eth0", "up"])

    # --- captures ------------------------------------------------------------
    def capture(self, port, path, mac):
        """tcpdump on a switch port, full snaplen; returns once it listens.
        Only the host's own frames: broadcasts of other hosts (DHCP, ARP)
        reach every port and would be labelled with this host's class.
        The DHCP server's broadcast replies to this host are kept (chaddr,
        at UDP offset 36, is its MAC)."""
        m = mac.replace(":", "").lower()
        bpf = ("ether host %s or (ether dst ff:ff:ff:ff:ff:ff and udp src port 67 and "
               "udp[36:4] = 0x%s and udp[40:2] = 0x%s)" % (mac, m[:8], m[8:]))
        errpath = path + ".tcpdump.log"
        err = open(errpath, "w")
        p = self.spawn(self.sw, ["tcpdump", "-i", port, "-s", "0", "-n", "-U", "-Z", "root",
                                 "--immediate-mode", "-w", path, bpf], stderr=err)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(errpath) as f:
                if "listening on" in f.read():
                    break
            if p.poll() is not None:
                raise LabError("tcpdump on %s exited: %s" % (port, open(errpath).read().strip()))
            time.sleep(0.02)
        err.close()
        return p

    def end_capture(self, p, path):
        self.stop(p, sig=signal.SIGINT, wait=10)
        log = path + ".tcpdump.log"
        try:
            with open(log) as f:
                text = f.read()
            os.unlink(log)
        except OSError:
            text = ""
        return text

    # --- teardown --------------------------------------------------------
    def teardown(self):
        self.closing = True
        with self.lock:
            procs = list(self.procs)
        for p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 3
        for p in procs:
            try:
                p.wait(timeout=max(deadline - time.monotonic(), 0.05))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        # Twice: a session thread may have been creating a host meanwhile.
        for _ in range(2):
            names = set(leftover_namespaces(self.prefix))
            with self.lock:
                names |= set(self.namespaces)
            for ns in sorted(names, reverse=True):
                self.ns_del(ns)
            time.sleep(0.3)
        # Per-namespace resolv.conf files (ip netns exec bind-mounts them).
        try:
            for n in os.listdir("/etc/netns"):
                if n.startswith(self.prefix):
                    shutil.rmtree(os.path.join("/etc/netns", n), ignore_errors=True)
        except FileNotFoundError:
            pass
        self.log.close()


def leftover_namespaces(prefix):
    try:
        return [n for n in os.listdir("/run/netns") if n.startswith(prefix)]
    except FileNotFoundError:
        return []
