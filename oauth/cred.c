/*
 * Credential files: parsing Google's authorized_user and service_account
 * JSON, finding the file when none is named, and writing one atomically.
 *
 * A credential file is untrusted input that holds secrets. Parsing is
 * bounded (OAUTH_JSON_MAX), every field is type-checked, and a failure
 * reason names the field, never its value: jansson's own error text is not
 * used because it quotes the input near the error ("near 'ya29...'"), only
 * its line and column. Secret fields and every buffer that held the file
 * are wiped with OPENSSL_cleanse() before they are freed.
 *
 * cred_write_file() never leaves a half-written file: it writes a temporary
 * file created 0600 with O_EXCL | O_NOFOLLOW in the target's directory (so a
 * symlink planted at the temporary name is refused, not followed), fsyncs
 * it, renames it over the target and fsyncs the directory.
 */
#include "common/compat.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/io.h"
#include "common/log.h"
#include "common/str.h"
#include "oauth/cred.h"
#include "oauth/oauth_i.h"

void cred_init(struct cred *c)
{
	memset(c, 0, sizeof(*c));
	c->type = CRED_AUTHORIZED_USER;
}

void cred_release(struct cred *c)
{
	free(c->client_id);
	str_free_secret(c->client_secret);
	str_free_secret(c->refresh_token);
	free(c->client_email);
	str_free_secret(c->private_key_pem);
	free(c->private_key_id);
	free(c->token_uri);
	free(c->subject);
	free(c->path);
	cred_init(c);
}

void oauth_why(char *why, size_t whysz, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whysz)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whysz, fmt, ap);
	va_end(ap);
}

/*
 * Copy the string field @key of @obj into *@out (new). @required: absence is
 * an error. Present fields must be non-empty strings.
 */
static int get_field(json_t *obj, const char *key, bool required, char **out,
		     char *why, size_t whysz)
{
	json_t *v = json_object_get(obj, key);
	const char *s;

	*out = NULL;
	if (!v) {
		if (!required)
			return 0;
		oauth_why(why, whysz, "field '%s' is missing", key);
		return -EINVAL;
	}
	if (!json_is_string(v)) {
		oauth_why(why, whysz, "field '%s' is not a string", key);
		return -EINVAL;
	}
	s = json_string_value(v);
	if (!*s) {
		oauth_why(why, whysz, "field '%s' is empty", key);
		return -EINVAL;
	}
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

/* A short printable copy of an untrusted, non-secret value for a message. */
static void printable(char *dst, size_t dstsz, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < dstsz; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

static int parse_authorized_user(json_t *root, struct cred *c, char *why,
				 size_t whysz)
{
	int rc;

	c->type = CRED_AUTHORIZED_USER;
	rc = get_field(root, "client_id", true, &c->client_id, why, whysz);
	if (rc < 0)
		return rc;
	rc = get_field(root, "client_secret", true, &c->client_secret, why,
		       whysz);
	if (rc < 0)
		return rc;
	rc = get_field(root, "refresh_token", true, &c->refresh_token, why,
		       whysz);
	if (rc < 0)
		return rc;
	return get_field(root, "token_uri", false, &c->token_uri, why, whysz);
}

static int parse_service_account(json_t *root, struct cred *c, char *why,
				 size_t whysz)
{
	int rc;

	c->type = CRED_SERVICE_ACCOUNT;
	rc =
	    get_field(root, "client_email", true, &c->client_email, why, whysz);
	if (rc < 0)
		return rc;
	rc = get_field(root, "private_key", true, &c->private_key_pem, why,
		       whysz);
	if (rc < 0)
		return rc;
	if (!strstr(c->private_key_pem, "-----BEGIN ")) {
		oauth_why(why, whysz, "field 'private_key' is not a PEM key");
		return -EINVAL;
	}
	/* Without a key id the JWT simply has no "kid": Google accepts it. */
	rc = get_field(root, "private_key_id", false, &c->private_key_id, why,
		       whysz);
	if (rc < 0)
		return rc;
	return get_field(root, "token_uri", false, &c->token_uri, why, whysz);
}

int cred_parse(const char *json, size_t len, struct cred *out, char *why,
	       size_t whysz)
{
	json_t *root = NULL, *type;
	json_error_t jerr;
	char shown[48];
	int rc;

	cred_init(out);
	oauth_why(why, whysz, "%s", "");
	if (len > OAUTH_JSON_MAX) {
		oauth_why(why, whysz, "larger than %d bytes", OAUTH_JSON_MAX);
		rc = -EINVAL;
		goto out;
	}
	/* Rejects trailing garbage, NUL bytes in strings, duplicate keys. */
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		oauth_why(why, whysz, "not valid JSON (line %d, column %d)",
			  jerr.line, jerr.column);
		rc = -EINVAL;
		goto out;
	}
	if (!json_is_object(root)) {
		oauth_why(why, whysz, "not a JSON object");
		rc = -EINVAL;
		goto out;
	}
	type = json_object_get(root, "type");
	if (!type) {
		oauth_why(why, whysz, "field 'type' is missing");
		rc = -EINVAL;
		goto out;
	}
	if (!json_is_string(type)) {
		oauth_why(why, whysz, "field 'type' is not a string");
		rc = -EINVAL;
		goto out;
	}
	if (!strcmp(json_string_value(type), "authorized_user")) {
		rc = parse_authorized_user(root, out, why, whysz);
	} else if (!strcmp(json_string_value(type), "service_account")) {
		rc = parse_service_account(root, out, why, whysz);
	} else {
		printable(shown, sizeof(shown), json_string_value(type));
		oauth_why(
		    why, whysz,
		    "unsupported credential type '%s' (want authorized_user"
		    " or service_account)",
		    shown);
		rc = -EINVAL;
	}
out:
	/*
	 * jansson keeps its own copies of the secrets; wipe them before they
	 * go back to the allocator.
	 */
	if (root) {
		const char *const secret[] = {"client_secret", "refresh_token",
					      "private_key"};

		for (size_t i = 0; i < ARRAY_SIZE(secret); i++) {
			json_t *v = json_object_get(root, secret[i]);

			if (json_is_string(v))
				OPENSSL_cleanse((char *)json_string_value(v),
						json_string_length(v));
		}
		json_decref(root);
	}
	if (rc < 0)
		cred_release(out);
	return rc;
}

int cred_load(const char *path, struct cred *out, char *why, size_t whysz)
{
	char *data = NULL;
	size_t len = 0;
	struct stat st;
	int fd = -1, rc;

	cred_init(out);
	oauth_why(why, whysz, "%s", "");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		oauth_why(why, whysz, "cannot open: %s", strerror(-rc));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		oauth_why(why, whysz, "cannot stat: %s", strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		oauth_why(why, whysz, "not a regular file");
		rc = -EINVAL;
		goto out;
	}
	/* One byte more than allowed, to tell "exactly max" from "larger". */
	data = malloc(OAUTH_JSON_MAX + 1);
	if (!data) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, data + len, OAUTH_JSON_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			oauth_why(why, whysz, "cannot read: %s", strerror(-rc));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > OAUTH_JSON_MAX) {
			oauth_why(why, whysz, "larger than %d bytes",
				  OAUTH_JSON_MAX);
			rc = -EFBIG;
			goto out;
		}
	}
	rc = cred_parse(data, len, out, why, whysz);
	if (rc < 0)
		goto out;
	out->path = strdup(path);
	if (!out->path) {
		cred_release(out);
		rc = -ENOMEM;
	}
out:
	if (data) {
		OPENSSL_cleanse(data, OAUTH_JSON_MAX + 1);
		free(data);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* $HOME, else the password database. Borrowed or from @buf; NULL if none. */
static const char *home_dir(char *buf, size_t bufsz)
{
	const char *h = getenv("HOME");
	struct passwd pw, *res = NULL;

	if (h && h[0] == '/')
		return h;
	if (getpwuid_r(getuid(), &pw, buf, bufsz, &res) || !res ||
	    !res->pw_dir || res->pw_dir[0] != '/')
		return NULL;
	return res->pw_dir;
}

/* Does @path name an existing file (not a directory)? */
static bool exists_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

const char *cred_source_name(enum cred_source src)
{
	switch (src) {
	case CRED_SRC_OPTION:
		return "--credentials";
	case CRED_SRC_ENV:
		return "GOOGLE_APPLICATION_CREDENTIALS";
	case CRED_SRC_DRIVEFS:
		return "drivefs token file (drivefs auth login)";
	case CRED_SRC_GCLOUD:
		return "gcloud application default credentials";
	case CRED_SRC_COLAB:
		return "Colab application default credentials";
	}
	return "?";
}

/* snprintf into @path; -ENAMETOOLONG when it does not fit. */
static int path_fmt(char *path, size_t pathsz, const char *fmt, ...)
    PRINTF_LIKE(3, 4);
static int path_fmt(char *path, size_t pathsz, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(path, pathsz, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= pathsz ? -ENAMETOOLONG : 0;
}

int cred_config_dir(char *path, size_t pathsz)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	char pwbuf[1024];
	const char *home;

	/* The XDG spec ignores relative values. */
	if (xdg && xdg[0] == '/')
		return path_fmt(path, pathsz, "%s/drivefs", xdg);
	home = home_dir(pwbuf, sizeof(pwbuf));
	if (!home)
		return -ENOENT;
	return path_fmt(path, pathsz, "%s/.config/drivefs", home);
}

int cred_drivefs_path(char *path, size_t pathsz)
{
	char dir[4096];
	int rc = cred_config_dir(dir, sizeof(dir));

	if (rc < 0)
		return rc;
	return path_fmt(path, pathsz, "%s/credentials.json", dir);
}

int cred_candidate(unsigned i, char *path, size_t pathsz, enum cred_source *src)
{
	const char *gac = getenv("GOOGLE_APPLICATION_CREDENTIALS");
	const char *sdk = getenv("CLOUDSDK_CONFIG");
	const char *content = getenv("DRIVEFS_CONTENT_DIR");
	char pwbuf[1024];
	const char *home;

	switch (i) {
	case 0:
		*src = CRED_SRC_ENV;
		if (!gac || !*gac)
			return -ENODATA;
		return str_copy(path, pathsz, gac) < 0 ? -ENAMETOOLONG : 0;
	case 1:
		*src = CRED_SRC_DRIVEFS;
		return cred_drivefs_path(path, pathsz) < 0 ? -ENODATA : 0;
	case 2:
		*src = CRED_SRC_GCLOUD;
		/*
		 * gcloud's own override. Colab sets it to /content/.config:
		 * then this is Colab's file, and says so.
		 */
		if (sdk && sdk[0] == '/') {
			char colab[4096];

			if (path_fmt(path, pathsz,
				     "%s/application_default_credentials.json",
				     sdk) < 0)
				return -ENODATA;
			if (cred_candidate(3, colab, sizeof(colab), src) == 0 &&
			    !strcmp(colab, path))
				return 0; /* *src is CRED_SRC_COLAB */
			*src = CRED_SRC_GCLOUD;
			return 0;
		}
		home = home_dir(pwbuf, sizeof(pwbuf));
		if (!home)
			return -ENODATA;
		return path_fmt(path, pathsz,
				"%s/.config/gcloud/"
				"application_default_credentials.json",
				home) < 0
			   ? -ENODATA
			   : 0;
	case 3:
		*src = CRED_SRC_COLAB;
		if (!content || content[0] != '/')
			content = "/content";
		return path_fmt(path, pathsz,
				"%s/.config/application_default_credentials."
				"json",
				content) < 0
			   ? -ENODATA
			   : 0;
	default:
		return -ENOENT;
	}
}

int cred_locate(const char *explicit_path, char *path, size_t pathsz,
		enum cred_source *src)
{
	enum cred_source s;
	int rc;

	if (explicit_path) {
		if (src)
			*src = CRED_SRC_OPTION;
		return str_copy(path, pathsz, explicit_path) < 0 ? -ENAMETOOLONG
								 : 0;
	}
	for (unsigned i = 0;; i++) {
		rc = cred_candidate(i, path, pathsz, &s);
		if (rc == -ENOENT)
			break;
		if (rc < 0)
			continue;
		if (exists_file(path)) {
			if (src)
				*src = s;
			return 0;
		}
		if (s == CRED_SRC_ENV)
			log_warn("oauth",
				 "GOOGLE_APPLICATION_CREDENTIALS names '%s', "
				 "which does not exist or is a directory; "
				 "trying the default locations",
				 path);
	}
	if (pathsz)
		path[0] = '\0';
	return -ENOENT;
}

int cred_find(char *path, size_t pathsz)
{
	return cred_locate(NULL, path, pathsz, NULL);
}

int cred_set_subject(struct cred *c, const char *subject, char *why,
		     size_t whysz)
{
	char *s;

	if (c->type != CRED_SERVICE_ACCOUNT) {
		oauth_why(why, whysz,
			  "--subject needs a service account key (domain-wide "
			  "delegation); these are authorized_user credentials");
		return -EINVAL;
	}
	if (!*subject || strchr(subject, '\n') || strlen(subject) > 320) {
		oauth_why(why, whysz, "--subject: not an email address");
		return -EINVAL;
	}
	s = strdup(subject);
	if (!s)
		return -ENOMEM;
	free(c->subject);
	c->subject = s;
	return 0;
}

/* fsync the directory @dir so a rename in it is durable. */
static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Create the missing directories above @path, 0700. */
static int make_parents(const char *path)
{
	char *p = strdup(path);
	int rc = 0;

	if (!p)
		return -ENOMEM;
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			rc = -errno;
			break;
		}
		*s = '/';
	}
	free(p);
	return rc;
}

/* The directory part of @path ("." when none). New: free(). */
static char *dir_of(const char *path)
{
	char *dir = strdup(path), *slash;

	if (!dir)
		return NULL;
	slash = strrchr(dir, '/');
	if (!slash) {
		free(dir);
		return strdup(".");
	}
	if (slash == dir)
		slash[1] = '\0'; /* "/x": the root */
	else
		*slash = '\0';
	return dir;
}

int oauth_write_atomic(const char *path, const char *tmp, const char *json)
{
	char *dir = dir_of(path);
	int fd = -1, rc;

	if (!dir)
		return -ENOMEM;
	/*
	 * O_EXCL | O_NOFOLLOW: an existing file or a symlink (even dangling)
	 * at @tmp is refused, never followed or truncated.
	 */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	/* The umask may have taken bits away; never given any. */
	if (fchmod(fd, 0600) < 0)
		goto fail_errno;
	rc = io_write_all(fd, json, strlen(json));
	if (rc < 0)
		goto fail;
	if (fsync(fd) < 0)
		goto fail_errno;
	rc = close(fd);
	fd = -1;
	if (rc < 0)
		goto fail_errno;
	if (rename(tmp, path) < 0)
		goto fail_errno;
	rc = fsync_dir(dir);
	goto out;
fail_errno:
	rc = -errno;
fail:
	unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

int cred_write_file(const char *path, const char *json)
{
	char *tmp = NULL;
	size_t tmpsz;
	int rc;

	if (!*path || str_has_suffix(path, "/"))
		return -EINVAL;
	rc = make_parents(path);
	if (rc < 0)
		return rc;
	tmpsz = strlen(path) + 64;
	tmp = malloc(tmpsz);
	if (!tmp)
		return -ENOMEM;
	/*
	 * A random name next to @path (rename is atomic only within one
	 * filesystem); another name when one is taken.
	 */
	rc = -EEXIST;
	for (int tries = 0; rc == -EEXIST && tries < 8; tries++) {
		unsigned char r[8];

		if (RAND_bytes(r, sizeof(r)) != 1) {
			rc = -EIO;
			break;
		}
		snprintf(tmp, tmpsz, "%s.tmp-%02x%02x%02x%02x%02x%02x%02x%02x",
			 path, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
		rc = oauth_write_atomic(path, tmp, json);
	}
	free(tmp);
	return rc;
}

int cred_sha256_hex(const char *s, char *out, size_t outsz)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (outsz < 65)
		return -ERANGE;
	if (!EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL) || n != 32)
		return -EIO;
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int cred_identity(const struct cred *c, const char *salt, char *out,
		  size_t outsz)
{
	const char *f[] = {c->type == CRED_SERVICE_ACCOUNT ? "sa" : "user",
			   c->client_id,
			   c->refresh_token,
			   c->client_email,
			   c->subject,
			   salt};
	size_t len = 1;
	char *s, *p;
	int rc;

	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		len += (f[i] ? strlen(f[i]) : 0) + 1;
	s = malloc(len);
	if (!s)
		return -ENOMEM;
	p = s;
	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		size_t n = f[i] ? strlen(f[i]) : 0;

		memcpy(p, f[i] ? f[i] : "", n);
		p[n] = '\n';
		p += n + 1;
	}
	*p = '\0';
	rc = cred_sha256_hex(s, out, outsz);
	OPENSSL_cleanse(s, len); /* holds the refresh token */
	free(s);
	return rc;
}
