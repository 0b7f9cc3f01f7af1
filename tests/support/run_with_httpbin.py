#!/usr/bin/env python3
"""Runs a command against a real httpbin (Debian's python3-httpbin, served by gunicorn) on
127.0.0.1, and exits with the command's exit code.

usage: run_with_httpbin.py [--timeout SECONDS] -- COMMAND ARG...

Every '{httpbin}' inside an argument becomes http://127.0.0.1:PORT. The listening socket is
bound to port 0 here and handed to gunicorn as fd://N, so there is no port race. gunicorn's
gthread worker is threaded and keeps HTTP/1.1 connections alive, and httpbin accepts chunked
request bodies only under gunicorn (it answers 501 under werkzeug's development server).
Needs the Debian packages python3-httpbin and python3-gunicorn.
"""
import argparse
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

READY_DEADLINE_S = 30
GRACE_S = 5


def server_python():
    # Debian installs httpbin and gunicorn for /usr/bin/python3 only; a python3 found first on
    # PATH (a virtualenv, pyenv) may not see them.
    if all(importlib.util.find_spec(m) for m in ('httpbin', 'gunicorn')):
        return sys.executable
    return '/usr/bin/python3'


def start_server(listener, log):
    fd = listener.fileno()
    command = [server_python(), '-m', 'gunicorn', '--bind', f'fd://{fd}',
               '--worker-class', 'gthread', '--workers', '1', '--threads', '32',
               '--keep-alive', '30', '--graceful-timeout', '2', '--timeout', '300',
               '--log-level', 'warning', 'httpbin:app']
    return subprocess.Popen(command, pass_fds=[fd], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(server, base_url):
    deadline = time.monotonic() + READY_DEADLINE_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return f'httpbin exited with status {server.returncode} before it answered'
        try:
            with urllib.request.urlopen(base_url + '/get', timeout=1) as reply:
                if reply.status == 200:
                    return None
        except OSError:
            pass
        time.sleep(0.05)
    return f'httpbin did not answer GET {base_url}/get within {READY_DEADLINE_S} s'


def stop(process):
    """SIGTERM the process group, then SIGKILL it after a grace period."""
    if process.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, GRACE_S), (signal.SIGKILL, GRACE_S)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait_s)
            return
        except subprocess.TimeoutExpired:
            pass


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)  # so that the finally blocks stop the server and command


def main():
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    parser = argparse.ArgumentParser(usage='%(prog)s [--timeout SECONDS] -- COMMAND ARG...')
    parser.add_argument('--timeout', type=float, default=120,
                        help='seconds the command may run (default 120)')
    parser.add_argument('command', nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ['--'] else args.command
    if not command:
        parser.error('no command given')

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(('127.0.0.1', 0))
    listener.listen(128)
    base_url = f'http://127.0.0.1:{listener.getsockname()[1]}'

    with tempfile.TemporaryFile() as log:
        def fail(message):
            log.seek(0)
            sys.stderr.write(f'run_with_httpbin: {message}\n--- httpbin output ---\n')
            sys.stderr.write(log.read().decode(errors='replace') + '--- end ---\n')
            return 1

        try:
            server = start_server(listener, log)
        except OSError as e:
            return fail(f'cannot start httpbin: {e}')
        finally:
            listener.close()  # gunicorn holds its own copy
        try:
            problem = wait_ready(server, base_url)
            if problem:
                return fail(problem)
            argv = [a.replace('{httpbin}', base_url) for a in command]
            try:
                child = subprocess.Popen(argv, start_new_session=True)
            except OSError as e:
                return fail(f'cannot run {argv[0]}: {e}')
            try:
                code = child.wait(args.timeout)
                return 128 - code if code < 0 else code  # killed by a signal: 128 + signal
            except subprocess.TimeoutExpired:
                stop(child)
                return fail(f'{argv[0]} timed out after {args.timeout:g} s')
            finally:
                stop(child)
        finally:
            stop(server)


if __name__ == '__main__':
    sys.exit(main())
