"""The HTTP/1.1 protocol ``liveloop serve`` runs: uvicorn's httptools protocol with a cap on the request
line and headers (httptools has none: a 64 MiB header was read whole), answered 431 problem+json."""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: The most bytes a request line and its headers may take (nginx allows 8–32 KiB, Node 16 KiB).
MAX_HEADER_BYTES = 64 * 1024
_END = b"\r\n\r\n"


class BoundedHeadersProtocol(HttpToolsProtocol):
    """Counts the bytes of each request's head as they arrive; past ``MAX_HEADER_BYTES`` the client gets
    a 431 and the connection is closed, before the rest is read."""

    max_header_bytes = MAX_HEADER_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head = 0
        self._in_head = True
        self._tail = b""

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            seen = self._tail + data
            end = seen.find(_END)
            self._head += (end + len(_END) - len(self._tail)) if end >= 0 else len(data)
            self._tail = seen[-3:]
            if self._head > self.max_header_bytes:
                self._refuse()
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head, self._tail = True, 0, b""

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def _refuse(self) -> None:
        body = json.dumps(
            {
                "type": "https://liveloop.dev/problems/http-431",
                "title": "Request Header Fields Too Large",
                "status": 431,
                "detail": f"the request line and headers may take at most {self.max_header_bytes} bytes",
                "field": "headers",
            }
        ).encode()
        head = (
            "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/problem+json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        ).encode()
        self._in_head = False
        if not self.transport.is_closing():
            self.transport.write(head + body)
            self.transport.close()
