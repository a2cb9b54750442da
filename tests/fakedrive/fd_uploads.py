"""Upload endpoints: uploadType=media, multipart and resumable sessions."""

import json
import mmap
import os
import re
import secrets
import tempfile
import time
from urllib.parse import quote, urlencode, urlsplit

import fd_errors as E
import fd_fields as F
import fd_store as S
from fd_common import CHUNK_GRANULARITY, ClientGone, IO_CHUNK


class UploadMixin:
    """Mixed into fakedrive.Handler."""

    # -------------------------------------------------------------- uploads

    def h_upload_simple(self, fid, upload_type):
        tree = self.fields(F.FILE, F.DEFAULT_FILE)
        store = self.server.store
        with store.lock:
            rec = store.get(fid) if fid else None
            if rec is not None:
                store.update(rec, {}, self.user, dry_run=True)
                if rec.get("readOnly"):
                    raise E.insufficient_file_permissions()
            if self.body.length:
                store._check_quota(self.body.length,
                                   (rec or {}).get("size") or 0)
        if upload_type == "media":
            meta = {}
            media_mime = self.media_type(self.headers.get("Content-Type"))
            blob = self.receive_blob()
        else:
            meta, media_mime, blob = self.receive_multipart()
        try:
            with store.lock:
                if rec is None:
                    rec = store.create(meta, self.user, content=blob,
                                       media_mime=media_mime)
                else:
                    rec = store.get(fid)
                    rec = store.update(rec, meta, self.user,
                                       self.list_param("addParents"),
                                       self.list_param("removeParents"),
                                       content=blob, media_mime=media_mime)
                data = self.rendered(rec)
        finally:
            if os.path.exists(blob.path):
                os.unlink(blob.path)
        self.send_rendered(data, tree)

    def receive_blob(self):
        w = S.BlobWriter(self.server.store.tmp_dir)
        try:
            while True:
                d = self.body.read()
                if not d:
                    break
                w.write(d)
        except BaseException:
            w.abort()
            raise
        return w.finish()

    def receive_multipart(self):
        ctype = self.headers.get("Content-Type", "")
        m = re.match(r"^\s*multipart/related\s*;(.*)$", ctype, re.I)
        bm = re.search(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))',
                       m.group(1)) if m else None
        if not bm:
            raise E.bad_request("Bad content type. Please use multipart.")
        boundary = (bm.group(1) or bm.group(2)).encode("latin-1")
        fd, spool = tempfile.mkstemp(dir=self.server.store.tmp_dir,
                                     prefix="mp-")
        try:
            with os.fdopen(fd, "wb") as f:
                while True:
                    d = self.body.read()
                    if not d:
                        break
                    f.write(d)
            return self.parse_multipart(spool, boundary)
        finally:
            os.unlink(spool)

    def parse_multipart(self, path, boundary):
        bad = E.bad_request("Malformed multipart body.")
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                raise bad
            m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            try:
                delim = b"--" + boundary
                pos = m.find(delim)
                if pos < 0:
                    raise bad
                parts = []
                while True:
                    pos += len(delim)
                    if m[pos:pos + 2] == b"--":
                        break
                    eol = m.find(b"\n", pos)
                    if eol < 0:
                        raise bad
                    crlf = m[eol - 1:eol] == b"\r"
                    hdr_end = m.find(b"\r\n\r\n" if crlf else b"\n\n",
                                     eol - (1 if crlf else 0))
                    if hdr_end < 0:
                        raise bad
                    hdr_blob = bytes(m[eol + 1:hdr_end]) \
                        if hdr_end > eol else b""
                    start = hdr_end + (4 if crlf else 2)
                    nxt = m.find((b"\r\n" if crlf else b"\n") + delim, start)
                    if nxt < 0:
                        raise bad
                    headers = {}
                    for line in hdr_blob.decode("latin-1").splitlines():
                        if ":" in line:
                            k, v = line.split(":", 1)
                            headers[k.strip().lower()] = v.strip()
                    parts.append((headers, start, nxt))
                    pos = nxt + (2 if crlf else 1)
                if len(parts) != 2:
                    raise E.bad_request("Multipart upload must have a "
                                        "metadata part and a media part.")
                (h1, s1, e1), (h2, s2, e2) = parts
                try:
                    meta = json.loads(bytes(m[s1:e1]).decode("utf-8")) \
                        if e1 > s1 else {}
                except (UnicodeDecodeError, ValueError) as ex:
                    raise E.parse_error(str(ex))
                if not isinstance(meta, dict):
                    raise E.parse_error("Expected a JSON object.")
                w = S.BlobWriter(self.server.store.tmp_dir)
                try:
                    p = s2
                    while p < e2:
                        q = min(e2, p + IO_CHUNK)
                        w.write(m[p:q])
                        p = q
                except BaseException:
                    w.abort()
                    raise
                blob = w.finish()
                return meta, self.media_type(h2.get("content-type")), blob
            finally:
                m.close()

    def session_url(self, sid):
        host = self.headers.get("Host") or urlsplit(self.server.url).netloc
        query = dict(self.q)
        query["upload_id"] = sid
        query.setdefault("uploadType", "resumable")
        return "%s://%s%s?%s" % (self.scheme, host, quote(self.req_path),
                                 urlencode(query))

    def h_upload_resumable_start(self, fid, _ut):
        self.fields(F.FILE, F.DEFAULT_FILE)
        srv, store = self.server, self.server.store
        meta = self.read_json()
        total = self.headers.get("X-Upload-Content-Length")
        if total is not None:
            try:
                total = int(total)
                if total < 0:
                    raise ValueError
            except ValueError:
                raise E.bad_request("Invalid X-Upload-Content-Length.")
        ctype = self.media_type(self.headers.get("X-Upload-Content-Type"))
        with store.lock:
            if fid:
                rec = store.get(fid)
                store.update(rec, meta, self.user,
                             self.list_param("addParents"),
                             self.list_param("removeParents"), dry_run=True)
                if rec.get("readOnly"):
                    raise E.insufficient_file_permissions()
                old = rec.get("size") or 0
            else:
                store.create(meta, self.user, dry_run=True)
                old = 0
            if total:
                store._check_quota(total, old)
            sid = "ADPyc" + secrets.token_urlsafe(48)
            part = os.path.join(srv.upload_dir, sid + ".part")
            open(part, "wb").close()
            now = time.time()
            srv.sessions[sid] = {
                "id": sid, "file_id": store.resolve(fid) if fid else None,
                "meta": meta, "query": dict(self.q), "content_type": ctype,
                "total": total, "received": 0, "created": now,
                "expires": now + srv.config["upload_session_lifetime"],
                "user": self.user, "done": None, "path": part}
            srv.mark_dirty()
        self.send_empty(200, [("Location", self.session_url(sid)),
                              ("X-GUploader-UploadID", sid)])

    def h_upload_chunk(self, fid):
        srv, store = self.server, self.server.store
        sid = self.q.get("upload_id")
        with store.lock:
            sess = srv.sessions.get(sid)
            if sess is not None and sess["expires"] < time.time():
                self.drop_session(sess)
                sess = None
        if sess is None:
            raise E.ApiError(404, "notFound", "Not Found")
        if self.command == "DELETE":
            with store.lock:
                self.drop_session(sess)
            self.send_empty(499)
            return
        tree = self.fields(F.FILE, F.DEFAULT_FILE)
        if sess["done"]:
            with store.lock:
                rec = store.get(sess["done"])
            self.send_file(rec, tree)
            return
        cr = self.headers.get("Content-Range")
        length = self.body.length
        if cr is None:
            if not self.body.chunked and not length:
                return self.upload_status(sess, tree)
            start, end, total = 0, (length - 1) if length else None, length
        else:
            mq = re.match(r"^\s*bytes\s+\*\s*/\s*(\d+|\*)\s*$", cr)
            mc = re.match(r"^\s*bytes\s+(\d+)\s*-\s*(\d+)\s*/\s*(\d+|\*)\s*$",
                          cr)
            if mq:
                if length:
                    raise E.bad_request("Invalid request. A status query "
                                        "must not have a body.")
                if mq.group(1) != "*":
                    t = int(mq.group(1))
                    if sess["total"] is not None and sess["total"] != t:
                        raise E.bad_request("Invalid request. The total size "
                                            "does not match.")
                    sess["total"] = t
                return self.upload_status(sess, tree)
            if not mc:
                raise E.bad_request("Invalid Content-Range header.")
            start, end = int(mc.group(1)), int(mc.group(2))
            total = None if mc.group(3) == "*" else int(mc.group(3))
        if end is not None and (end < start or (length is not None and
                                                end - start + 1 != length)):
            raise E.bad_request("Invalid request. Content-Range and "
                                "Content-Length do not match.")
        if total is not None:
            if sess["total"] is not None and sess["total"] != total:
                raise E.bad_request("Invalid request. The total size does "
                                    "not match the size given when the "
                                    "upload started.")
            if end is not None and end >= total:
                raise E.bad_request("Invalid request. The Content-Range end "
                                    "is beyond the total size.")
        received = sess["received"]
        if start > received:
            raise E.bad_request(
                "Invalid request. According to the Content-Range header, the "
                "upload offset is %d byte(s), which exceeds already uploaded "
                "size of %d byte(s)." % (start, received))
        final = total is not None and end is not None and end + 1 == total
        if end is not None and not final and \
                (end - start + 1) % CHUNK_GRANULARITY:
            # Google's upload server text (not JSON) for this rule.
            self.status = 400
            if not self.body.drain_small():
                self.close_connection = True
            self.send_raw(400, [("Content-Type", "text/plain; charset=utf-8")],
                          ("Invalid request. The number of bytes uploaded is "
                           "required to be equal or greater than %d, except "
                           "for the final request (it's recommended to be the "
                           "exact multiple of %d). The received request "
                           "contained %d bytes, which does not meet this "
                           "requirement." % (CHUNK_GRANULARITY,
                                             CHUNK_GRANULARITY,
                                             end - start + 1)).encode())
            return
        skip = received - start
        hasher = srv.hashers.get(sid)
        hs = hasher[1] if hasher is not None and hasher[0] == received \
            else None
        if hs is None and received == 0:
            hs = S.Hasher()
        gone = False
        with open(sess["path"], "r+b") as f:
            f.seek(received)
            f.truncate()
            try:
                while True:
                    d = self.body.read()
                    if not d:
                        break
                    if skip > 0:
                        if len(d) <= skip:
                            skip -= len(d)
                            continue
                        d = d[skip:]
                        skip = 0
                    f.write(d)
                    received += len(d)
                    if hs is not None:
                        hs.update(d)
            except ClientGone:
                gone = True
            f.flush()
            if hs is not None:
                hs.flush()
        with store.lock:
            sess["received"] = received
            if hs is not None:
                srv.hashers[sid] = (received, hs)
            else:
                srv.hashers.pop(sid, None)
            srv.mark_dirty()
        if gone:
            raise ClientGone()
        if total is None and cr is None:
            total = received
        if total is not None:
            sess["total"] = total
        return self.upload_status(sess, tree)

    def drop_session(self, sess):
        srv = self.server
        srv.sessions.pop(sess["id"], None)
        srv.hashers.pop(sess["id"], None)
        try:
            os.unlink(sess["path"])
        except OSError:
            pass
        srv.mark_dirty()

    def upload_status(self, sess, tree):
        total, received = sess["total"], sess["received"]
        if total is not None and received >= total:
            return self.finish_upload(sess, tree)
        headers = []
        if received:
            headers.append(("Range", "bytes=0-%d" % (received - 1)))
        self.send_empty(308, headers + [("X-GUploader-UploadID",
                                         sess["id"])])

    def finish_upload(self, sess, tree):
        srv, store = self.server, self.server.store
        path, total = sess["path"], sess["total"]
        if os.path.getsize(path) > total:
            with open(path, "r+b") as f:
                f.truncate(total)
        h = srv.hashers.get(sess["id"])
        if h is not None and h[0] == total:
            size = total
            md5, sha1, sha256 = h[1].hexdigests()
        else:
            size, md5, sha1, sha256 = S.hash_file(path)
        blob = S.BlobResult(path, size, md5, sha1, sha256)
        q = sess["query"]
        with store.lock:
            if sess["file_id"]:
                rec = store.get(sess["file_id"])
                rec = store.update(
                    rec, sess["meta"], sess["user"],
                    [p for p in q.get("addParents", "").split(",") if p],
                    [p for p in q.get("removeParents", "").split(",") if p],
                    content=blob, media_mime=sess["content_type"])
            else:
                rec = store.create(sess["meta"], sess["user"], content=blob,
                                   media_mime=sess["content_type"])
            sess["done"] = rec["id"]
            srv.hashers.pop(sess["id"], None)
            srv.mark_dirty()
            data = self.rendered(rec)
        self.send_rendered(data, tree)
