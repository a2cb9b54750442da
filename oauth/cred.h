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
	char *client_id;       /* authorized_user */
	char *client_secret;   /* secret */
	char *refresh_token;   /* secret */
	char *client_email;    /* service_account */
	char *private_key_pem; /* secret */
	char *private_key_id;
	char *token_uri; /* from the file, may be NULL */
	char *subject;	 /* service_account: user to impersonate, or NULL */
	char *path;	 /* where it was read from */
};

void cred_init(struct cred *c);
void cred_release(struct cred *c); /* wipes secrets */

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
 * Where credentials come from, in this order (the first that exists wins):
 *   1. --credentials FILE (the caller's @explicit_path);
 *   2. $GOOGLE_APPLICATION_CREDENTIALS (one that does not exist is logged
 *      and skipped);
 *   3. the drivefs token file, $XDG_CONFIG_HOME/drivefs/credentials.json
 *      (default ~/.config/drivefs/...; `drivefs auth login` writes it);
 *   4. gcloud's ADC file, $CLOUDSDK_CONFIG/application_default_credentials.json
 *      (default ~/.config/gcloud/...);
 *   5. Colab's ADC file, /content/.config/application_default_credentials.json
 *      ($DRIVEFS_CONTENT_DIR replaces /content, for tests). Colab sets
 *      $CLOUDSDK_CONFIG to /content/.config, so step 4 finds this file
 *      first; it is then reported as CRED_SRC_COLAB.
 * A relative $XDG_CONFIG_HOME, $CLOUDSDK_CONFIG or $DRIVEFS_CONTENT_DIR is
 * ignored (XDG spec).
 */
enum cred_source {
	CRED_SRC_OPTION,
	CRED_SRC_ENV,
	CRED_SRC_DRIVEFS,
	CRED_SRC_GCLOUD,
	CRED_SRC_COLAB,
};

/* A short description of @src for messages ("gcloud application ..."). */
const char *cred_source_name(enum cred_source src);

/*
 * Candidate number @i (0-based) of steps 2-5 above, whether it exists or
 * not: its path in @path and its source in *@src. Returns 0, -ENODATA when
 * candidate @i is not defined here (no $GOOGLE_APPLICATION_CREDENTIALS, no
 * home directory), or -ENOENT past the last one.
 */
int cred_candidate(unsigned i, char *path, size_t pathsz,
		   enum cred_source *src);

/*
 * The credential file a mount would use: @explicit_path when non-NULL
 * (not checked), else the first existing candidate. Puts it in @path and
 * its source in *@src (@src may be NULL). Returns 0, -ENOENT (none exists)
 * or -ENAMETOOLONG.
 */
int cred_locate(const char *explicit_path, char *path, size_t pathsz,
		enum cred_source *src);

/* cred_locate(NULL, ...): 0 or -ENOENT. */
int cred_find(char *path, size_t pathsz);

/*
 * $XDG_CONFIG_HOME/drivefs (default ~/.config/drivefs), and the token file
 * in it. Return 0, -ENOENT (no home directory) or -ENAMETOOLONG.
 */
int cred_config_dir(char *path, size_t pathsz);
int cred_drivefs_path(char *path, size_t pathsz);

/*
 * Impersonate @subject with a service-account key (domain-wide delegation:
 * the JWT's "sub" claim). Returns 0, -EINVAL (not a service account, or not
 * an address: reason in @why) or -ENOMEM.
 */
int cred_set_subject(struct cred *c, const char *subject, char *why,
		     size_t whysz);

/*
 * A stable key for the account @c signs in as, with @salt (e.g. the API
 * endpoint) mixed in: the hex SHA-256 of the credential's identifying
 * fields (client id and refresh token, or client email and subject) into
 * @out (65 bytes). Secrets cannot be recovered from it. Returns 0 or
 * -ERANGE/-EIO.
 */
int cred_identity(const struct cred *c, const char *salt, char *out,
		  size_t outsz);
/* The hex SHA-256 of @s into @out (65 bytes). Returns 0 or -ERANGE/-EIO. */
int cred_sha256_hex(const char *s, char *out, size_t outsz);

/*
 * Write @json to @path atomically with mode 0600: a temporary file in the
 * same directory (O_EXCL | O_NOFOLLOW), fsync, rename, fsync of the
 * directory. Missing parent directories are created 0700. A symlink at
 * @path is replaced, not followed. Returns 0 or -errno.
 */
int cred_write_file(const char *path, const char *json);

#endif
