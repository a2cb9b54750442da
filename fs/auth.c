/*
 * `drivefs auth`: the user-facing side of oauth/.
 *
 *   drivefs auth login  [--client-secrets FILE] [--scope drive|drive.file]
 *                       [--no-browser] [--timeout SEC] [--auth-url URL]
 *                       [--token-url URL]
 *   drivefs auth status [--credentials FILE] [--subject USER]
 *                       [--api-url URL] [--token-url URL]
 *                       [--config FILE | --no-config]
 *   drivefs auth logout [--revoke-url URL]
 *
 * login runs oauth_login_run() and stores the authorized_user JSON in the
 * drivefs token file (cred_drivefs_path(), 0600, atomic). status walks the
 * credential search order exactly as `drivefs mount` does (the config file
 * included), then proves the winner works: a token refresh and about.get.
 * logout revokes the token file's refresh token and removes the file; it
 * never touches gcloud's or Colab's files, which belong to those tools.
 *
 * Endpoints are overridable for the emulator: options first, then
 * $DRIVEFS_AUTH_URL / $DRIVEFS_TOKEN_URL / $DRIVEFS_REVOKE_URL, then the
 * client secrets file's auth_uri / token_uri, then Google's. Nothing here
 * prints a secret: status names files, types, client ids and account
 * emails only.
 */
#include "common/compat.h"

#include <fcntl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <limits.h>
#include <unistd.h>

#include "common/log.h"
#include "common/str.h"
#include "drive/drive.h"
#include "drive/http.h"
#include "fs/auth.h"
#include "fs/options.h"
#include "oauth/cred.h"
#include "oauth/login.h"
#include "oauth/token.h"

static void usage(FILE *out)
{
	fputs(
	    "usage: drivefs auth login [options]\n"
	    "       drivefs auth status [options]\n"
	    "       drivefs auth logout [options]\n"
	    "\n"
	    "login: sign in with a browser (OAuth installed-app flow, PKCE) "
	    "and store\n"
	    "  the refresh token in $XDG_CONFIG_HOME/drivefs/credentials.json "
	    "(0600).\n"
	    "  --client-secrets FILE  OAuth client of type \"Desktop app\" "
	    "(default\n"
	    "                         $DRIVEFS_CLIENT_SECRETS, else\n"
	    "                         "
	    "$XDG_CONFIG_HOME/drivefs/client_secret.json)\n"
	    "  --scope drive|drive.file  access to all of Drive (default) or "
	    "only to\n"
	    "                         files drivefs created or opened\n"
	    "  --no-browser           do not try to open a browser; paste the "
	    "redirected\n"
	    "                         URL instead (headless machines)\n"
	    "  --timeout SEC          give up after SEC seconds (default 300)\n"
	    "  --auth-url URL         authorization endpoint "
	    "($DRIVEFS_AUTH_URL)\n"
	    "  --token-url URL        token endpoint ($DRIVEFS_TOKEN_URL)\n"
	    "\n"
	    "status: which credentials `drivefs mount` would use and whether "
	    "they work\n"
	    "  (a token refresh and a Drive about call). Exit 0 when they do.\n"
	    "  --credentials FILE, --subject USER, --api-url URL, --token-url "
	    "URL,\n"
	    "  --config FILE, --no-config: as for drivefs mount\n"
	    "\n"
	    "logout: revoke the drivefs token file's refresh token and remove "
	    "the file.\n"
	    "  --revoke-url URL       revocation endpoint "
	    "($DRIVEFS_REVOKE_URL;\n"
	    "                         default: next to the token endpoint)\n"
	    "\n"
	    "Credential search order (drivefs mount, drivefs auth status):\n"
	    "  1. --credentials FILE\n"
	    "  2. $GOOGLE_APPLICATION_CREDENTIALS\n"
	    "  3. $XDG_CONFIG_HOME/drivefs/credentials.json (drivefs auth "
	    "login)\n"
	    "  4. $CLOUDSDK_CONFIG/application_default_credentials.json, "
	    "default\n"
	    "     ~/.config/gcloud/... (gcloud auth application-default "
	    "login)\n"
	    "  5. /content/.config/application_default_credentials.json "
	    "(Colab's\n"
	    "     auth.authenticate_user())\n",
	    out);
}

/* @opt, else $@env (non-empty), else @dflt. */
static const char *pick(const char *opt, const char *env, const char *dflt)
{
	const char *e = getenv(env);

	if (opt)
		return opt;
	if (e && *e)
		return e;
	return dflt;
}

static int start_http(struct http **h)
{
	struct http_opts ho;
	int rc;

	http_opts_init(&ho);
	ho.max_retries = 2;
	ho.backoff_base_ms = 200;
	rc = http_new(&ho, h);
	if (rc < 0)
		fprintf(stderr, "drivefs auth: starting HTTP failed: %s\n",
			strerror(-rc));
	return rc;
}

/* ------------------------------------------------------------------ login */

static const char *scope_url(const char *s)
{
	if (!strcmp(s, "drive"))
		return OAUTH_SCOPE_DRIVE;
	if (!strcmp(s, "drive.file"))
		return OAUTH_SCOPE_DRIVE_FILE;
	if (!strcmp(s, OAUTH_SCOPE_DRIVE) || !strcmp(s, OAUTH_SCOPE_DRIVE_FILE))
		return s;
	return NULL;
}

static int cmd_login(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"client-secrets", required_argument, NULL, 'c'},
	    {"scope", required_argument, NULL, 's'},
	    {"no-browser", no_argument, NULL, 'n'},
	    {"timeout", required_argument, NULL, 't'},
	    {"auth-url", required_argument, NULL, 'a'},
	    {"token-url", required_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *secrets = NULL, *scope = OAUTH_SCOPE_DRIVE;
	const char *auth_url = NULL, *token_url = NULL;
	char dflt[PATH_MAX], dest[PATH_MAX], why[320], found[PATH_MAX];
	struct oauth_login_opts o = {.open_browser = true, .in_fd = -1};
	struct oauth_client client;
	struct http *h = NULL;
	char *json = NULL;
	enum cred_source src;
	int64_t timeout = 300;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			secrets = optarg;
			break;
		case 's':
			scope = scope_url(optarg);
			if (!scope) {
				fprintf(stderr,
					"drivefs auth login: --scope '%s': "
					"expected drive or drive.file\n",
					optarg);
				return 2;
			}
			break;
		case 'n':
			o.open_browser = false;
			break;
		case 't':
			if (str_to_i64(optarg, 1, 86400, &timeout) < 0) {
				fprintf(stderr,
					"drivefs auth login: --timeout '%s': "
					"expected seconds\n",
					optarg);
				return 2;
			}
			break;
		case 'a':
			auth_url = optarg;
			break;
		case 'T':
			token_url = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr,
				"drivefs auth login: %s: unknown option or "
				"missing value\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"drivefs auth login: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	if (cred_drivefs_path(dest, sizeof(dest)) < 0) {
		fprintf(stderr, "drivefs auth login: no home directory for the "
				"token file\n");
		return 1;
	}
	if (!secrets) {
		secrets = getenv("DRIVEFS_CLIENT_SECRETS");
		if (!secrets || !*secrets) {
			if (cred_config_dir(dflt, sizeof(dflt)) < 0 ||
			    str_copy(dflt + strlen(dflt),
				     sizeof(dflt) - strlen(dflt),
				     "/client_secret.json") < 0) {
				fprintf(stderr, "drivefs auth login: no home "
						"directory\n");
				return 1;
			}
			secrets = dflt;
		}
	}
	oauth_client_init(&client);
	rc = oauth_client_load(secrets, &client, why, sizeof(why));
	if (rc < 0) {
		fprintf(
		    stderr,
		    "drivefs auth login: client secrets '%s': %s\n"
		    "Create an OAuth client of type \"Desktop app\" in the "
		    "Google Cloud console\n(APIs & Services > Credentials), "
		    "enable the Drive API, download its JSON and\npass it "
		    "with --client-secrets FILE (or save it as '%s').\n",
		    secrets, why, secrets);
		return 1;
	}
	o.auth_url = pick(auth_url, "DRIVEFS_AUTH_URL", NULL);
	o.token_url = pick(token_url, "DRIVEFS_TOKEN_URL", NULL);
	o.scope = scope;
	o.timeout_s = (int)timeout;
	o.out = stdout;
	o.in_fd = STDIN_FILENO;
	rc = start_http(&h);
	if (rc < 0)
		goto out;
	rc = oauth_login_run(h, &client, &o, &json, why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "drivefs auth login: %s\n",
			why[0] ? why : strerror(-rc));
		goto out;
	}
	rc = cred_write_file(dest, json);
	if (rc < 0) {
		fprintf(stderr, "drivefs auth login: writing '%s': %s\n", dest,
			strerror(-rc));
		goto out;
	}
	printf("Signed in. Credentials saved in %s (mode 0600).\n", dest);
	if (cred_locate(NULL, found, sizeof(found), &src) == 0 &&
	    src == CRED_SRC_ENV)
		printf(
		    "Note: GOOGLE_APPLICATION_CREDENTIALS (%s) comes first in "
		    "the search order;\nunset it for drivefs mount to use "
		    "this sign-in.\n",
		    found);
out:
	str_free_secret(json);
	http_free(h);
	oauth_client_release(&client);
	return rc < 0 ? 1 : 0;
}

/* ----------------------------------------------------------------- status */

static void print_candidates(const char *explicit_path)
{
	char path[PATH_MAX];
	enum cred_source src;
	bool exists;

	printf("search order (the first that exists is used):\n");
	printf("  1. %-40s %s\n", cred_source_name(CRED_SRC_OPTION),
	       explicit_path ? explicit_path : "(not given)");
	for (unsigned i = 0;; i++) {
		int rc = cred_candidate(i, path, sizeof(path), &src);

		if (rc == -ENOENT)
			break;
		if (rc < 0) {
			printf("  %u. %-40s (not set)\n", i + 2,
			       cred_source_name(src));
			continue;
		}
		exists = access(path, F_OK) == 0;
		printf("  %u. %-40s %s (%s)\n", i + 2, cred_source_name(src),
		       path, exists ? "exists" : "missing");
	}
}

static int cmd_status(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"credentials", required_argument, NULL, 'c'},
	    {"subject", required_argument, NULL, 'S'},
	    {"api-url", required_argument, NULL, 'A'},
	    {"token-url", required_argument, NULL, 'T'},
	    {"config", required_argument, NULL, 'C'},
	    {"no-config", no_argument, NULL, 'N'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct fs_opts fo;
	const char *cfg = NULL;
	bool no_cfg = false;
	char path[PATH_MAX], cfgdef[PATH_MAX], why[320], tok[HTTP_TOKEN_MAX];
	struct oauth_token_opts to = {0};
	struct oauth_token *token = NULL;
	struct drive_opts dopt = {0};
	struct drive_about about;
	struct drive_auth auth;
	struct drive *drive = NULL;
	struct drive_err err;
	enum cred_source src;
	struct http *h = NULL;
	struct cred cred;
	int c, rc, status = 1;

	fs_opts_init(&fo);
	cred_init(&cred);
	/* The config file first, as drivefs mount reads it. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-config"))
			no_cfg = true;
		else if (!strcmp(argv[i], "--config") && i + 1 < argc)
			cfg = argv[i + 1];
	}
	if (!no_cfg) {
		if (!cfg && fs_opts_config_path(cfgdef, sizeof(cfgdef)) == 0)
			rc = fs_opts_load_config(&fo, cfgdef, false, why,
						 sizeof(why));
		else
			rc = cfg ? fs_opts_load_config(&fo, cfg, true, why,
						       sizeof(why))
				 : 0;
		if (rc < 0) {
			fprintf(stderr, "drivefs auth status: %s\n", why);
			status = 2;
			goto out;
		}
	}
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			fo.credentials = optarg;
			break;
		case 'S':
			fo.subject = optarg;
			break;
		case 'A':
		case 'T':
			if (http_url_check(optarg, why, sizeof(why)) < 0) {
				fprintf(stderr,
					"drivefs auth status: '%s': %s\n",
					optarg, why);
				status = 2;
				goto out;
			}
			if (c == 'A')
				fo.api_url = optarg;
			else
				fo.token_url = optarg;
			break;
		case 'C':
		case 'N':
			break;
		case 'h':
			usage(stdout);
			status = 0;
			goto out;
		default:
			fprintf(stderr,
				"drivefs auth status: %s: unknown option or "
				"missing value\n",
				argv[optind - 1]);
			status = 2;
			goto out;
		}
	}
	print_candidates(fo.credentials);
	if (cred_locate(fo.credentials, path, sizeof(path), &src) < 0) {
		printf("credentials: none\n");
		fprintf(
		    stderr,
		    "drivefs auth status: no credentials found: run drivefs "
		    "auth login, or pass --credentials FILE\n");
		goto out;
	}
	printf("credentials: %s\nsource: %s\n", path, cred_source_name(src));
	rc = cred_load(path, &cred, why, sizeof(why));
	if (rc < 0) {
		printf("usable: no (%s)\n", why[0] ? why : strerror(-rc));
		goto out;
	}
	if (cred.type == CRED_SERVICE_ACCOUNT) {
		printf("type: service_account (%s)\n", cred.client_email);
		if (fo.subject) {
			rc = cred_set_subject(&cred, fo.subject, why,
					      sizeof(why));
			if (rc < 0) {
				printf("usable: no (%s)\n", why);
				goto out;
			}
			printf("acting as: %s (domain-wide delegation)\n",
			       fo.subject);
		}
	} else {
		printf("type: authorized_user (client %s)\n", cred.client_id);
		if (fo.subject) {
			cred_set_subject(&cred, fo.subject, why, sizeof(why));
			printf("usable: no (%s)\n", why);
			goto out;
		}
	}
	to.token_url = fo.token_url;
	printf("token endpoint: %s\n", to.token_url	? to.token_url
				       : cred.token_uri ? cred.token_uri
							: OAUTH_TOKEN_URL);
	fflush(stdout);
	if (start_http(&h) < 0)
		goto out;
	rc = oauth_token_new(&cred, &to, h, &token);
	if (rc < 0) {
		printf("token: failed (%s)\n", strerror(-rc));
		goto out;
	}
	drive_err_init(&err);
	rc = oauth_token_get(token, false, tok, sizeof(tok), &err);
	OPENSSL_cleanse(tok, sizeof(tok));
	if (rc < 0) {
		printf("token: failed (%s)\n",
		       err.message[0] ? err.message : strerror(-rc));
		goto out;
	}
	printf("token: ok\n");
	fflush(stdout);
	oauth_token_auth(token, &auth);
	dopt.api_url = fo.api_url;
	rc = drive_new(&dopt, h, &auth, &drive);
	if (rc < 0) {
		printf("drive: failed (%s)\n", strerror(-rc));
		goto out;
	}
	drive_err_init(&err);
	rc = drive_about_get(drive, &about, &err);
	if (rc < 0) {
		printf("drive: failed at %s (%s)\n", fo.api_url,
		       err.http_status || err.reason[0]
			   ? drive_err_str(&err, why, sizeof(why))
			   : strerror(-rc));
		goto out;
	}
	printf("drive: ok, signed in as %s (%s)\n", about.email, fo.api_url);
	status = 0;
out:
	if (h)
		http_cancel_all(h);
	drive_free(drive);
	oauth_token_free(token);
	http_free(h);
	cred_release(&cred);
	fs_opts_release(&fo);
	return status;
}

/* ----------------------------------------------------------------- logout */

/* "https://host/token" → "https://host/revoke" into @out; 0 or -EINVAL. */
static int revoke_next_to(const char *token_url, char *out, size_t outsz)
{
	size_t n = strlen(token_url);

	if (n < 6 || strcmp(token_url + n - 6, "/token") || n + 2 >= outsz)
		return -EINVAL;
	memcpy(out, token_url, n - 6);
	str_copy(out + n - 6, outsz - (n - 6), "/revoke");
	return 0;
}

static int cmd_logout(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"revoke-url", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *revoke = NULL;
	char path[PATH_MAX], why[320], derived[PATH_MAX], other[PATH_MAX];
	enum cred_source src;
	struct http *h = NULL;
	struct cred cred;
	int c, rc, status = 1;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		if (c == 'r') {
			revoke = optarg;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr,
				"drivefs auth logout: %s: unknown option or "
				"missing value\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (cred_drivefs_path(path, sizeof(path)) < 0) {
		fprintf(stderr, "drivefs auth logout: no home directory\n");
		return 1;
	}
	cred_init(&cred);
	rc = cred_load(path, &cred, why, sizeof(why));
	if (rc == -ENOENT) {
		printf("Not signed in with drivefs auth login (no %s).\n",
		       path);
		status = 0;
		goto others;
	}
	if (rc < 0) {
		fprintf(stderr, "drivefs auth logout: '%s': %s\n", path, why);
		goto out;
	}
	if (cred.type == CRED_AUTHORIZED_USER) {
		revoke = pick(revoke, "DRIVEFS_REVOKE_URL", NULL);
		if (!revoke)
			revoke = cred.token_uri &&
					 revoke_next_to(cred.token_uri, derived,
							sizeof(derived)) == 0
				     ? derived
				     : OAUTH_REVOKE_URL;
		if (start_http(&h) < 0)
			goto out;
		rc = oauth_revoke(h, revoke, cred.refresh_token, why,
				  sizeof(why));
		if (rc == 0) {
			printf("Revoked the refresh token.\n");
		} else if (rc == -ENOENT) {
			printf("The refresh token was already invalid.\n");
		} else {
			fprintf(stderr,
				"drivefs auth logout: revoking failed: %s\n"
				"The file is removed anyway; revoke the access "
				"at https://myaccount.google.com/permissions\n",
				why[0] ? why : strerror(-rc));
		}
	}
	if (unlink(path) < 0) {
		fprintf(stderr, "drivefs auth logout: removing '%s': %s\n",
			path, strerror(errno));
		goto out;
	}
	printf("Removed %s.\n", path);
	status = rc == 0 || rc == -ENOENT || cred.type != CRED_AUTHORIZED_USER
		     ? 0
		     : 1;
others:
	if (cred_locate(NULL, other, sizeof(other), &src) == 0)
		printf("A mount would now use %s (%s).\n", other,
		       cred_source_name(src));
out:
	http_free(h);
	cred_release(&cred);
	return status;
}

int fs_auth_main(int argc, char **argv)
{
	log_init(NULL, LOG_SINK_STDERR);
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "login"))
		return cmd_login(argc - 1, argv + 1);
	if (!strcmp(argv[1], "status"))
		return cmd_status(argc - 1, argv + 1);
	if (!strcmp(argv[1], "logout"))
		return cmd_logout(argc - 1, argv + 1);
	fprintf(stderr, "drivefs auth: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
