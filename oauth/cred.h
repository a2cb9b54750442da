/*
 * Credential files: Google's Application Default Credentials formats.
 *
 *   authorized_user  {"type":"authorized_user","client_id","client_secret",
 *                     "refresh_token"} as written by Colab's
 *                     auth.authenticate_user() and gcloud ADC login;
 *   service_account  {"type":"service_account","client_email","private_key",
 *                     "private_key_id","token_uri",...}.
 *
 * Everything in a credential file is untrusted input; secrets are wiped on
 * release.
 */
#ifndef OAUTH_CRED_H
#define OAUTH_CRED_H

#include "common/compat.h"

enum cred_type {
	CRED_AUTHORIZED_USER,
	CRED_SERVICE_ACCOUNT,
};

struct cred {
	enum cred_type type;
	char *client_id;	/* authorized_user */
	char *client_secret;	/* secret */
	char *refresh_token;	/* secret */
	char *client_email;	/* service_account */
	char *private_key_pem;	/* secret */
	char *private_key_id;
	char *token_uri;	/* from the file, may be NULL */
	char *subject;		/* service_account: user to impersonate, or NULL */
	char *path;		/* where it was read from */
};

void cred_init(struct cred *c);
void cred_release(struct cred *c);	/* wipes secrets */

/*
 * Parse a credential file's JSON text. Returns 0, -EINVAL (malformed, wrong
 * type, missing field: a reason in @why without secrets) or -ENOMEM.
 */
int cred_parse(const char *json, size_t len, struct cred *out, char *why,
	       size_t whysz);
/*
 * Read and parse @path (at most 64 KiB: -EFBIG past it; -EINVAL when not a
 * regular file). -ENOENT, -EACCES, … as open(). Sets out->path.
 */
int cred_load(const char *path, struct cred *out, char *why, size_t whysz);

/*
 * Where credentials come from when --credentials is not given, in order:
 * $GOOGLE_APPLICATION_CREDENTIALS, $XDG_CONFIG_HOME/drivefs/credentials.json
 * (default ~/.config/...), ~/.config/gcloud/application_default_credentials.json,
 * /content/.config/application_default_credentials.json (Colab).
 * A relative $XDG_CONFIG_HOME is ignored (XDG spec). Puts the first that
 * exists in @path (a $GOOGLE_APPLICATION_CREDENTIALS that does not exist is
 * logged and skipped). Returns 0 or -ENOENT (also when @pathsz is too small).
 */
int cred_find(char *path, size_t pathsz);

/*
 * Write @json to @path atomically with mode 0600: a temporary file in the
 * same directory (O_EXCL | O_NOFOLLOW), fsync, rename, fsync of the
 * directory. Missing parent directories are created 0700. A symlink at
 * @path is replaced, not followed. Returns 0 or -errno.
 */
int cred_write_file(const char *path, const char *json);

#endif
