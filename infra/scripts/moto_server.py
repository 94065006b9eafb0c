"""moto's server, with requests handled one at a time.

moto's DynamoDB TransactWriteItems is not thread-safe: a cancelled transaction restores a copy
of the whole table taken when it began, erasing writes that other threads made meanwhile.
Real DynamoDB has no such race, and the concurrency tests must test Stint, not moto. So every
request runs under one lock; connections are still served on their own threads.

With `--tls-port`, the same emulator (one state) also listens over TLS with the given
certificate: the tests check that the functions' HTTPS client verifies and speaks TLS.
"""

import argparse
import signal
import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--tls-port", type=int)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            # Build the whole response inside the lock: moto's work happens as it is iterated.
            return list(app(environ, start_response))

    if args.tls_port:
        tls = threading.Thread(
            target=run_simple,
            args=(args.host, args.tls_port, serialized),
            kwargs=dict(
                threaded=True,
                request_handler=MotoRequestHandler,
                ssl_context=(args.tls_cert, args.tls_key),
            ),
            daemon=True,
        )
        tls.start()
    run_simple(args.host, args.port, serialized, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
