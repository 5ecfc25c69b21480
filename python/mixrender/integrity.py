"""Whether a source file is whole: its header against its size, before anything is decoded.

A file cut short (an interrupted copy) keeps the header of the whole file: libsndfile
shrinks what the header promises to what is there and reads it, so the cut part would render
as silence. Here each container's own sizes are read and compared to the file's size, with
seeks and a few header bytes, never a decode:

* WAV (RIFF, RIFX), WAVEX, RF64 / BW64 (the `ds64` sizes), Sony Wave64: the `data` chunk's
  size against the bytes after its start; frames as the size over the block alignment (the
  `fact` count for compressed encodings).
* AIFF / AIFF-C: the `SSND` chunk's size against the file, and the `COMM` frame count
  against the samples `SSND` holds (uncompressed encodings).
* CAF: the `data` chunk's size, and for packet-coded data (ALAC) the packet table's sizes.
* Sun AU: the data size of its header.
* FLAC: the metadata blocks against the file, then the frames STREAMINFO promises: the file
  is seeked to its last frames and they are read (libsndfile finds them through the frame
  headers: a few small reads, not a decode; only a cut file is then decoded, to say how many
  frames it holds).
* Ogg (Vorbis, Opus, FLAC in Ogg): the headers state no length; a whole stream ends with a
  complete page marked end-of-stream, found by its checksum in the file's last 64 KiB.
* MP3: an Xing/Info or VBRI header's byte count when there is one; the MPEG frames are
  walked header to header (4 bytes read per frame) to the end of the file otherwise.

Other formats libsndfile reads (PAF, IRCAM, NIST, VOC, ...) are refused as sources: whether
such a file is whole cannot be told; they convert losslessly to WAV or FLAC.

Header sample rates outside 8000..384000 Hz are refused here too, before anything sized by
them is allocated.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import BinaryIO

#: The sample rates a source may have (header or in-memory).
MIN_RATE = 8000
MAX_RATE = 384000

ADVICE = "the file is cut short (an interrupted copy?): copy it again"

#: The formats (libsndfile's names) whose completeness is checked, and so read as sources.
CHECKED = ("WAV", "WAVEX", "RF64", "W64", "AIFF", "CAF", "AU", "FLAC", "OGG", "MP3")


class Damaged(Exception):
    """The file contradicts itself (cut short, a size past its end) or has an impossible
    header; the message is the reason, without the file's name."""


def _cut(promised: int, present: int, about: bool = False) -> Damaged:
    holds = f"about {present}" if about else str(present)
    return Damaged(f"the header promises {promised} frames but the file holds {holds}; {ADVICE}")


def _cut_bytes(what: str, end: int, size: int) -> Damaged:
    return Damaged(f"{what} ends at byte {end} but the file has {size} bytes; {ADVICE}")


def _header_cut(size: int) -> Damaged:
    return Damaged(
        f"cannot be read as audio: it ends inside its header, after {size} bytes; it is cut "
        "short (an interrupted copy?) or not an audio file"
    )


def check_rate(rate: int | float) -> str | None:
    """Why `rate` cannot be a source's sample rate, or None."""
    if rate != rate or not MIN_RATE <= rate <= MAX_RATE:
        return (
            f"sample rate {rate} Hz is outside {MIN_RATE}..{MAX_RATE} Hz; the header is "
            "damaged or the file is not audio"
        )
    return None


def _rate(rate: int | float) -> None:
    reason = check_rate(rate)
    if reason is not None:
        raise Damaged(reason)


class _File:
    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f = f
        self.size = size

    def at(self, pos: int, n: int) -> bytes:
        """`n` bytes at `pos`, or Damaged (cut inside the header) when the file ends first."""
        if pos < 0 or pos + n > self.size:
            raise _header_cut(self.size)
        self.f.seek(pos)
        data = self.f.read(n)
        if len(data) != n:
            raise _header_cut(self.size)
        return data


def _chunk(file: _File, pos: int, id_size: int, size_format: str) -> tuple[bytes, int, int]:
    """The header of the chunk at `pos` (an id of `id_size` bytes, then its size as
    `size_format` says): its id, its size and where its body starts; Damaged (cut inside the
    header) when the file ends first."""
    width = struct.calcsize(size_format)
    head = file.at(pos, id_size + width)
    (size,) = struct.unpack(size_format, head[id_size:])
    return head[:id_size], size, pos + id_size + width


def sniff(head: bytes) -> str | None:
    """The container of a file starting with `head` (64 bytes or fewer), by its magic."""
    if head[:4] in (b"RIFF", b"RIFX") and head[8:12] == b"WAVE":
        return "WAV"
    if head[:4] in (b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "RF64"
    if head[:4] == b"riff" and head[24:28] == b"wave":
        return "W64"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "AIFF"
    if head[:4] == b"caff":
        return "CAF"
    if head[:4] in (b".snd", b"dns."):
        return "AU"
    if head[:4] == b"fLaC":
        return "FLAC"
    if head[:4] == b"OggS":
        return "OGG"
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "MP3"
    return None


def check_file(path: Path) -> str | None:
    """Checks that the file at `path` is whole (see the module). Returns its container's name
    (None for a file of none of them: libsndfile decides whether it is audio at all); raises
    Damaged when it contradicts itself or its sample rate is impossible, OSError when it
    cannot be read."""
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        f.seek(0)
        head = f.read(64)
        kind = sniff(head)
        if kind is None:
            # None of these containers (or one cut inside its first bytes): libsndfile says
            # whether it is audio, and the caller refuses it either way.
            return None
        file = _File(f, size)
        if kind == "MP3" and head[:3] == b"ID3" and len(head) >= 10:
            after = _id3_end(head)
            if after + 4 <= size and file.at(after, 4) == b"fLaC":
                _flac(file, after)  # a FLAC file behind an ID3v2 tag
                return "FLAC"
        _CHECKS[kind](file)
        return kind


def _id3_end(head: bytes) -> int:
    """Where the ID3v2 tag at the start of `head` (10 bytes or more) ends."""
    end = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[6:10]))
    return end + 10 if head[5] & 0x10 else end


# --- WAV family -------------------------------------------------------------------------

#: Format tags whose data is `block_align` bytes per frame (PCM, float, A-law, u-law).
_PLAIN_TAGS = (1, 3, 6, 7)


def _riff(file: _File) -> None:
    kind = file.at(0, 4)
    big = kind == b"RIFX"
    u32 = ">I" if big else "<I"
    rf64 = kind in (b"RF64", b"BW64")
    pos = 12
    ds64_data: int | None = None
    ds64_frames: int | None = None
    fmt: tuple[int, int, int, int] | None = None  # tag, channels, rate, block_align
    fact: int | None = None
    data: tuple[int, int] | None = None  # start, stated bytes
    while True:
        if data is not None and pos + 8 > file.size:
            raise Damaged("it has no fmt chunk")
        cid, csize, body = _chunk(file, pos, 4, u32)
        if cid == b"ds64":
            if csize < 24:
                raise Damaged(f"its ds64 chunk has {csize} bytes, fewer than the 24 it needs")
            _riff64, ds64_data, ds64_frames = struct.unpack("<QQQ", file.at(body, 24))
        elif cid == b"fmt ":
            if csize < 16:
                raise Damaged(f"its fmt chunk has {csize} bytes, fewer than the 16 it needs")
            tag, channels, rate, _bps, align = struct.unpack(
                ">HHIIH" if big else "<HHIIH", file.at(body, 14)
            )
            if tag == 0xFFFE and csize >= 40:
                (tag,) = struct.unpack(">H" if big else "<H", file.at(body + 24, 2))
            _rate(rate)
            fmt = (tag, channels, rate, align)
        elif cid == b"fact" and csize >= 4:
            (fact,) = struct.unpack(u32, file.at(body, 4))
        elif cid == b"data":
            if rf64 and csize == 0xFFFFFFFF:
                if ds64_data is None:
                    raise Damaged(f"it is {kind.decode()} but has no ds64 chunk before its data")
                csize = ds64_data
                if ds64_frames:
                    fact = ds64_frames
            elif csize == 0xFFFFFFFF:
                return  # a streaming writer's "until the end of the file": nothing promised
            data = (body, csize)
            if body + csize > file.size and fmt is None:
                raise _cut_bytes("the data chunk", body + csize, file.size)
        if fmt is not None and data is not None:
            _data(file, data[0], data[1], fmt, fact)
            return
        pos = body + csize + (csize & 1)


def _data(
    file: _File, start: int, length: int, fmt: tuple[int, int, int, int], fact: int | None
) -> None:
    avail = file.size - start
    if length <= avail:
        return
    tag, _channels, _rate_hz, align = fmt
    if tag in _PLAIN_TAGS and align > 0:
        raise _cut(length // align, avail // align)
    # No codec here stores more than 8 frames a byte: a larger `fact` count is a writer's
    # placeholder, not a promise.
    if fact and fact <= 8 * length:
        raise _cut(fact, fact * avail // length, about=True)
    raise _cut_bytes("the data chunk", start + length, file.size)


_W64_GUID_TAIL = bytes.fromhex("f3acd3118cd100c04f8edb8a")


def _w64(file: _File) -> None:
    pos = 40
    fmt: tuple[int, int, int, int] | None = None
    fact: int | None = None
    while True:
        guid, csize, body = _chunk(file, pos, 16, "<Q")
        if csize < 24:
            raise Damaged(f"a chunk at byte {pos} has size {csize}, less than its own header")
        tag = guid[:4]
        if tag == b"fmt ":
            t, channels, rate, _bps, align = struct.unpack("<HHIIH", file.at(body, 14))
            if t == 0xFFFE and csize - 24 >= 40:
                (t,) = struct.unpack("<H", file.at(body + 24, 2))
            _rate(rate)
            fmt = (t, channels, rate, align)
        elif tag == b"fact" and csize >= 32:
            (fact,) = struct.unpack("<Q", file.at(body, 8))
        elif tag == b"data":
            if fmt is None:
                raise Damaged("its data chunk comes before its fmt chunk")
            _data(file, body, csize - 24, fmt, fact)
            return
        pos += (csize + 7) // 8 * 8


# --- AIFF / AIFF-C ------------------------------------------------------------------------

#: AIFF-C compression types of plain samples (bytes per sample then from the sample size).
_AIFC_PLAIN = (b"NONE", b"twos", b"sowt", b"raw ", b"in24", b"in32", b"fl32", b"FL32")
_AIFC_WIDE = {b"fl64": 8, b"FL64": 8, b"ulaw": 1, b"ULAW": 1, b"alaw": 1, b"ALAW": 1}


def _extended(b: bytes) -> float:
    """An IEEE 754 80-bit extended float (AIFF's sample rate)."""
    (se, mant) = struct.unpack(">HQ", b)
    exp = (se & 0x7FFF) - 16383 - 63
    if exp > 64:  # far above any audio rate (a damaged header): keep it finite, and refused
        value = float("inf") if mant else 0.0
    else:
        value = math.ldexp(float(mant), exp) if mant else 0.0
    return -value if se & 0x8000 else value


def _aiff(file: _File) -> None:
    aifc = file.at(8, 4) == b"AIFC"
    pos = 12
    comm: tuple[int, int] | None = None  # frames, bytes per frame (0: coded)
    ssnd: tuple[int, int] | None = None  # the samples' bytes: stated, present
    while comm is None or ssnd is None:
        if ssnd is not None and pos + 8 > file.size:
            raise Damaged(f"it has no COMM chunk; {ADVICE}")
        cid, csize, body = _chunk(file, pos, 4, ">I")
        if cid == b"COMM":
            channels, frames, bits = struct.unpack(">HIH", file.at(body, 8))
            _rate(_extended(file.at(body + 8, 10)))
            comp = file.at(body + 18, 4) if aifc and csize >= 22 else b"NONE"
            if comp == b"ima4":
                frames *= 64  # COMM counts packets of 64 frames
            if comp in _AIFC_PLAIN:
                width = (bits + 7) // 8 * channels
            elif comp in _AIFC_WIDE:
                width = _AIFC_WIDE[comp] * channels
            else:
                width = 0
            comm = (frames, width)
        elif cid == b"SSND":
            offset, _block = struct.unpack(">II", file.at(body, 8))
            start = body + 8 + offset
            ssnd = (max(0, csize - 8 - offset), max(0, file.size - start))
            if body + csize > file.size and comm is None:
                raise _cut_bytes("the SSND chunk", body + csize, file.size)
        pos = body + csize + (csize & 1)
    frames, width = comm
    stated, avail = ssnd
    if width > 0:
        promised = max(frames, stated // width)
        if promised * width > avail:
            raise _cut(promised, avail // width)
    elif stated > avail:
        raise _cut(frames, frames * avail // stated, about=True)


# --- CAF ----------------------------------------------------------------------------------


def _caf(file: _File) -> None:
    pos = 8
    desc: tuple[float, int, int] | None = None  # rate, bytes per packet, frames per packet
    pakt: tuple[int, int, int] | None = None  # packets, valid frames, table start
    pakt_size = 0
    while True:
        cid, csize, body = _chunk(file, pos, 4, ">q")
        if cid == b"desc":
            rate, _fmt, _flags, bpp, fpp, _ch, _bits = struct.unpack(">d4sIIIII", file.at(body, 32))
            _rate(rate)
            desc = (rate, bpp, fpp)
        elif cid == b"pakt":
            packets, valid = struct.unpack(">qq", file.at(body, 16))
            pakt = (packets, valid, body + 24)
            pakt_size = csize
        elif cid == b"data":
            if desc is None:
                raise Damaged("its data chunk comes before its desc chunk")
            start = body + 4  # after the edit count
            if csize < 0:  # -1: the data runs to the end of the file
                if pakt is None:
                    return
                length = None
            else:
                length = csize - 4
            _caf_data(file, start, length, desc, pakt, pakt_size)
            return
        if csize < 0:
            raise Damaged(f"its {cid!r} chunk has size {csize}")
        pos = body + csize


def _caf_data(
    file: _File,
    start: int,
    length: int | None,
    desc: tuple[float, int, int],
    pakt: tuple[int, int, int] | None,
    pakt_size: int,
) -> None:
    avail = file.size - start
    _rate_hz, bpp, fpp = desc
    if pakt is not None and bpp == 0:
        packets, valid, table = pakt
        # Each packet's byte size, a variable-length integer (7 bits a byte, high bit: more).
        raw = file.at(table, max(0, pakt_size - 24))
        total, value, got = 0, 0, 0
        sizes_end = 0
        for b in raw:
            value = (value << 7) | (b & 0x7F)
            if not b & 0x80:
                total += value
                got += 1
                value = 0
                if total <= avail:
                    sizes_end = got
                if got == packets:
                    break
        if length is None:
            length = total
        if total > avail or length > avail:
            raise _cut(valid, min(valid, sizes_end * fpp))
        return
    if length is None or length <= avail:
        return
    if bpp > 0 and fpp > 0:
        raise _cut(length // bpp * fpp, avail // bpp * fpp)
    raise _cut_bytes("the data chunk", start + length, file.size)


# --- AU -----------------------------------------------------------------------------------

_AU_BYTES = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 4, 7: 8, 27: 1}


def _au(file: _File) -> None:
    order = "<" if file.at(0, 4) == b"dns." else ">"  # little-endian AU
    offset, length, encoding, rate, channels = struct.unpack(order + "IIIII", file.at(4, 20))
    _rate(rate)
    if offset > file.size:
        raise _header_cut(file.size)
    if length == 0xFFFFFFFF:
        return  # "unknown": the data runs to the end of the file
    avail = file.size - offset
    if length <= avail:
        return
    width = _AU_BYTES.get(encoding, 0) * channels
    if width > 0:
        raise _cut(length // width, avail // width)
    raise _cut_bytes("the data", offset + length, file.size)


# --- FLAC ---------------------------------------------------------------------------------


def _flac(file: _File, start: int = 0) -> None:
    pos = start + 4
    frames = 0
    while True:
        header = file.at(pos, 4)
        kind = header[0] & 0x7F
        length = int.from_bytes(header[1:], "big")
        if kind == 0:
            info = int.from_bytes(file.at(pos + 4 + 10, 8), "big")
            rate = info >> 44
            frames = info & ((1 << 36) - 1)
            _rate(rate)
        if pos + 4 + length > file.size:
            raise _header_cut(file.size)
        pos += 4 + length
        if header[0] & 0x80:
            break
    if frames > 0 and pos >= file.size:
        raise _cut(frames, 0)


def flac_tail(path: Path, frames: int) -> None:
    """Seeks to the last frames the FLAC file's STREAMINFO promises and reads them; Damaged
    when they cannot be read (then the file is decoded to say how many frames it holds, or
    that it holds them all: libsndfile does not seek in a FLAC file behind an ID3v2 tag)."""
    import soundfile as sf

    if frames <= 0:
        return
    tail = min(frames, 64)
    try:
        with sf.SoundFile(str(path)) as f:
            f.seek(frames - tail)
            got = f.read(tail, dtype="float32").shape[0]
    except RuntimeError:  # soundfile's errors derive from it
        got = -1
    if got == tail:
        return
    present = 0
    try:
        with sf.SoundFile(str(path)) as f:
            while present < frames:
                got = f.read(4096, dtype="float32").shape[0]
                if got == 0:
                    break
                present += got
    except RuntimeError:  # soundfile's errors derive from it: the frames before it count
        pass
    if present >= frames:
        return  # whole: libsndfile could not seek in it (a FLAC file behind an ID3v2 tag)
    raise _cut(frames, present, about=present > 0)


# --- Ogg ----------------------------------------------------------------------------------


def _ogg_crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_OGG_CRC = _ogg_crc_table()


def _ogg_page_ok(page: bytes) -> bool:
    crc = 0
    body = page[:22] + b"\0\0\0\0" + page[26:]
    for b in body:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[(crc >> 24) ^ b]
    return crc == int.from_bytes(page[22:26], "little")


def _ogg(file: _File) -> None:
    # The first page holds the codec's identification header, with the sample rate.
    first = file.at(0, min(file.size, 27 + 255 + 64))
    packet = first[27 + first[26] :] if len(first) > 27 else b""
    if packet[:7] == b"\x01vorbis" and len(packet) >= 16:
        _rate(int.from_bytes(packet[12:16], "little"))
    window = min(file.size, 65307 + 65536)
    base = file.size - window
    tail = file.at(base, window)
    at = len(tail)
    while True:
        at = tail.rfind(b"OggS", 0, at)
        if at < 0:
            if base == 0:
                raise _header_cut(file.size)
            raise Damaged(f"its last 64 KiB hold no whole Ogg page; {ADVICE}")
        if at + 27 <= len(tail):
            nseg = tail[at + 26]
            if at + 27 + nseg <= len(tail):
                length = 27 + nseg + sum(tail[at + 27 : at + 27 + nseg])
                if at + length <= len(tail) and _ogg_page_ok(tail[at : at + length]):
                    break
    flags = tail[at + 5]
    granule = int.from_bytes(tail[at + 6 : at + 14], "little", signed=True)
    end = base + at + length
    if end == file.size and flags & 0x04:
        return
    where = f"its last whole page ends at frame {max(granule, 0)}"
    raise Damaged(f"its Ogg stream stops without its end-of-stream page ({where}); {ADVICE}")


# --- MP3 ----------------------------------------------------------------------------------

_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_MP3_KBPS = {
    (3, 3): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (3, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (3, 1): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (2, 3): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (2, 1): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}


def _mp3_frame(h: bytes) -> tuple[int, int, int] | None:
    """(bytes, samples, rate) of the MPEG audio frame whose header is `h`, or None."""
    if len(h) < 4 or h[0] != 0xFF or h[1] & 0xE0 != 0xE0:
        return None
    version = (h[1] >> 3) & 3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    layer = (h[1] >> 1) & 3  # 3: I, 2: II, 1: III
    bitrate = h[2] >> 4
    rate_i = (h[2] >> 2) & 3
    pad = (h[2] >> 1) & 1
    if version == 1 or layer == 0 or bitrate in (0, 15) or rate_i == 3:
        return None
    rate = _MP3_RATES[version][rate_i]
    table = _MP3_KBPS[(3, layer)] if version == 3 else _MP3_KBPS[(2, 3 if layer == 3 else 1)]
    kbps = table[bitrate] * 1000
    if layer == 3:
        return (12 * kbps // rate + pad) * 4, 384, rate
    samples = 1152 if (layer == 2 or version == 3) else 576
    return samples // 8 * kbps // rate + pad, samples, rate


def _mp3(file: _File) -> None:
    pos = 0
    head = file.at(0, 10) if file.size >= 10 else file.at(0, file.size)
    if head[:3] == b"ID3":
        if len(head) < 10:
            raise _header_cut(file.size)
        pos = _id3_end(head)
    end = file.size
    if end >= 128 and file.at(end - 128, 3) == b"TAG":
        end -= 128
    if end - pos < 4:
        raise _header_cut(file.size)
    first = _mp3_frame(file.at(pos, 4))
    if first is None:
        raise Damaged("no MPEG audio frame follows its tags")
    _rate(first[2])
    # An Xing/Info or VBRI header in the first frame states the frames and bytes.
    frame0 = file.at(pos, min(first[0], end - pos))
    promised: int | None = None  # MPEG frames after this one
    for tag in (b"Xing", b"Info"):
        i = frame0.find(tag, 4, 64)
        if i >= 0 and i + 16 <= len(frame0):
            flags = int.from_bytes(frame0[i + 4 : i + 8], "big")
            j = i + 8
            if flags & 1:
                promised = int.from_bytes(frame0[j : j + 4], "big")
    i = frame0.find(b"VBRI", 4, 64)
    if i >= 0 and i + 18 <= len(frame0):
        promised = int.from_bytes(frame0[i + 14 : i + 18], "big")
    # Walk the frames: each must end within the file. The Xing/Info frame holds no audio.
    walked, frames = pos, 0
    if promised is not None:
        walked += first[0]
    cut_at: tuple[int, int] | None = None  # the frame running past the end: byte, bytes
    while walked + 4 <= end:
        frame = _mp3_frame(file.at(walked, 4))
        if frame is None:
            break  # trailing tags or junk after the last frame
        if walked + frame[0] > end:
            cut_at = (walked, frame[0])
            break
        walked += frame[0]
        frames += 1
    if promised is not None and frames < promised:
        raise Damaged(
            f"its Xing header promises {promised} MPEG frames of {first[1]} samples but the "
            f"file holds {frames}; {ADVICE}"
        )
    if cut_at is not None:
        raise _cut_bytes(f"its MPEG frame at byte {cut_at[0]}", sum(cut_at), end)


_CHECKS = {
    "WAV": _riff,
    "RF64": _riff,
    "W64": _w64,
    "AIFF": _aiff,
    "CAF": _caf,
    "AU": _au,
    "FLAC": _flac,
    "OGG": _ogg,
    "MP3": _mp3,
}
