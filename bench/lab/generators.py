"""One generator per traffic class. Each runs real servers and clients from
Debian's packages between the lab's namespaces for one session:

    plan_<class>(rng, preset) -> the session's parameters (drawn from the seed)
    run_<class>(ctx)          -> runs it; ctx.server is the server host,
                                 ctx.clients its client hosts, ctx.port the
                                 server's port (random per session)

Servers are started per session on a random port of a host drawn from the
shared server pool, so neither addresses nor ports tell the classes apart.
"""
import os
import sys
import random
import shutil
import subprocess
import threading
import time

from labnet import HERE

CLASSES = ("web", "file", "voip", "video", "chat", "dns", "iot")


def lognormal_int(rng, median, sigma, lo, hi):
    return int(min(max(rng.lognormvariate(0.0, sigma) * median, lo), hi))


def think(rng, mean, lo=0.2, hi=None):
    t = rng.expovariate(1.0 / mean)
    t = max(t, lo)
    return min(t, hi) if hi else t


# --- nginx (web, file, video, IoT check-ins) ------------------------------
NGINX_CONF = """worker_processes 1;
daemon off;
user root;
pid {dir}/nginx.pid;
error_log {dir}/nginx.err warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  sendfile on;
  keepalive_timeout 30s;
  keepalive_requests 1000;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  types {{ text/html html; application/javascript js; text/css css; image/jpeg jpg;
          image/png png; application/vnd.apple.mpegurl m3u8; video/iso.segment m4s;
          application/octet-stream bin; application/json json; }}
  server {{
    listen {addr}:{port}{ssl};
    {tls}
    root {root};
    location /upload/ {{
      client_max_body_size 4g;
      dav_methods PUT;
      create_full_put_path on;
      root {dir};
    }}
  }}
}}
"""


def start_nginx(ctx, root, tls):
    d = ctx.session_dir("nginx")
    os.makedirs(os.path.join(d, "body"), exist_ok=True)
    tls_lines = ""
    if tls:
        tls_lines = "ssl_certificate %s; ssl_certificate_key %s; ssl_protocols TLSv1.2 TLSv1.3;" % (
            ctx.pki.cert, ctx.pki.key)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(dir=d, addr=ctx.server.addr, port=ctx.port,
                                  ssl=" ssl" if tls else "", tls=tls_lines, root=root))
    p = ctx.lab.spawn(ctx.server.ns, ["nginx", "-p", d, "-c", conf, "-e", os.path.join(d, "nginx.err")])
    ctx.wait_port("tcp", ctx.port)
    return p


def curl_base(ctx, tls):
    # Every URL gets its own "-o /dev/null" after this (curl pairs them in order).
    args = ["curl", "-s", "-S", "--max-time", str(int(ctx.deadline_left()) + 1)]
    if tls:
        args += ["--cacert", ctx.pki.ca]
    return args


def url(ctx, tls, path):
    return "%s://%s:%d/%s" % ("https" if tls else "http", ctx.server.addr, ctx.port, path)


# --- web: pages of many small objects, think times between pages ----------
def plan_web(rng, preset):
    return {"tls": rng.random() < 0.7,
            "pages": rng.randint(3, 10) if preset == "bench" else rng.randint(2, 4),
            "think_s": rng.uniform(2.0, 8.0) if preset == "bench" else rng.uniform(1.0, 3.0),
            "parallel": rng.choice([1, 2, 4, 6]),
            "page_ids": [rng.randrange(1 << 30) for _ in range(12)],
            "duration_s": 0}


def run_web(ctx):
    p = ctx.params
    srv = start_nginx(ctx, ctx.site.root, p["tls"])
    rng = ctx.rng
    try:
        for i in range(p["pages"]):
            if ctx.deadline_left() < 1:
                break
            page = ctx.site.pages[p["page_ids"][i % len(p["page_ids"])] % len(ctx.site.pages)]
            urls = [url(ctx, p["tls"], page["html"])] + [url(ctx, p["tls"], o) for o in page["objects"]]
            argv = curl_base(ctx, p["tls"]) + ["--parallel", "--parallel-max", str(p["parallel"])]
            for u in urls:
                argv += ["-o", "/dev/null", u]
            ctx.lab.run_in(ctx.clients[0].ns, argv, timeout=ctx.deadline_left() + 1)
            ctx.sleep(think(rng, p["think_s"], 0.5, 4 * p["think_s"]))
    finally:
        ctx.lab.stop(srv)


# --- file transfer: bulk HTTPS download/upload, SFTP get/put -------------
def plan_file(rng, preset):
    big = 48 << 20 if preset == "bench" else 6 << 20
    return {"mode": rng.choice(["https-get", "https-put", "sftp-get", "sftp-put"]),
            "bytes": lognormal_int(rng, big // 6, 1.0, 256 << 10, big),
            "duration_s": 0}


SSHD_CONF = """Port {port}
ListenAddress {addr}
HostKey {hostkey}
PidFile {dir}/sshd.pid
AuthorizedKeysFile {authkeys}
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
Subsystem sftp internal-sftp
"""


def run_file(ctx):
    p = ctx.params
    mode, n = p["mode"], p["bytes"]
    d = ctx.session_dir("file")
    path = os.path.join(d, "payload.bin")
    ctx.pool.write_file(path, n, ctx.rng.randrange(1 << 30))
    client = ctx.clients[0].ns
    if mode.startswith("https"):
        srv = start_nginx(ctx, d, True)
        try:
            if mode == "https-get":
                argv = curl_base(ctx, True) + ["-o", "/dev/null", url(ctx, True, "payload.bin")]
            else:
                argv = curl_base(ctx, True) + ["-o", "/dev/null", "-T", path, url(ctx, True, "upload/payload.bin")]
            ctx.lab.run_in(client, argv, timeout=ctx.deadline_left() + 1)
        finally:
            ctx.lab.stop(srv)
        return
    conf = os.path.join(d, "sshd_config")
    with open(conf, "w") as f:
        f.write(SSHD_CONF.format(port=ctx.port, addr=ctx.server.addr, hostkey=ctx.pki.ssh_host_key,
                                 dir=d, authkeys=ctx.pki.ssh_authorized))
    os.makedirs("/run/sshd", exist_ok=True)
    srv = ctx.lab.spawn(ctx.server.ns, ["/usr/sbin/sshd", "-D", "-e", "-f", conf])
    ctx.wait_port("tcp", ctx.port)
    batch = os.path.join(d, "batch")
    with open(batch, "w") as f:
        if mode == "sftp-get":
            f.write("get %s %s\n" % (path, os.path.join(d, "got.bin")))
        else:
            f.write("put %s %s\n" % (path, os.path.join(d, "put.bin")))
    try:
        ctx.lab.run_in(client, ["sftp", "-q", "-b", batch, "-i", ctx.pki.ssh_client_key, "-P", str(ctx.port),
                                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                                "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
                                "root@%s" % ctx.server.addr], timeout=ctx.deadline_left() + 1)
    finally:
        ctx.lab.stop(srv)


# --- video: an HLS-like player fetching segments at playback rate ----------
def plan_video(rng, preset):
    seg_s = rng.choice([2, 4, 6])
    kbps = rng.choice([400, 800, 1500, 2500, 4000])
    watch = rng.uniform(40, 150) if preset == "bench" else rng.uniform(14, 24)
    nseg = max(3, int(watch / seg_s))
    return {"tls": rng.random() < 0.8, "segment_s": seg_s, "kbps": kbps,
            "segments": [lognormal_int(rng, kbps * 125 * seg_s, 0.25, 20000, kbps * 500 * seg_s)
                         for _ in range(nseg)],
            "buffer_segments": rng.randint(2, 4), "duration_s": watch}


def run_video(ctx):
    p = ctx.params
    d = ctx.session_dir("video")
    with open(os.path.join(d, "index.m3u8"), "w") as f:
        f.write("#EXTM3U\n#EXT-X-TARGETDURATION:%d\n" % p["segment_s"])
        for i, n in enumerate(p["segments"]):
            f.write("#EXTINF:%d,\nseg%05d.m4s\n" % (p["segment_s"], i))
            ctx.pool.write_file(os.path.join(d, "seg%05d.m4s" % i), n, ctx.rng.randrange(1 << 30))
    srv = start_nginx(ctx, d, p["tls"])
    try:
        segs = ["seg%05d.m4s" % i for i in range(len(p["segments"]))]
        b = p["buffer_segments"]
        first = curl_base(ctx, p["tls"]) + ["-o", "/dev/null", url(ctx, p["tls"], "index.m3u8")]
        for s in segs[:b]:
            first += ["-o", "/dev/null", url(ctx, p["tls"], s)]
        ctx.lab.run_in(ctx.clients[0].ns, first, timeout=ctx.deadline_left() + 1)
        rest = segs[b:]
        if rest:
            # One keep-alive connection, one segment per segment duration
            # (curl --rate paces the transfers: the player's steady state).
            argv = curl_base(ctx, p["tls"]) + ["--rate", "%d/m" % (60 // p["segment_s"])]
            for s in rest:
                argv += ["-o", "/dev/null", url(ctx, p["tls"], s)]
            ctx.lab.run_in(ctx.clients[0].ns, argv, timeout=ctx.deadline_left() + 1)
    finally:
        ctx.lab.stop(srv)


# --- DNS: a resolver (dnsmasq) and clients asking with think times ---------
def plan_dns(rng, preset):
    n = rng.randint(6, 20) if preset == "bench" else rng.randint(4, 8)
    types = ["A", "A", "A", "AAAA", "TXT", "MX", "CNAME"]
    return {"queries": [(rng.randrange(1 << 30), rng.choice(types), rng.random() < 0.1) for _ in range(n)],
            "think_s": rng.uniform(0.5, 4.0), "duration_s": 0}


def run_dns(ctx):
    p = ctx.params
    d = ctx.session_dir("dns")
    names = ctx.site.dns_names
    args = ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces",
            "--listen-address=%s" % ctx.server.addr, "--port=%d" % ctx.port,
            "--pid-file=%s/dnsmasq.pid" % d, "--log-facility=%s/dnsmasq.log" % d,
            "--local=/lab.example/", "--user=root"]
    for name, addr in names:
        args.append("--host-record=%s,%s" % (name, addr))
        args.append("--txt-record=%s,\"v=lab1 %s\"" % (name, name.split(".")[0]))
        args.append("--mx-host=%s,mail.%s,10" % (name, name))
    srv = ctx.lab.spawn(ctx.server.ns, args)
    ctx.wait_port("udp", ctx.port)
    try:
        for key, qtype, tcp in p["queries"]:
            if ctx.deadline_left() < 1:
                break
            name = names[key % len(names)][0]
            argv = ["dig", "@%s" % ctx.server.addr, "-p", str(ctx.port), "+tries=2", "+time=2", name, qtype]
            if tcp:
                argv.insert(1, "+tcp")
            ctx.lab.run_in(ctx.clients[0].ns, argv, timeout=10, stdout=subprocess.DEVNULL)
            ctx.sleep(think(ctx.rng, p["think_s"], 0.1, 10))
    finally:
        ctx.lab.stop(srv)


# --- IoT: devices with vendor MACs, DHCP, DNS, MQTT, HTTPS, NTP ------------
# A "cloud" host (DHCP + DNS by dnsmasq, MQTT by mosquitto, HTTPS by nginx,
# NTP by chrony) and devices behind emulated home links. A device leases its
# address with its hostname, resolves the cloud's names through the cloud's
# DNS (glibc, via /etc/netns/NS/resolv.conf), keeps one MQTT/TLS connection
# for telemetry, checks in over HTTPS, asks NTP, and cameras upload clips.
IOT_CLOUD_ADDR = "10.203.0.2"
IOT_DHCP_RANGE = ("10.203.8.10", "10.203.8.250")
IOT_KINDS = {
    # kind: vendors (IEEE registry names), DHCP vendor class, behaviour
    "plug": (["Espressif Inc.", "Tuya Smart Inc."], "udhcp 1.35.0",
             {"mqtt_s": (8, 30), "checkin_s": (120, 300), "ntp_s": (300, 900)}),
    "bulb": (["Signify B.V.", "Philips Lighting BV"], "udhcp 1.35.0",
             {"mqtt_s": (20, 60), "checkin_s": (200, 400), "ntp_s": (600, 1200)}),
    "thermostat": (["Nest Labs Inc.", "Google, Inc."], "dhcpcd-5.5.6",
                   {"mqtt_s": (15, 45), "checkin_s": (30, 90), "ntp_s": (300, 600)}),
    "camera": (["Hangzhou Hikvision Digital Technology", "Ring LLC"], "udhcp 1.35.0",
               {"mqtt_s": (30, 90), "checkin_s": (60, 120), "ntp_s": (300, 900), "upload_s": (15, 60)}),
    "speaker": (["Amazon Technologies Inc.", "Sonos, Inc."], "android-dhcp-9",
                {"mqtt_s": (30, 120), "checkin_s": (10, 40), "ntp_s": (120, 600)}),
}


def iot_cloud_names():
    return ["mqtt.vendor-cloud.example", "api.vendor-cloud.example", "time.vendor-cloud.example"]


def plan_iot(rng, preset, ndevices, duration, ouis, vendor_mac, pick_os):
    kinds = sorted(IOT_KINDS)
    devices = []
    for i in range(ndevices):
        kind = kinds[i % len(kinds)] if i < len(kinds) else rng.choice(kinds)
        vendors, vclass, beh = IOT_KINDS[kind]
        vendor = rng.choice(vendors)
        scale = 0.25 if preset == "ci" else 1.0  # CI's minute sees every behaviour
        devices.append({
            "name": "%s-%s" % (kind, "".join(rng.choice("0123456789abcdef") for _ in range(6))),
            "kind": kind, "vendor": vendor, "mac": vendor_mac(rng, ouis, vendor), "vendor_class": vclass,
            "os": pick_os(rng), "start_s": round(rng.uniform(0, min(5.0, duration / 10)), 2),
            "periods": {k: round(rng.uniform(*v) * scale, 1) for k, v in beh.items()},
            "seed": rng.randrange(1 << 31),
            "link": {"delay_ms": round(rng.uniform(2, 40), 1), "jitter_ms": round(rng.uniform(0, 4), 1),
                     "loss": 0.0, "rate_kbit": rng.choice([6000, 12000, 25000])}})
    return devices


MOSQUITTO_CONF = """user root
pid_file {dir}/mosquitto.pid
per_listener_settings false
allow_anonymous true
persistence false
log_dest stderr
listener 1883 {addr}
listener 8883 {addr}
cafile {ca}
certfile {cert}
keyfile {key}
"""

CHRONY_SERVER = """local stratum 8
allow 10.203.0.0/16
port 123
cmdport 0
bindcmdaddress {dir}/chronyd.sock
pidfile {dir}/chronyd.pid
driftfile {dir}/chrony.drift
"""

UDHCPC_SCRIPT = """#!/bin/sh
# udhcpc's hook: only the address (no routes out of the lab, no resolv.conf).
case "$1" in
  bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/${mask:-16}" dev "$interface" ;;
  deconfig) ip addr flush dev "$interface" ;;
esac
"""


def start_iot_cloud(run):
    lab = run.lab
    ns = lab.prefix + "cloud"
    d = os.path.join(run.work, "cloud")
    os.makedirs(os.path.join(d, "www", "upload"), exist_ok=True)
    os.makedirs(os.path.join(d, "body"), exist_ok=True)
    host_os = {"name": "linux", "ttl": 64, "tcp_timestamps": 1, "tcp_sack": 1, "tcp_window_scaling": 1}
    lab.add_bridged_host(ns, "k0", IOT_CLOUD_ADDR, "02:00:00:cf:10:02", host_os)
    with open(os.path.join(d, "www", "config.json"), "w") as f:
        f.write('{"interval": 60, "firmware": "1.4.2", "features": ["telemetry", "ota"]}\n')
    procs = []
    # --no-ping: no 3-second ping check before an offer (single-threaded
    # dnsmasq would hold every device's lease behind it).
    procs.append(lab.spawn(ns, ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--interface=eth0",
                                "--no-ping", "--dhcp-authoritative", "--no-poll",
                                "--bind-interfaces", "--dhcp-range=%s,%s,255.255.0.0,1h" % IOT_DHCP_RANGE,
                                "--dhcp-leasefile=%s/leases" % d, "--pid-file=%s/dnsmasq.pid" % d,
                                "--local=/vendor-cloud.example/",
                                "--address=/vendor-cloud.example/%s" % IOT_CLOUD_ADDR,
                                "--user=root", "--log-facility=%s/dnsmasq.log" % d, "--log-dhcp"]))
    conf = os.path.join(d, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(MOSQUITTO_CONF.format(dir=d, addr=IOT_CLOUD_ADDR, ca=run.pki.ca, cert=run.pki.cert, key=run.pki.key))
    procs.append(lab.spawn(ns, ["mosquitto", "-c", conf]))
    conf = os.path.join(d, "chrony.conf")
    with open(conf, "w") as f:
        f.write(CHRONY_SERVER.format(dir=d))
    # -x: never touch the machine's clock.
    procs.append(lab.spawn(ns, ["chronyd", "-d", "-x", "-u", "root", "-f", conf]))
    tls = "ssl_certificate %s; ssl_certificate_key %s;" % (run.pki.cert, run.pki.key)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(dir=d, addr=IOT_CLOUD_ADDR, port=443, ssl=" ssl", tls=tls,
                                  root=os.path.join(d, "www")))
    procs.append(lab.spawn(ns, ["nginx", "-p", d, "-c", conf, "-e", os.path.join(d, "nginx.err")]))
    return ns, procs


class _Device:
    def __init__(self, run, dev, idx):
        self.run, self.dev, self.idx = run, dev, idx
        self.lab = run.lab
        self.ns = run.lab.prefix + "d%d" % idx
        self.rng = random.Random(dev["seed"])
        self.dir = os.path.join(run.work, "devices", dev["name"])
        os.makedirs(self.dir, exist_ok=True)

    def curl(self, extra, timeout=30):
        return self.lab.run_in(self.ns, ["curl", "-s", "-S", "--max-time", str(timeout), "--cacert", self.run.pki.ca,
                                         "-A", "%s/%s" % (self.dev["kind"], self.dev["vendor"].split()[0])] + extra,
                               timeout=timeout + 2, stdout=subprocess.DEVNULL)

    def dhcp(self):
        script = os.path.join(self.dir, "udhcpc.sh")
        with open(script, "w") as f:
            f.write(UDHCPC_SCRIPT)
        os.chmod(script, 0o755)
        return self.lab.run_in(self.ns, ["udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "8", "-T", "2", "-A", "1",
                                         "-x", "hostname:" + self.dev["name"], "-V", self.dev["vendor_class"],
                                         "-s", script], timeout=30, stdout=subprocess.DEVNULL)

    def ntp(self):
        conf = os.path.join(self.dir, "chrony-client.conf")
        with open(conf, "w") as f:
            f.write("server time.vendor-cloud.example iburst maxsamples 4\nport 0\ncmdport 0\n"
                    "bindcmdaddress %s/c.sock\npidfile %s/c.pid\n" % (self.dir, self.dir))
        # -Q: measure only, never set the clock.
        self.lab.run_in(self.ns, ["chronyd", "-Q", "-u", "root", "-t", "10", "-f", conf], timeout=15,
                        stdout=subprocess.DEVNULL)

    def live(self, end):
        dev, rng = self.dev, self.rng
        if self.dhcp() != 0:
            raise RuntimeError("%s: no DHCP lease" % dev["name"])
        mqtt = self.lab.spawn(self.ns, ["mosquitto_pub", "-h", "mqtt.vendor-cloud.example", "-p", "8883",
                                        "--cafile", self.run.pki.ca, "-i", dev["name"], "-q", "1", "-k", "60",
                                        "-t", "devices/%s/telemetry" % dev["name"], "-l"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        per = dev["periods"]
        now = time.monotonic()
        due = {k: now + rng.uniform(0.5, 3.0) for k in per}
        due["ntp_s"] = now
        seq = 0
        try:
            while not self.run.abort.is_set():
                k = min(due, key=due.get)
                wait = due[k] - time.monotonic()
                if due[k] >= end:
                    break
                if wait > 0 and self.run.abort.wait(wait):
                    break
                if k == "mqtt_s":
                    seq += 1
                    line = '{"seq":%d,"t":%.1f,"v":%.2f,"rssi":%d}\n' % (
                        seq, 18 + rng.random() * 6, rng.random() * 100, -rng.randint(40, 80))
                    try:
                        mqtt.stdin.write(line.encode())
                        mqtt.stdin.flush()
                    except (BrokenPipeError, OSError):
                        pass
                elif k == "checkin_s":
                    self.curl(["-o", "/dev/null", "https://api.vendor-cloud.example/config.json"])
                elif k == "upload_s":
                    clip = os.path.join(self.dir, "clip.bin")
                    self.run.pool.write_file(clip, lognormal_int(rng, 300000, 0.6, 30000, 3000000),
                                             rng.randrange(1 << 30))
                    self.curl(["-o", "/dev/null", "-T", clip, "https://api.vendor-cloud.example/upload/%s/%d.bin" % (
                        dev["name"], seq)], timeout=60)
                elif k == "ntp_s":
                    self.ntp()
                due[k] = time.monotonic() + per[k] * rng.uniform(0.8, 1.2)
        finally:
            try:
                mqtt.stdin.close()
            except OSError:
                pass
            self.lab.stop(mqtt)


def run_iot(run, devices):
    lab = run.lab
    cloud_ns, procs = start_iot_cloud(run)
    t_start = time.monotonic()
    end = t_start + run.plan["duration_s"]
    os.makedirs(os.path.join(run.out, "iot"), exist_ok=True)

    def one(dev, idx):
        t0 = time.time()
        result = {"id": dev["name"], "class": "iot", "device": dev["name"], "generator": "iot-" + dev["kind"],
                  "captures": [], "error": None}
        d = _Device(run, dev, idx)
        path = os.path.join(run.out, "iot", dev["name"] + ".pcap")
        cap = emu = None
        netns_etc = os.path.join("/etc/netns", d.ns)
        try:
            if run.abort.wait(dev["start_s"]):
                return
            # glibc in the device resolves through the cloud's DNS.
            os.makedirs(netns_etc, exist_ok=True)
            with open(os.path.join(netns_etc, "resolv.conf"), "w") as f:
                f.write("nameserver %s\noptions timeout:2 attempts:2\n" % IOT_CLOUD_ADDR)
            swport, emu = lab.add_emulated_host(d.ns, 1000000 + idx, None, dev["mac"], dev["os"], dev["link"],
                                                dev["seed"])
            cap = lab.capture(swport, path, dev["mac"])
            d.live(end)
        except Exception as e:
            result["error"] = "%s: %s" % (type(e).__name__, e)
        finally:
            time.sleep(0.3)
            if cap:
                lab.end_capture(cap, path)
                result["captures"].append(os.path.relpath(path, run.out))
            if emu:
                lab.remove_emulated_host(d.ns, 1000000 + idx, emu)
            shutil.rmtree(netns_etc, ignore_errors=True)
            result["wall_s"] = round(time.time() - t0, 2)
            with run.lock:
                run.results.append(result)

    threads = [threading.Thread(target=one, args=(dev, i), daemon=True) for i, dev in enumerate(devices)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive() and not run.abort.is_set():
            t.join(0.5)
    for p in procs:
        lab.stop(p)


# --- chat: an IRC server (ngircd, TLS) and bots talking in a channel --------
NGIRCD_CONF = """[Global]
Name = irc.lab.example
Info = lab chat
AdminInfo1 = lab
AdminInfo2 = lab
AdminEMail = root@lab.example
Listen = {addr}
Ports =
MotdPhrase = welcome to the lab
PidFile = {dir}/run/ngircd.pid
ServerUID = nobody
ServerGID = nogroup
HelpFile = /dev/null
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 30
MaxPenaltyTime = 0
PingTimeout = 120
PongTimeout = 20
[Options]
PAM = no
Ident = no
DNS = no
ConnectIPv6 = no
[SSL]
CertFile = {cert}
KeyFile = {key}
DHFile = {dh}
Ports = {port}
"""


def plan_chat(rng, preset):
    length = rng.uniform(60, 200) if preset == "bench" else rng.uniform(20, 30)
    n = rng.randint(2, 5)
    bots = []
    for i in range(n):
        join = 0.0 if i < 2 else rng.uniform(0, length * 0.5)
        stay = length - join if rng.random() < 0.7 else rng.uniform(8, max(length - join, 9))
        bots.append({"nick": "%s%d" % (rng.choice(["ana", "bo", "cy", "dee", "eli", "fox", "gus"]), rng.randrange(1000)),
                     "join_s": round(join, 1), "stay_s": round(max(stay, 6.0), 1),
                     "think_s": round(rng.uniform(1.5, 8.0), 1), "seed": rng.randrange(1 << 31)})
    return {"clients": n, "bots": bots, "duration_s": length + 5}


def run_chat(ctx):
    p = ctx.params
    d = ctx.session_dir("ngircd")
    os.makedirs(os.path.join(d, "run"), exist_ok=True)
    shutil.chown(os.path.join(d, "run"), "nobody", "nogroup")
    conf = os.path.join(d, "ngircd.conf")
    with open(conf, "w") as f:
        f.write(NGIRCD_CONF.format(addr=ctx.server.addr, dir=d, cert=ctx.pki.cert, key=ctx.pki.key,
                                   dh=ctx.pki.dhparams, port=ctx.port))
    srv = ctx.lab.spawn(ctx.server.ns, ["ngircd", "-n", "-f", conf], stdout=subprocess.DEVNULL)
    bots = []
    try:
        ctx.wait_port("tcp", ctx.port)
        t0 = time.monotonic()
        order = sorted(range(len(p["bots"])), key=lambda i: p["bots"][i]["join_s"])
        for i in order:
            b = p["bots"][i]
            ctx.sleep(t0 + b["join_s"] - time.monotonic())
            if ctx.deadline_left() < 2:
                break
            stay = min(b["stay_s"], ctx.deadline_left() - 1)
            bots.append(ctx.lab.spawn(ctx.clients[i].ns, [sys.executable, os.path.join(HERE, "ircbot.py"),
                                                          ctx.server.addr, str(ctx.port), b["nick"],
                                                          "--cafile", ctx.pki.ca, "--seconds", "%.1f" % stay,
                                                          "--think-s", str(b["think_s"]), "--seed", str(b["seed"])]))
        for bp in bots:
            try:
                bp.wait(timeout=ctx.deadline_left() + 2)
            except subprocess.TimeoutExpired:
                pass
    finally:
        for bp in bots:
            ctx.lab.stop(bp)
        ctx.lab.stop(srv)


# --- VoIP: SIP calls with G.711 RTP between two baresip user agents ---------
# (baresip 1.0: ausine needs 48 kHz stereo in, baresip resamples to 8 kHz
# mono; aubridge,nil is the null player; menu auto-answers and dials.)
BARESIP_CONF = """poll_method epoll
sip_listen {addr}:{port}
call_local_timeout 120
call_max_calls 4
audio_player aubridge,nil
audio_source ausine,{tone}
audio_alert aubridge,nil
audio_buffer 20-160
ausrc_srate 48000
ausrc_channels 2
auplay_channels 1
rtp_tos 184
rtp_ports {rtp_lo}-{rtp_hi}
rtcp_mux no
jitter_buffer_delay 5-10
net_interface eth0
module_path /usr/lib/baresip/modules
module g711.so
module ausine.so
module aubridge.so
module_tmp account.so
module_app menu.so
statmode_default off
"""


def plan_voip(rng, preset):
    call = rng.uniform(12, 100) if preset == "bench" else rng.uniform(8, 16)
    lo = rng.randrange(16384, 60000) & ~1
    return {"call_s": round(call, 1), "codec": rng.choice(["PCMU", "PCMA"]),
            "transport": "tcp" if rng.random() < 0.2 else "udp",
            "tone_hz": rng.choice([300, 440, 600, 1000]), "caller_port": rng.randrange(1024, 65000),
            "rtp_lo": lo, "duration_s": call + 3}


def baresip_dir(ctx, name, addr, port, account):
    p = ctx.params
    d = ctx.session_dir(name)
    with open(os.path.join(d, "config"), "w") as f:
        f.write(BARESIP_CONF.format(addr=addr, port=port, tone=p["tone_hz"], rtp_lo=p["rtp_lo"],
                                    rtp_hi=p["rtp_lo"] + 200))
    with open(os.path.join(d, "accounts"), "w") as f:
        f.write(account + "\n")
    return d


def run_voip(ctx):
    p = ctx.params
    callee = baresip_dir(ctx, "callee", ctx.server.addr, ctx.port,
                         "<sip:bob@%s:%d>;regint=0;answermode=auto;audio_codecs=PCMU,PCMA" % (
                             ctx.server.addr, ctx.port))
    caller_addr = ctx.clients[0].addr
    caller = baresip_dir(ctx, "caller", caller_addr, p["caller_port"],
                         "<sip:alice@%s:%d>;regint=0;audio_codecs=%s" % (caller_addr, p["caller_port"], p["codec"]))
    srv = ctx.lab.spawn(ctx.server.ns, ["baresip", "-f", callee, "-t", str(int(ctx.deadline_left()) + 5)],
                        stdout=subprocess.DEVNULL)
    try:
        ctx.wait_port("udp", ctx.port)
        target = "sip:bob@%s:%d" % (ctx.server.addr, ctx.port)
        if p["transport"] == "tcp":
            target += ";transport=tcp"
        secs = max(int(min(p["call_s"], ctx.deadline_left() - 2)), 3)
        ctx.lab.run_in(ctx.clients[0].ns, ["baresip", "-f", caller, "-e", "/dial " + target, "-t", str(secs)],
                       timeout=secs + 10, stdout=subprocess.DEVNULL)
    finally:
        ctx.lab.stop(srv)
