"""RSA public keys from PEM (a tiny DER reader), RS256 verification with
pow(), JWT decoding and PKCE, for the emulated OAuth token endpoint.

Supported PEM blocks: PUBLIC KEY (SubjectPublicKeyInfo), RSA PUBLIC KEY
(PKCS#1), PRIVATE KEY (PKCS#8) and RSA PRIVATE KEY (PKCS#1): the private
forms only to take the public half, so a service-account JSON key file can be
registered as is.
"""

import base64
import hashlib
import hmac
import json

RSA_OID = bytes.fromhex("2a864886f70d010101")          # 1.2.840.113549.1.1.1
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


class KeyError_(ValueError):
    pass


def _der_item(buf, pos):
    if pos + 2 > len(buf):
        raise KeyError_("truncated DER")
    tag = buf[pos]
    length = buf[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(buf):
            raise KeyError_("bad DER length")
        length = int.from_bytes(buf[pos:pos + n], "big")
        pos += n
    if pos + length > len(buf):
        raise KeyError_("truncated DER")
    return tag, buf[pos:pos + length], pos + length


def _der_seq(buf):
    items = []
    pos = 0
    while pos < len(buf):
        tag, content, pos = _der_item(buf, pos)
        items.append((tag, content))
    return items


def _int(item):
    tag, content = item
    if tag != 0x02:
        raise KeyError_("expected INTEGER")
    return int.from_bytes(content, "big")


def _one_sequence(der):
    tag, content, end = _der_item(der, 0)
    if tag != 0x30:
        raise KeyError_("expected SEQUENCE")
    return _der_seq(content)


def _pem_blocks(pem):
    lines = pem.strip().splitlines()
    label, body = None, []
    for line in lines:
        line = line.strip()
        if line.startswith("-----BEGIN "):
            label, body = line[11:].rstrip("-").strip(), []
        elif line.startswith("-----END "):
            if label is not None:
                yield label, base64.b64decode("".join(body))
            label = None
        elif label is not None:
            body.append(line)


def rsa_public_key(pem):
    """(n, e) from a PEM public or private RSA key."""
    for label, der in _pem_blocks(pem):
        if label == "PUBLIC KEY":
            alg, bits = _one_sequence(der)[:2]
            if RSA_OID not in alg[1] or bits[0] != 0x03:
                raise KeyError_("not an RSA public key")
            n, e = _one_sequence(bits[1][1:])[:2]
            return _int(n), _int(e)
        if label == "RSA PUBLIC KEY":
            n, e = _one_sequence(der)[:2]
            return _int(n), _int(e)
        if label == "PRIVATE KEY":
            items = _one_sequence(der)
            if RSA_OID not in items[1][1] or items[2][0] != 0x04:
                raise KeyError_("not an RSA private key")
            inner = _one_sequence(items[2][1])
            return _int(inner[1]), _int(inner[2])
        if label == "RSA PRIVATE KEY":
            inner = _one_sequence(der)
            return _int(inner[1]), _int(inner[2])
    raise KeyError_("no RSA key in PEM")


def rs256_verify(n, e, message, signature):
    """RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 section 8.2.2)."""
    k = (n.bit_length() + 7) // 8
    if len(signature) != k:
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    em = pow(s, e, n).to_bytes(k, "big")
    t = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    if k < len(t) + 11:
        return False
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(em, expected)


def b64url_decode(text):
    if isinstance(text, str):
        text = text.encode("ascii")
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class JwtError(ValueError):
    pass


def jwt_decode(assertion):
    """Split and decode a compact JWS: (header, claims, signing_input, sig)."""
    try:
        h, c, s = assertion.split(".")
        header = json.loads(b64url_decode(h))
        claims = json.loads(b64url_decode(c))
        sig = b64url_decode(s)
    except Exception:
        raise JwtError("malformed")
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtError("malformed")
    return header, claims, (h + "." + c).encode("ascii"), sig


def pkce_s256(verifier):
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())
