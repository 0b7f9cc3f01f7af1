"""Shared pieces of the benchmark drivers: nginx on 127.0.0.1 with generated TLS material,
running clients pinned to a core and collecting their rusage, and small statistics."""

import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NGINX_TEMPLATE = REPO / "bench" / "nginx" / "nginx.conf.in"

SMALL = "small.json"     # 512 bytes, a file
MEMORY = "memory.json"   # 512 bytes from memory (nginx `return 200`)
LARGE = "large.bin"      # 1 MiB, a file
SMALL_BYTES = 512
LARGE_BYTES = 1024 * 1024
MEMORY_BODY = '{"pad":"' + "x" * (SMALL_BYTES - 10) + '"}'
SERVER_BOUND = 0.9  # a server core this busy is the run's limit: no client ratio is claimed from it


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_pki(directory):
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost."""
    d = Path(directory)
    run = lambda *a: subprocess.run(a, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d / "ca.key",
        "-out", d / "ca.pem", "-days", "7", "-subj", "/CN=leash bench CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", d / "server.key",
        "-out", d / "server.csr", "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("openssl", "x509", "-req", "-in", d / "server.csr", "-CA", d / "ca.pem", "-CAkey", d / "ca.key",
        "-CAcreateserial", "-out", d / "server.pem", "-days", "7", "-extfile", d / "ext.cnf")
    return d / "ca.pem"


class Nginx:
    """nginx serving SMALL and LARGE over http and https on 127.0.0.1, pinned to `core`."""

    def __init__(self, core=0, keepalive_requests=100000000):
        self.dir = Path(tempfile.mkdtemp(prefix="leash-bench-"))
        self.core = core
        self.keepalive_requests = keepalive_requests
        self.proc = None

    def __enter__(self):
        root = self.dir / "root"
        (root).mkdir()
        (self.dir / "tmp").mkdir()
        (root / SMALL).write_bytes(b'{"pad":"' + b"x" * (SMALL_BYTES - 11) + b'"}\n')
        (root / LARGE).write_bytes(os.urandom(LARGE_BYTES))
        self.cacert = make_pki(self.dir)
        self.port, self.tls_port = free_port(), free_port()
        conf = NGINX_TEMPLATE.read_text()
        for key, value in {"ROOT": root, "PREFIX": self.dir, "PORT": self.port, "TLS_PORT": self.tls_port,
                           "CERT": self.dir / "server.pem", "KEY": self.dir / "server.key",
                           "KEEPALIVE_REQUESTS": self.keepalive_requests, "MEMORY_BODY": MEMORY_BODY}.items():
            conf = conf.replace("@%s@" % key, str(value))
        (self.dir / "nginx.conf").write_text(conf)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen(["taskset", "-c", str(self.core), nginx, "-c", str(self.dir / "nginx.conf"),
                                      "-p", str(self.dir)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.tls_port), timeout=1).close()
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("nginx did not start: %s" % self.proc.stderr.read().decode())
                time.sleep(0.05)
        return self

    def cpu_seconds(self):
        """The server's CPU time so far (user + system), from /proc (nginx runs as one process:
        master_process off)."""
        fields = Path("/proc/%d/stat" % self.proc.pid).read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def url(self, name, tls=False):
        if tls:
            return "https://127.0.0.1:%d/%s" % (self.tls_port, name)
        return "http://127.0.0.1:%d/%s" % (self.port, name)

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Outcome:
    def __init__(self, stdout, stderr, rc, cpu_s, maxrss_kb, wall_s):
        self.stdout, self.stderr, self.rc = stdout, stderr, rc
        self.cpu_s, self.maxrss_kb, self.wall_s = cpu_s, maxrss_kb, wall_s
        self.server_busy = None  # the server core's utilisation over the run (0..1), when measured
        self.user_s = None       # the user part of cpu_s, when measured

    def json(self):
        for line in reversed(self.stdout.splitlines()):
            line = line.strip()
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError("no JSON in output: %r %r" % (self.stdout[-500:], self.stderr[-500:]))


MEASURE = None  # path of the `measure` launcher (bench/tools/measure.c), set by the driver


def run_measured(argv, core=None, env=None, timeout=600, server=None):
    """Runs argv (pinned to `core`) and returns its output with its own CPU time and peak RSS.
    With the `measure` launcher these are the command's own figures (peak RSS survives exec,
    so a command forked straight from this Python process would report Python's size);
    without it they come from wait4() and the RSS may be inflated."""
    argv = [str(a) for a in argv]
    if core is not None:
        argv = ["taskset", "-c", str(core)] + argv
    report = None
    if MEASURE:
        report = tempfile.NamedTemporaryFile(suffix=".rusage", delete=False)
        report.close()
        argv = [str(MEASURE), report.name] + argv
    server_cpu_start = server.cpu_seconds() if server else None
    start = time.monotonic()
    try:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            wall = time.monotonic() - start
            server_busy = (server.cpu_seconds() - server_cpu_start) / wall if server else None
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        cpu, rss, user = None, None, None
        if report:
            try:
                r = json.loads(Path(report.name).read_text())
                cpu, rss, user = r["user_s"] + r["sys_s"], r["maxrss_kb"], r["user_s"]
            except (OSError, ValueError, KeyError):
                pass
        if cpu is None:  # (RUSAGE_CHILDREN accumulates: take the difference)
            global _children_cpu
            total = usage.ru_utime + usage.ru_stime
            cpu, rss = total - _children_cpu, usage.ru_maxrss
            _children_cpu = total
        outcome = Outcome(stdout, stderr, proc.returncode, cpu, rss, wall)
        outcome.server_busy = server_busy
        outcome.user_s = user
        return outcome
    finally:
        if report:
            os.unlink(report.name)


_children_cpu = 0.0


def median(values):
    v = sorted(values)
    if not v:
        return float("nan")
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def machine_description():
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        m = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        mem_kb = int(m.group(1)) if m else 0
    except OSError:
        pass
    kernel = os.uname().release
    distro = ""
    try:
        m = re.search(r'PRETTY_NAME="([^"]*)"', Path("/etc/os-release").read_text())
        distro = m.group(1) if m else ""
    except OSError:
        pass
    return "%d × %s, %.0f GiB RAM, %s, Linux %s" % (os.cpu_count(), model, mem_kb / 1048576, distro, kernel)


def tool_version(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        text = (p.stdout or p.stderr).strip().splitlines()
        return text[0] if text else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"
