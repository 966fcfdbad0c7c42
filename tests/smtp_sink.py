#!/usr/bin/env python3
"""A real SMTP server for SAND's tests, on aiosmtpd (PyPI).

    python3 tests/smtp_sink.py DIR [--port PORT] [--tls-cert PEM --tls-key PEM]
                                   [--user USER --password PASSWORD]

Listens on 127.0.0.1 on PORT, or on a port the system chooses, and prints that port alone
on its first line. With a certificate it offers STARTTLS and requires it before any mail;
with a user it requires SMTP AUTH (PLAIN or LOGIN, only over TLS when TLS is on) and
refuses wrong credentials (535). Recipients whose address starts with "refuse" are refused for good
(550), as a relay refuses an unknown user. Every message it accepts is written to DIR as NNNN.eml (the bytes received) and
NNNN.json (the envelope, and the message as Python's own e-mail parser reads it: decoded
headers, text and HTML parts), the .json last, so a reader that sees it sees both. It
answers 250 only once both are written. It stops when its standard input closes.
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult


class Handler:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refuse"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.directory, f"{self.count:04}")
        raw = envelope.original_content or envelope.content
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        summary = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "content_language": str(message.get("Content-Language", "")),
            "content_type": message.get_content_type(),
            "text": text.get_content() if text is not None else None,
            "text_charset": text.get_content_charset() if text is not None else None,
            "html": html.get_content() if html is not None else None,
        }
        with open(base + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump(summary, f, ensure_ascii=False)
        os.rename(base + ".json.tmp", base + ".json")
        return "250 Message accepted for delivery"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            auth_data is not None
            and getattr(auth_data, "login", None) == user.encode()
            and getattr(auth_data, "password", None) == password.encode()
        )
        # handled=False: the server answers 535 itself
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    return check


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    os.makedirs(args.directory, exist_ok=True)
    handler = Handler(args.directory)
    options = {"hostname": "smtp-sink.test"}
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        options.update(tls_context=context, require_starttls=True)
    if args.user:
        options.update(
            authenticator=authenticator(args.user, args.password),
            auth_required=True,
            auth_require_tls=bool(args.tls_cert),
        )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, **options), "127.0.0.1", args.port
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
