"""Every read of a stored body (errors logs, input files, state, snapshots, reports, shared-cache entries),
bounded by the bytes that reach our code and by the clock.

Storage keeps a blob's Content-Encoding as the uploader set it, and azure-core unpacks a gzip or deflate body
on its own, whatever we ask for: 1 MiB stored can become 1 GiB in one piece, before any check of ours runs. So
every read here asks azure-core for the stored bytes as they are (`decompress=False`) and:

- reads a body without encoding as it is, at most `max_bytes`;
- decodes gzip and deflate itself, in pieces of DECODED_PIECE_BYTES, counting the decoded bytes against
  `max_bytes`;
- refuses any other encoding (br, compress, zstd, a list of codings): those bytes are never read.

The clock is checked between every decoded piece and every stored piece (at most the clients' download
piece, 1 MiB), and every socket read waits no longer than was left of the budget when the call started
(the per-call timeouts of shared/poller/storage.py), so a read ends close to its deadline whatever the body.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator
from enum import Enum
from typing import TYPE_CHECKING, Any

from shared.errors import TargetRejected

if TYPE_CHECKING:
    from azure.storage.blob import BlobProperties, StorageStreamDownloader

DECODED_PIECE_BYTES = 64 * 1024  # what one decoding step may produce: the memory a bomb can take at once
IDENTITY = "identity"
# zlib's window bits: 16 + 15 reads a gzip member, 15 a zlib stream (HTTP's "deflate"), -15 raw deflate.
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_DECODERS = {"gzip": _GZIP_WBITS, "x-gzip": _GZIP_WBITS, "deflate": zlib.MAX_WBITS}


class Cut(str, Enum):
    """Why a body was not read to its end (`.value` goes into notes and log lines)."""

    SIZE = "size"  # more than max_bytes once decoded
    TIME = "time"  # the deadline passed
    ENCODING = "encoding"  # an encoding we do not decode: nothing was read


class BodyRefused(TargetRejected):
    """A stored body that is not read whole: larger than allowed once decoded, out of time, or encoded in a
    way we do not decode. `cut` says which."""

    def __init__(self, reason: str, cut: Cut) -> None:
        super().__init__(reason)
        self.cut = cut


def content_encoding(properties: Any) -> str:
    """The blob's Content-Encoding, lower case; "identity" when it has none."""
    settings = getattr(properties, "content_settings", None)
    value = getattr(settings, "content_encoding", None)
    return value.strip().lower() if isinstance(value, str) and value.strip() else IDENTITY


# What every download passes to azure-storage: the stored bytes, never azure-core's own unpacking, one piece
# at a time (so that stopping early stops the download).
STORED_BYTES: dict[str, Any] = {"decompress": False, "max_concurrency": 1}


class StoredBody:
    """A download's body as decoded pieces (iterate it once), stopping at `max_bytes` decoded or when `expired()`
    turns true. After the iteration, `cut` says why it stopped early (None: the whole body was read) and
    `decoded` how many bytes came out; `encoding` is the stored Content-Encoding."""

    def __init__(self, downloader: StorageStreamDownloader[bytes], *, max_bytes: int,
                 expired: Callable[[], bool]) -> None:
        self.properties: BlobProperties = downloader.properties
        self.encoding = content_encoding(self.properties)
        self.max_bytes = max_bytes
        self.decoded = 0
        self.stored_read = 0
        self.cut: Cut | None = None
        self._downloader = downloader
        self._expired = expired
        if self.encoding != IDENTITY and self.encoding not in _DECODERS:
            self.cut = Cut.ENCODING

    def __iter__(self) -> Iterator[bytes]:
        if self.cut is Cut.ENCODING:
            return
        decoder = _Decoder(self.encoding)
        for stored in self._downloader.chunks():
            self.stored_read += len(stored)
            for piece in decoder.pieces(stored):
                if self._expired():
                    self.cut = Cut.TIME
                    return
                room = self.max_bytes - self.decoded
                if len(piece) > room:
                    self.decoded += room
                    self.cut = Cut.SIZE
                    if room:
                        yield piece[:room]
                    return
                self.decoded += len(piece)
                yield piece
            if self._expired():
                self.cut = Cut.TIME
                return
        if not decoder.finished:
            # The stream stops before its end: cut by our own bound on the stored bytes (the blob is larger than
            # what was read), or cut off as it was stored. Either way it is not the whole body.
            # (Our reads ask for at most max_bytes stored: having read that many, the rest is beyond our bound.)
            self.cut = Cut.SIZE if self.stored_read >= self.max_bytes else Cut.ENCODING

    def why(self, name: str) -> str:
        """The reason for `cut`, in words (no secret: a blob name and numbers)."""
        if self.cut is Cut.ENCODING:
            return (f"{name} is stored with Content-Encoding {self.encoding[:40]!r}, which the monitor does not decode "
                    "(or its stream is not whole)")
        if self.cut is Cut.TIME:
            return f"{name} could not be read within its time budget ({self.decoded} bytes read)"
        unpacked = f" once unpacked from {self.encoding}" if self.encoding != IDENTITY else ""
        return f"{name} is larger than {self.max_bytes} bytes{unpacked}"


class _Decoder:
    """Stored bytes to decoded pieces of at most DECODED_PIECE_BYTES (gzip members may follow one another)."""

    def __init__(self, encoding: str) -> None:
        self._wbits = _DECODERS.get(encoding)
        self._zlib = None if self._wbits is None else zlib.decompressobj(self._wbits)
        self._raw_deflate_tried = False

    @property
    def finished(self) -> bool:
        """Whether the stored stream reached its end (always, for a body stored as it is)."""
        return self._zlib is None or self._zlib.eof

    def pieces(self, data: bytes) -> Iterator[bytes]:
        if self._zlib is None:
            for start in range(0, len(data), DECODED_PIECE_BYTES):
                yield data[start:start + DECODED_PIECE_BYTES]
            return
        while data:
            try:
                piece = self._zlib.decompress(data, DECODED_PIECE_BYTES)
            except zlib.error:
                if self._wbits == zlib.MAX_WBITS and not self._raw_deflate_tried:
                    # Some writers send "deflate" without the zlib header: raw deflate, tried once from the start.
                    self._raw_deflate_tried = True
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise BodyRefused("the stored body is not valid for its Content-Encoding", Cut.ENCODING) from None
            self._raw_deflate_tried = True  # the header was read: never restart later in the stream
            if piece:
                yield piece
            if self._zlib.eof:
                data = self._zlib.unused_data
                if data and self._wbits == _GZIP_WBITS:
                    self._zlib = zlib.decompressobj(self._wbits)  # the next gzip member
                    continue
                return
            data = self._zlib.unconsumed_tail


def expires_in(seconds: float) -> Callable[[], bool]:
    """A clock for one read that has no deadline of its own: true once `seconds` have passed."""
    end = time.monotonic() + seconds
    return lambda: time.monotonic() >= end


def read_seconds(options: dict[str, Any], default: float) -> float:
    """How long one read given azure-storage's per-call `options` may take: its connection and read timeouts."""
    return float(options.get("connection_timeout", 0.0)) + float(options.get("read_timeout", default))


def read_whole(downloader: StorageStreamDownloader[bytes], *, name: str, max_bytes: int,
               expired: Callable[[], bool]) -> bytes:
    """The whole decoded body of a small blob (a state, a snapshot, a report, a cache entry); BodyRefused when it
    is larger than `max_bytes` once decoded, out of time or in an encoding we do not decode."""
    body = StoredBody(downloader, max_bytes=max_bytes, expired=expired)
    data = b"".join(body)
    if body.cut is not None:
        raise BodyRefused(body.why(name), body.cut)
    return data
