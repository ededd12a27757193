"""Raft frame sealing: Fernet tokens made and checked in fewer interpreter steps.

pysyncobj seals every frame with a `cryptography` Fernet: `encrypt_at_time` when sending,
then `extract_timestamp` and `decrypt` on the same token when receiving. The library
object builds padding and HMAC helper objects on every call and checks the token's HMAC
twice on receipt (once per call); on an idle cluster that is a large share of the Raft
thread's time per heartbeat. `FrameSealer` produces and accepts exactly the Fernet token
format (version 0x80, 8-byte big-endian timestamp, 16-byte IV, AES-128-CBC ciphertext with
PKCS7 padding, HMAC-SHA256 over all of it; base64url), so it talks to peers sealing with a
plain Fernet and the other way round.

IVs: each frame's IV is a 128-bit counter (started at a random value) enciphered with the
frame key, as NIST SP 800-38A appendix C recommends for CBC: unpredictable without the
key and never repeated, without a getrandom system call per frame (on an idle node a
large share of a heartbeat's cost).

Invariants: the HMAC is checked (constant-time compare) before anything is decrypted or
trusted; a bad token raises `cryptography.fernet.InvalidToken` like Fernet does (so
`MultiFernet` still tries the next key during a key rotation); only a token whose HMAC
checked out is remembered, and only the last one (the library asks for its timestamp and
then decrypts it; a sender repeats the very same token for a repeated frame, whose
plaintext is then remembered too). Used on the Raft tick thread only. No TTL: the
library never asks.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

VERSION_BYTE = 0x80
TIMESTAMP_BYTES = 8
IV_BYTES = 16
BLOCK_BYTES = 16
MAC_BYTES = 32
HEADER_BYTES = 1 + TIMESTAMP_BYTES + IV_BYTES
SHORTEST_TOKEN_BYTES = HEADER_BYTES + BLOCK_BYTES + MAC_BYTES


class FrameSealer:
    """Fernet-compatible sealing with the keys of an existing `Fernet`."""

    def __init__(self, fernet: Fernet) -> None:
        # The two halves of the Fernet key, as the library object holds them.
        self._signing_key: bytes = fernet._signing_key
        self._cipher_algorithm = algorithms.AES(fernet._encryption_key)
        # CBC decryption is one block decryption of every ciphertext block, each XORed with
        # the block before it (the IV for the first): the raw block cipher (AES in ECB mode
        # applied block by block, never used to seal anything) is kept for the whole life
        # of the sealer instead of building a CBC context for every frame.
        self._block_decryptor = Cipher(self._cipher_algorithm, modes.ECB()).decryptor()
        self._iv_encryptor = Cipher(self._cipher_algorithm, modes.ECB()).encryptor()
        self._iv_counter = int.from_bytes(os.urandom(IV_BYTES), "big")
        self._last_token: bytes | None = None
        self._last_opened: tuple[int, bytes] = (0, b"")
        # (decoded token, its plaintext) of the last token decrypted
        self._last_plaintext: tuple[bytes, bytes] | None = None

    def encrypt_at_time(self, data: bytes, current_time: int) -> bytes:
        self._iv_counter = (self._iv_counter + 1) % (1 << 128)
        iv = self._iv_encryptor.update(self._iv_counter.to_bytes(IV_BYTES, "big"))
        pad = BLOCK_BYTES - len(data) % BLOCK_BYTES
        encryptor = Cipher(self._cipher_algorithm, modes.CBC(iv)).encryptor()
        ciphertext = encryptor.update(data + bytes((pad,)) * pad) + encryptor.finalize()
        signed = bytes((VERSION_BYTE,)) + current_time.to_bytes(TIMESTAMP_BYTES, "big") \
            + iv + ciphertext
        return base64.urlsafe_b64encode(signed + hmac.digest(self._signing_key, signed,
                                                              "sha256"))

    def extract_timestamp(self, token: bytes | str) -> int:
        return self._opened(token)[0]

    def decrypt(self, token: bytes | str, ttl: int | None = None) -> bytes:
        if ttl is not None:
            raise ValueError("raft frames carry no time to live")
        data = self._opened(token)[1]
        if self._last_plaintext is not None and self._last_plaintext[0] is data:
            return self._last_plaintext[1]   # the same token again (a repeated heartbeat)
        ciphertext = data[HEADER_BYTES:-MAC_BYTES]
        previous_blocks = data[1 + TIMESTAMP_BYTES:-MAC_BYTES - BLOCK_BYTES]  # IV, C0..Cn-2
        decrypted = self._block_decryptor.update(ciphertext)
        padded = (int.from_bytes(decrypted, "big") ^ int.from_bytes(previous_blocks, "big")
                  ).to_bytes(len(ciphertext), "big")
        pad = padded[-1]
        if not 1 <= pad <= BLOCK_BYTES or padded[-pad:] != bytes((pad,)) * pad:
            raise InvalidToken
        self._last_plaintext = (data, padded[:-pad])
        return self._last_plaintext[1]

    def _opened(self, token: bytes | str) -> tuple[int, bytes]:
        """(timestamp, decoded token) of a token whose HMAC checks out."""
        if token is self._last_token or (self._last_token is not None
                                          and token == self._last_token):
            return self._last_opened
        if not isinstance(token, (bytes, str)):
            raise TypeError("token must be bytes or str")
        try:
            data = base64.urlsafe_b64decode(token)
        except (TypeError, ValueError, binascii.Error):
            raise InvalidToken from None
        if len(data) < SHORTEST_TOKEN_BYTES or data[0] != VERSION_BYTE \
                or (len(data) - HEADER_BYTES - MAC_BYTES) % BLOCK_BYTES:
            raise InvalidToken
        expected = hmac.digest(self._signing_key, data[:-MAC_BYTES], "sha256")
        if not hmac.compare_digest(expected, data[-MAC_BYTES:]):
            raise InvalidToken
        opened = (int.from_bytes(data[1:1 + TIMESTAMP_BYTES], "big"), data)
        if isinstance(token, bytes):
            self._last_token, self._last_opened = token, opened
        return opened
