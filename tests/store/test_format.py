"""The format as specified in docs/format.md: a frozen store, read by the code and by an independent reader.

``data/format-v1`` was written once by format version 1 of the store (file backend, test-only master
keyset). Both readers must keep opening it: a format change that breaks it needs a new format version
and a changes entry in docs/format.md, not a regenerated fixture.

The independent reader below uses only ``cryptography``, ``zstandard`` and the Tink keyset protobufs
(to pull raw key bytes out of the keysets), following docs/format.md step by step.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
from pathlib import Path

import pytest
import zstandard
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from resources.keyring import Keyring
from resources.snapshot_store import SnapshotStore

FROZEN = Path(__file__).parent / "data" / "format-v1"
SMALL = "eac38544e9cc175fb1810e3ea6b7afeb9ebae6259aec568f364a79db0e22c908"
LARGE = "aea65805f55e5caa50ab301f5f92d3aee70cc81b401bad1bc6c3f82132e0d1cf"
EMPTY = "e34b50cab45916bd2eddb388faada762e1058faef9bd4c79fd22877c85adeb8d"
LARGE_SHA256 = "387b344c8c8a023f4aa7918ef10482cf2716ae8e17ca59985ef8589863a4a226"
MANIFEST_DIGEST = "6c6778db9ce64f20a54ef20bcd8f34a7548c6a48f1c05d95ecd8ac65eb0f2f2d"


@pytest.fixture
def frozen(tmp_path: Path) -> Path:
    copy = tmp_path / "format-v1"
    shutil.copytree(FROZEN, copy)
    (copy / "TEST-ONLY-master.keyset").chmod(0o600)
    return copy


def test_current_code_reads_the_frozen_format_v1_store(frozen: Path) -> None:
    keyring = Keyring.from_urls((frozen / "keyring").as_uri(), (frozen / "TEST-ONLY-master.keyset").as_uri())
    store = SnapshotStore.from_urls((frozen / "store").as_uri(), keyring)
    manifest = store.read_manifest("frozen", "2026-01-01", "issues", expected_digest=MANIFEST_DIGEST)
    assert manifest.blobs == (SMALL, LARGE, EMPTY) and manifest.body == {"note": "frozen fixture"}
    assert store.read_blob("frozen", SMALL) == b"frozen blob: format version 1\n"
    assert hashlib.sha256(store.read_blob("frozen", LARGE)).hexdigest() == LARGE_SHA256
    assert store.read_blob("frozen", EMPTY) == b""
    assert store.verify("frozen", "2026-01-01", read_data=True).ok
    # and the same content written today gets the same ids (the blob-id derivation is unchanged)
    assert store.put_blob("frozen", b"frozen blob: format version 1\n").id == SMALL


# -- an independent reader, written from docs/format.md ---------------------------------------


def unwrap_keys(frozen: Path) -> dict[str, bytes]:
    import tink
    from tink import aead, secret_key_access
    from tink.proto import aes_gcm_hkdf_streaming_pb2, aes_gcm_pb2, hmac_prf_pb2, tink_pb2

    aead.register()
    master = tink.json_proto_keyset_format.parse(
        (frozen / "TEST-ONLY-master.keyset").read_text(), secret_key_access.TOKEN
    ).primitive(aead.Aead)
    document = json.loads((frozen / "keyring" / "frozen").read_bytes())
    assert (document["format"], document["version"], document["customer"]) == ("backhub-keyset", 1, "frozen")
    keys = {}
    protos = {
        "blob": aes_gcm_hkdf_streaming_pb2.AesGcmHkdfStreamingKey,
        "manifest": aes_gcm_pb2.AesGcmKey,
        "blob-id": hmac_prf_pb2.HmacPrfKey,
    }
    for purpose, proto in protos.items():
        wrapped = base64.b64decode(document["keysets"][purpose]["encryptedKeyset"])
        aad = b"backhub-keyset/v1\x00frozen\x00" + purpose.encode()
        keyset = tink_pb2.Keyset.FromString(master.decrypt(wrapped, aad))
        primary = next(k for k in keyset.key if k.key_id == keyset.primary_key_id)
        keys[purpose] = proto.FromString(primary.key_data.value).key_value
    return keys


def read_blob_independently(stored: bytes, blob_id: str, key: bytes, id_key: bytes) -> bytes:
    segment = 1024 * 1024
    assert stored[:8] == b"BHBLOB\x01\x01"
    aad = stored[:8] + blob_id.encode("ascii")
    stream = stored[8:]
    assert stream[0] == 40
    salt, nonce_prefix = stream[1:33], stream[33:40]
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=aad).derive(key)
    gcm = AESGCM(derived)
    body, position, index, frame = stream[40:], 0, 0, b""
    while True:
        size = segment - 40 if index == 0 else segment
        chunk = body[position : position + size]
        position += size
        last = position >= len(body)
        nonce = nonce_prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")
        frame += gcm.decrypt(nonce, chunk, None)
        index += 1
        if last:
            break
    plaintext = zstandard.ZstdDecompressor().decompress(frame, max_output_size=64 * 1024 * 1024)
    assert hmac.new(id_key, plaintext, hashlib.sha256).hexdigest() == blob_id
    return plaintext


def test_an_independent_reader_following_the_spec_reads_the_frozen_store(frozen: Path) -> None:
    keys = unwrap_keys(frozen)
    id_key = hmac.new(keys["blob-id"], b"backhub/blob-id/v1", hashlib.sha256).digest()

    stored_manifest = (frozen / "store/customers/frozen/snapshots/2026-01-01/issues.json").read_bytes()
    assert hashlib.sha256(stored_manifest).hexdigest() == MANIFEST_DIGEST
    assert stored_manifest[:5] == b"BHMF\x01" and stored_manifest[5] == 0x01
    sealed = stored_manifest[10:]  # after the 5-byte envelope and Tink's 5-byte output prefix
    aad = b"backhub-manifest/v1\x00frozen\x002026-01-01\x00issues"
    manifest = json.loads(AESGCM(keys["manifest"]).decrypt(sealed[:12], sealed[12:], aad))
    assert manifest["format"] == "backhub-manifest" and manifest["version"] == 1
    assert (manifest["customer"], manifest["date"], manifest["asset"]) == ("frozen", "2026-01-01", "issues")

    contents = {}
    for blob_id in manifest["blobs"]:
        stored = (frozen / f"store/customers/frozen/blobs/{blob_id[:2]}/{blob_id}").read_bytes()
        contents[blob_id] = read_blob_independently(stored, blob_id, keys["blob"], id_key)
    assert contents[SMALL] == b"frozen blob: format version 1\n"
    assert hashlib.sha256(contents[LARGE]).hexdigest() == LARGE_SHA256
    assert contents[EMPTY] == b""
