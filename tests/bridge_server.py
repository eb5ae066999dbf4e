"""Runs a real bridge server on 127.0.0.1 port 0 in a background event loop, for tests and the load script."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from uniflg_bridge.fanout import FanOut
from uniflg_bridge.server import Server, ServerConfig, Voice, build_server
from uniflgapi.v1 import uniflg_pb2_grpc as pb_grpc


@contextmanager
def running_server(voice: Voice, fanout: FanOut | None = None, **config: Any) -> Iterator[Server]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="bridge-test-loop", daemon=True)
    thread.start()
    cfg = ServerConfig(bind=config.pop("bind", "127.0.0.1:0"), **config)
    # a voice without a stored face calibration measures it here (text and speech paths: ~25 s for a tiny torch
    # voice on 2 cores)
    server = asyncio.run_coroutine_threadsafe(build_server(voice, cfg, fanout), loop).result(120)
    asyncio.run_coroutine_threadsafe(server.grpc_server.start(), loop).result(10)
    server.loop = loop  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(1.0), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def stub(server: Server) -> tuple[grpc.Channel, pb_grpc.UniFLGServiceStub]:
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    return channel, pb_grpc.UniFLGServiceStub(channel)


def start_server_process(args: list[str]) -> tuple[subprocess.Popen[str], int, str]:
    """Starts ``python ARGS`` and waits for its "serving ... on 127.0.0.1:PORT" log line.

    Returns the process, the port and that line; a server that exits first fails the test with its exit code.
    """
    proc = subprocess.Popen([sys.executable, *args], stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if m := re.search(r"on 127\.0\.0\.1:(\d+)", line):
            return proc, int(m.group(1)), line
    raise AssertionError(f"the server exited ({proc.wait()}) before it was serving")


def serve_in_process(caplog: Any, *args: str) -> tuple[int, list[Any]]:
    """``uniflg serve``'s handler in this process, on a voice folder that does not exist (the same checks, without an
    interpreter start-up each) -> (exit status, the log records at WARNING or above). A call that names no --grpc
    address listens on a free port, so a server on the default 50051 cannot change which check fails first."""
    import argparse
    import logging

    from uniflg_bridge import cli

    parser = argparse.ArgumentParser()
    cli.register_serve(parser.add_subparsers())
    bind = [] if "--grpc" in args else ["--grpc", "127.0.0.1:0"]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        status = cli.run_serve(parser.parse_args(["serve", "--voice", "/nonexistent/voice", *bind, *args]))
    return status, [r for r in caplog.records if r.levelno >= logging.WARNING]

