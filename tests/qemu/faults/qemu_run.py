#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Boot the uStor x86_64 example kernel under QEMU and act on what it prints.

  qemu_run.py --log FILE [--timeout S] [--append OPTS] [--kill-on RE [--kill-count N]
              [--kill-delay S]] [--qmp-on RE --device-del ID] -- <QEMU device args>

--kill-on: SIGKILL QEMU (a power cut: nothing is flushed or shut down) after
the N-th serial line matching RE, plus --kill-delay seconds.
--qmp-on: once a line matches RE, send `device_del ID` over QMP and wait for
QEMU's DEVICE_DELETED event for it (printed as `qmp: ...` lines).
The cleaned serial log goes to --log. Exit status: QEMU's (isa-debug-exit:
1 = pass, 3 = fail), 137 when killed on purpose, 124 on --timeout, 128+N
when QEMU died of signal N on its own (139: it crashed).
Environment: QEMU, ACCEL, KERNEL as tests/qemu/selftest.
"""
import argparse
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time


class Qmp:
    def __init__(self, path, deadline):
        self.sock = None
        while time.time() < deadline:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                self.sock = s
                break
            except OSError:
                time.sleep(0.05)
        if self.sock is None:
            raise RuntimeError("QMP socket never appeared")
        self.sock.settimeout(10)
        self.buf = b""
        self.events = []
        self.recv()  # greeting
        self.cmd("qmp_capabilities")

    def recv(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError("QMP connection closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self.recv()
            if "event" in r:
                self.events.append(r)
                continue
            return r

    def poll_events(self):
        self.sock.setblocking(False)
        try:
            while True:
                try:
                    data = self.sock.recv(65536)
                except BlockingIOError:
                    break
                if not data:
                    break
                self.buf += data
        finally:
            self.sock.setblocking(True)
            self.sock.settimeout(10)
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            r = json.loads(line)
            if "event" in r:
                self.events.append(r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--append", default="")
    ap.add_argument("-M", dest="machine", default="q35")
    ap.add_argument("-m", dest="mem", default="128M")
    ap.add_argument("--kill-on")
    ap.add_argument("--kill-count", type=int, default=1)
    ap.add_argument("--kill-delay", type=float, default=0.0)
    ap.add_argument("--qmp-on")
    ap.add_argument("--device-del")
    ap.add_argument("qemu_args", nargs="*")
    a = ap.parse_args()

    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    build = os.environ.get("BUILD", "build")
    if not os.path.isabs(build):
        build = os.path.join(root, build)
    kernel = os.environ.get("KERNEL", os.path.join(build, "x86_64-kernel", "ustor-kernel.elf32"))
    qemu = os.environ.get("QEMU", "qemu-system-x86_64")
    accel = os.environ.get("ACCEL", "tcg")
    tmp = tempfile.mkdtemp(prefix="ustor-faults.")
    qmp_path = os.path.join(tmp, "qmp.sock")
    cmd = [qemu, "-accel", accel] + (["-cpu", "host"] if accel == "kvm" else []) + [
        "-M", a.machine, "-m", a.mem, "-nographic", "-monitor", "none", "-no-reboot",
        "-nic", "none", "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-kernel", kernel, "-append", a.append]
    if a.qmp_on:
        cmd += ["-qmp", "unix:%s,server=on,wait=off" % qmp_path]
    cmd += a.qemu_args
    start = time.time()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    log = open(a.log, "w")
    pending = b""
    kill_at = None
    kills_seen = 0
    qmp = None
    qmp_sent = False
    deleted = False
    status = None
    esc = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1bc")

    def note(msg):
        print(msg, flush=True)
        log.write(msg + "\n")
        log.flush()

    try:
        while True:
            now = time.time()
            if now - start > a.timeout:
                note("qemu_run: TIMEOUT after %.0f s: killing QEMU" % a.timeout)
                p.kill()
                p.wait()
                status = 124
                break
            if kill_at is not None and now >= kill_at:
                # The serial bytes QEMU wrote before the kill still count.
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
                rest = p.stdout.read() or b""
                for raw in (pending + rest).split(b"\n"):
                    line = esc.sub("", raw.decode("latin-1").replace("\r", ""))
                    if line.strip():
                        log.write(line + "\n")
                note("qemu_run: SIGKILL sent to QEMU (power cut) %.2f s after boot" % (now - start))
                status = 137
                break
            r, _, _ = select.select([p.stdout], [], [], 0.05)
            if r:
                data = os.read(p.stdout.fileno(), 65536)
                if not data:
                    status = p.wait()
                    break
                pending += data
                while b"\n" in pending:
                    raw, pending = pending.split(b"\n", 1)
                    line = esc.sub("", raw.decode("latin-1").replace("\r", ""))
                    if not line.strip():
                        continue
                    log.write(line + "\n")
                    log.flush()
                    if a.kill_on and kill_at is None and re.search(a.kill_on, line):
                        kills_seen += 1
                        if kills_seen >= a.kill_count:
                            kill_at = time.time() + a.kill_delay
                    if a.qmp_on and not qmp_sent and re.search(a.qmp_on, line):
                        qmp = Qmp(qmp_path, time.time() + 10)
                        r2 = qmp.cmd("device_del", id=a.device_del)
                        note("qmp: device_del %s -> %s at %.2f s" % (a.device_del, json.dumps(r2),
                                                                     time.time() - start))
                        qmp_sent = True
            if qmp is not None and not deleted:
                qmp.poll_events()
                for ev in qmp.events:
                    if ev.get("event") == "DEVICE_DELETED" and \
                            ev.get("data", {}).get("device") == a.device_del:
                        note("qmp: DEVICE_DELETED %s at %.2f s" % (a.device_del, time.time() - start))
                        deleted = True
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        if pending.strip():
            log.write(esc.sub("", pending.decode("latin-1").replace("\r", "")) + "\n")
        err = p.stderr.read().decode("latin-1")
        if err.strip():
            log.write("--- QEMU stderr:\n" + err)
        log.close()
        try:
            if os.path.exists(qmp_path):
                os.unlink(qmp_path)
            os.rmdir(tmp)
        except OSError:
            pass
    if a.qmp_on and not deleted:
        print("qmp: no DEVICE_DELETED event for %s" % a.device_del)
    if status is not None and status < 0:
        print("qemu_run: QEMU died of signal %d after %.1f s (a QEMU crash)" % (-status, time.time() - start))
        sys.exit(128 - status)
    print("qemu_run: QEMU exit status %s after %.1f s" % (status, time.time() - start))
    sys.exit(status if status is not None else 2)


if __name__ == "__main__":
    main()
