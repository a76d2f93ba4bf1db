"""Minimal aiohttp servers for the ceilings, run in a child process on an inherited socket.

    python -m benchmarks.servers plain  --fd N             read the body, answer 202
    python -m benchmarks.servers page   --fd N             answer every GET with a 20 KB HTML page
    python -m benchmarks.servers signed --fd N --key FILE  read, json.loads, jsonld.normalize,
                                                           parse the signature, verify it with a
                                                           key parsed once, answer 202 (401 if bad)

Prints "ready" on stdout once it accepts connections; stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket

from aiohttp import web

ACCEPTED = b'{"status":"accepted"}'


def plain_app() -> web.Application:
    async def receive(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=202, body=ACCEPTED, content_type="application/json")

    app = web.Application(client_max_size=1_000_000)
    app.router.add_post("/{tail:.*}", receive)
    return app


PAGE = ("<!doctype html><html lang=fr><head><meta charset=utf-8><title>Île</title></head><body>"
        + "<article class=card><h2><a href=/r/1>Un titre de fiche</a></h2><p>Un résumé de la fiche, "
          "de taille ordinaire, comme sur une page de liste.</p></article>" * 100
        + "</body></html>").encode()


def page_app() -> web.Application:
    """The ceiling of a listing: a bare aiohttp handler answering a ready-made page."""
    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    return app


def signed_app(public_key_pem: str) -> web.Application:
    from federation.jsonld import normalize
    from federation.keys import load_public_key
    from federation.signatures import SignatureError, parse_signed_request

    key = load_public_key(public_key_pem)

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        normalize(json.loads(body))
        target = f"{request.scheme}://{request.host}{request.path_qs}"
        try:
            signed = parse_signed_request(request.method, target, request.headers, body)
        except SignatureError:
            return web.Response(status=401)
        if not signed.verify(key):
            return web.Response(status=401)
        return web.Response(status=202, body=ACCEPTED, content_type="application/json")

    app = web.Application(client_max_size=1_000_000)
    app.router.add_post("/{tail:.*}", receive)
    return app


async def serve(app: web.Application, sock: socket.socket) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("plain", "page", "signed"))
    parser.add_argument("--fd", type=int, required=True, help="an inherited, bound socket")
    parser.add_argument("--key", help="file holding the public key PEM (signed mode)")
    args = parser.parse_args()
    sock = socket.socket(fileno=args.fd)
    if args.mode == "plain":
        app = plain_app()
    elif args.mode == "page":
        app = page_app()
    else:
        with open(args.key, encoding="ascii") as file:
            app = signed_app(file.read())
    asyncio.run(serve(app, sock))


if __name__ == "__main__":
    main()
