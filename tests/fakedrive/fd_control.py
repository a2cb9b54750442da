"""The /__control/ test API (documented in README.md)."""

import base64
import gc
import os
import re

import fd_auth as A
import fd_errors as E
import fd_store as S
from fd_common import (CONFIG_KEYS, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
                       DEFAULT_REFRESH_TOKEN, OTHER_USER)


class ControlMixin:
    """Mixed into fakedrive.Handler."""

    # -------------------------------------------------------------- control

    def h_control(self):
        name = self.req_path[len("/__control/"):].rstrip("/")
        m = self.command
        table = {
            ("GET", "health"): self.c_health,
            ("POST", "reset"): self.c_reset,
            ("POST", "seed"): self.c_seed,
            ("GET", "tree"): self.c_tree,
            ("GET", "stats"): self.c_stats,
            ("POST", "stats/reset"): self.c_stats_reset,
            ("GET", "faults"): self.c_faults_get,
            ("POST", "faults"): self.c_faults_add,
            ("DELETE", "faults"): self.c_faults_clear,
            ("GET", "config"): self.c_config_get,
            ("POST", "config"): self.c_config_set,
            ("POST", "tokens/expire"): self.c_tokens_expire,
            ("POST", "tokens/revoke"): self.c_tokens_revoke,
            ("POST", "clients"): self.c_clients,
            ("POST", "service_accounts"): self.c_service_accounts,
            ("POST", "users"): self.c_users,
            ("GET", "credentials"): self.c_credentials,
            ("POST", "act"): self.c_act,
            ("GET", "uploads"): self.c_uploads,
            ("POST", "uploads/expire"): self.c_uploads_expire,
            ("GET", "changes"): self.c_changes,
        }
        fn = table.get((m, name))
        try:
            if fn is not None:
                return fn()
            mc = re.match(r"^(content|file)/(.+)$", name)
            if mc and m == "GET":
                return self.c_content(mc.group(2)) if mc.group(1) == \
                    "content" else self.c_file(mc.group(2))
            raise E.ApiError(404, "notFound", "Unknown control endpoint " +
                             name)
        except (KeyError, TypeError, ValueError, AttributeError) as ex:
            if self.headers_done:
                raise
            raise E.bad_request("Bad control request: %s: %s" % (
                type(ex).__name__, ex))

    def ctl_json(self, obj, status=200):
        self.q.pop("prettyPrint", None)
        self.send_json(status, obj)

    def full(self, rec, user=None):
        store = self.server.store
        with store.lock:
            d = store.render(rec, user or store.owner)
            d["path"] = store.path_of(rec)
        return d

    def c_health(self):
        srv = self.server
        self.ctl_json({"ok": True, "url": srv.url,
                       "token_url": srv.url + "/token",
                       "root_id": srv.store.root_id, "pid": os.getpid()})

    def c_reset(self):
        srv = self.server
        with srv.store.lock:
            srv.store.reset()
            for sess in list(srv.sessions.values()):
                self.drop_session(sess)
            srv.snapshots.clear()
            srv.config = srv.default_config()
            srv.store.quota_limit = srv.config["quota_limit"]
        srv.faults.clear()
        srv.stats.reset()
        self.ctl_json({"ok": True})

    def seed_one(self, spec, user):
        store = self.server.store
        if not isinstance(spec, dict):
            raise E.bad_request("seed spec must be an object")
        with store.lock:
            meta = {}
            mime = spec.get("mimeType")
            if "path" in spec:
                path = spec["path"].strip("/")
                want_folder = spec["path"].endswith("/")
                comps = [c for c in path.split("/") if c]
                if not comps:
                    raise E.bad_request("empty path")
                parent = store.root_id
                for comp in comps[:-1]:
                    parent = self.seed_folder(parent, comp, user)
                name = comps[-1]
                if want_folder:
                    mime = S.FOLDER
            else:
                name = spec["name"]
                parent = store.resolve(spec.get("parent", "root"))
            meta["name"] = name
            meta["parents"] = [parent]
            if spec.get("targetId"):
                meta["shortcutDetails"] = {"targetId": spec["targetId"]}
                mime = mime or S.SHORTCUT
            if mime:
                meta["mimeType"] = mime
            for key in ("createdTime", "modifiedTime", "viewedByMeTime",
                        "appProperties", "properties", "description",
                        "starred", "originalFilename"):
                if key in spec:
                    meta[key] = spec[key]
            if "id" in spec:
                if spec["id"] not in store.files:
                    store.generated[spec["id"]] = ["drive", "files"]
                meta["id"] = spec["id"]
            content = None
            final_mime = mime or S.guess_mime(name)
            if final_mime not in (S.FOLDER, S.SHORTCUT):
                if "content_b64" in spec:
                    data = base64.b64decode(spec["content_b64"])
                else:
                    data = (spec.get("content") or "").encode("utf-8")
                w = S.BlobWriter(store.tmp_dir)
                w.write(data)
                content = w.finish()
            extra = {"readOnly": True} if spec.get("readOnly") else None
            try:
                rec = store.create(meta, user, content=content, extra=extra)
            finally:
                if content is not None and os.path.exists(content.path):
                    os.unlink(content.path)
            if spec.get("trashed"):
                store.update(rec, {"trashed": True}, user, force=True)
            return self.full(rec)

    def seed_folder(self, parent, name, user):
        store = self.server.store
        found = [store.files[c] for c in store.children.get(parent, ())
                 if c in store.files and store.files[c]["name"] == name and
                 store.files[c]["mimeType"] == S.FOLDER and
                 not store.is_trashed(store.files[c])]
        if found:
            found.sort(key=lambda r: (r["createdTime"], r["id"]))
            return found[0]["id"]
        rec = store.create({"name": name, "parents": [parent],
                            "mimeType": S.FOLDER}, user)
        return rec["id"]

    def c_seed(self):
        spec = self.read_json()
        owner = self.server.store.owner
        if "files" in spec and "path" not in spec and "name" not in spec:
            out = [self.seed_one(s, owner) for s in spec["files"]]
            # The records just seeded live long: keep them out of the cyclic
            # collector's full passes, which a listing's short-lived objects
            # trigger every few pages (~35 ms each with 20,000 files seeded).
            # Refcounting still frees them on delete or reset.
            gc.freeze()
            return self.ctl_json({"files": out})
        self.ctl_json(self.seed_one(spec, owner))

    def c_tree(self):
        store = self.server.store
        under = self.q.get("under", "").strip("/")
        with store.lock:
            recs = sorted((r for r in store.files.values()
                           if not r.get("root")),
                          key=lambda r: r.get("seq", 0))
            if under:
                recs = [r for r in recs if store.path_of(r).startswith(
                    under + "/")]
            out = [self.full(r) for r in recs]
        self.ctl_json(out)

    def c_file(self, fid):
        with self.server.store.lock:
            rec = self.server.store.get(fid)
        self.ctl_json(self.full(rec))

    def c_content(self, fid):
        store = self.server.store
        with store.lock:
            rec = store.get(fid)
            data = store.read_content(rec)
        self.send_raw(200, [("Content-Type", "application/octet-stream")],
                      data)

    def c_stats(self):
        self.ctl_json(self.server.stats.snapshot())

    def c_stats_reset(self):
        self.server.stats.reset()
        self.ctl_json({"ok": True})

    def c_faults_get(self):
        self.ctl_json({"rules": self.server.faults.list(),
                       "fired": dict(self.server.faults.fired)})

    def c_faults_add(self):
        body = self.read_json()
        rules = body.get("rules")
        if rules is None:
            rules = [body]
        self.server.faults.add(rules)
        self.ctl_json({"rules": self.server.faults.list()})

    def c_faults_clear(self):
        self.server.faults.clear()
        self.ctl_json({"rules": []})

    def c_config_get(self):
        self.ctl_json(self.server.config)

    def c_config_set(self):
        body = self.read_json()
        srv = self.server
        for k, v in body.items():
            if k not in CONFIG_KEYS:
                raise E.bad_request("unknown config key %r" % k)
            if not isinstance(v, (int, float)) or v < 0:
                raise E.bad_request("config %s must be a number >= 0" % k)
        with srv.store.lock:
            srv.config.update(body)
            srv.store.quota_limit = int(srv.config["quota_limit"])
            srv.mark_dirty()
        self.ctl_json(srv.config)

    def c_tokens_expire(self):
        with self.server.store.lock:
            self.server.auth.expire_all()
            self.server.mark_dirty()
        self.ctl_json({"ok": True})

    def c_tokens_revoke(self):
        body = self.read_json()
        srv = self.server
        with srv.store.lock:
            rt = body.get("refresh_token")
            if rt:
                if rt not in srv.auth.refresh:
                    raise E.bad_request("unknown refresh token")
                srv.auth.refresh[rt]["revoked"] = True
            at = body.get("access_token")
            if at and at in srv.auth.access:
                srv.auth.access[at]["exp"] = 0
            srv.mark_dirty()
        self.ctl_json({"ok": True})

    def c_clients(self):
        body = self.read_json()
        with self.server.store.lock:
            creds = self.server.auth.add_client(
                body.get("client_id"), body.get("client_secret"),
                body.get("refresh_token"), body.get("user"),
                body.get("scope"))
            self.server.mark_dirty()
        self.ctl_json(creds)

    def c_service_accounts(self):
        body = self.read_json()
        email = body["client_email"]
        pem = body.get("public_key_pem") or body.get("private_key")
        try:
            n, e = A.rsa_public_key(pem or "")
        except ValueError as ex:
            raise E.bad_request("bad key: %s" % ex)
        with self.server.store.lock:
            self.server.auth.sas[email] = {"n": n, "e": e}
            self.server.store.add_user(email, "Service Account")
            self.server.mark_dirty()
        self.ctl_json({"client_email": email, "modulus_bits": n.bit_length()})

    def c_users(self):
        body = self.read_json()
        with self.server.store.lock:
            self.server.store.add_user(body["email"],
                                       body.get("displayName"))
            self.server.mark_dirty()
        self.ctl_json({"ok": True})

    def c_credentials(self):
        self.ctl_json({"type": "authorized_user",
                       "client_id": DEFAULT_CLIENT_ID,
                       "client_secret": DEFAULT_CLIENT_SECRET,
                       "refresh_token": DEFAULT_REFRESH_TOKEN,
                       "account": "", "universe_domain": "googleapis.com"})

    def c_act(self):
        body = self.read_json()
        op = body.get("op")
        store = self.server.store
        user = body.get("user") or OTHER_USER
        store.add_user(user)
        if op == "create":
            spec = dict(body)
            spec.pop("op")
            spec.pop("user", None)
            return self.ctl_json(self.seed_one(spec, user))
        with store.lock:
            rec = store.get(body["id"])
            if op == "edit":
                if "content_b64" in body:
                    data = base64.b64decode(body["content_b64"])
                else:
                    data = (body.get("content") or "").encode("utf-8")
                w = S.BlobWriter(store.tmp_dir)
                w.write(data)
                blob = w.finish()
                meta = {k: body[k] for k in ("modifiedTime", "mimeType")
                        if k in body}
                try:
                    store.update(rec, meta, user, content=blob, force=True)
                finally:
                    if os.path.exists(blob.path):
                        os.unlink(blob.path)
            elif op == "rename":
                store.update(rec, {"name": body["name"]}, user, force=True)
            elif op == "move":
                store.update(rec, {}, user, [body["parent"]],
                             [rec["parent"]] if rec.get("parent") else [],
                             force=True)
            elif op in ("trash", "untrash"):
                store.update(rec, {"trashed": op == "trash"}, user,
                             force=True)
            elif op == "update":
                meta = {k: v for k, v in body.items()
                        if k not in ("op", "id", "user")}
                store.update(rec, meta, user, force=True)
            elif op == "delete":
                store.delete(rec, force=True)
                return self.ctl_json({"ok": True, "id": rec["id"]})
            else:
                raise E.bad_request("unknown op %r" % op)
            return self.ctl_json(self.full(rec))

    def c_uploads(self):
        with self.server.store.lock:
            out = [{k: v for k, v in s.items() if k != "path"}
                   for s in self.server.sessions.values()]
        self.ctl_json(out)

    def c_uploads_expire(self):
        with self.server.store.lock:
            for s in self.server.sessions.values():
                s["expires"] = 0
            self.server.mark_dirty()
        self.ctl_json({"ok": True})

    def c_changes(self):
        store = self.server.store
        with store.lock:
            out = [{"id": c[0], "fileId": c[1], "time": S.rfc3339(c[2]),
                    "removed": c[3]} for c in store.changes]
        self.ctl_json({"next": store.next_change, "changes": out})
