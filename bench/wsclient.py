"""A small asyncio websocket client on wsproto (already installed with simple-websocket):
thousands of sockets in one thread, so the load generator is not what limits the figures."""
from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, CloseConnection, Ping, RejectConnection, Request, \
    TextMessage


class Closed(Exception):
    pass


class WebSocket:
    def __init__(self, reader, writer, conn: WSConnection):
        self.reader, self.writer, self.conn = reader, writer, conn
        self.messages: asyncio.Queue = asyncio.Queue()
        self._pump = asyncio.get_running_loop().create_task(self._read())
        self._text: list[str] = []

    @classmethod
    async def connect(cls, url: str, *, cookie: str, origin: str) -> "WebSocket":
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        conn = WSConnection(ConnectionType.CLIENT)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        writer.write(conn.send(Request(host=parts.netloc, target=target,
                                       extra_headers=[(b"Cookie", cookie.encode()), (b"Origin", origin.encode())])))
        await writer.drain()
        while True:
            data = await reader.read(65536)
            if not data:
                raise Closed("closed during the handshake")
            conn.receive_data(data)
            for event in conn.events():
                if isinstance(event, AcceptConnection):
                    return cls(reader, writer, conn)
                if isinstance(event, RejectConnection):
                    raise Closed(f"handshake refused: {event.status_code}")

    async def _read(self) -> None:
        try:
            data = b""  # first, whatever arrived with the handshake's answer (the hello, often)
            while True:
                if data:
                    self.conn.receive_data(data)
                for event in self.conn.events():
                    if isinstance(event, TextMessage):
                        self._text.append(event.data)
                        if event.message_finished:
                            self.messages.put_nowait("".join(self._text))
                            self._text = []
                    elif isinstance(event, BytesMessage):
                        pass
                    elif isinstance(event, Ping):
                        self.writer.write(self.conn.send(event.response()))
                    elif isinstance(event, CloseConnection):
                        try:
                            self.writer.write(self.conn.send(event.response()))
                        except Exception:  # noqa: BLE001
                            pass
                        raise Closed()
                data = await self.reader.read(65536)
                if not data:
                    break
        except (Closed, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.messages.put_nowait(None)

    async def receive(self, timeout: float | None = None) -> str:
        message = await asyncio.wait_for(self.messages.get(), timeout)
        if message is None:
            raise Closed()
        return message

    async def send(self, text: str) -> None:
        self.writer.write(self.conn.send(TextMessage(data=text)))
        await self.writer.drain()

    async def close(self) -> None:
        self._pump.cancel()
        try:
            self.writer.close()
        except Exception:  # noqa: BLE001
            pass
