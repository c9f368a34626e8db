/*
 * The AWS credential chain, in the order the SDKs use: environment, shared
 * credentials and config files, web identity (STS AssumeRoleWithWebIdentity),
 * ECS container credentials, EC2 instance metadata (IMDSv2).
 *
 * Every buffer that holds a secret (files, response bodies, tokens) is wiped
 * before it is released. Messages name files, line numbers, variables and
 * URLs, never a value read from them.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aws/creds.h"
#include "aws/transport.h"
#include "format/pct.h"
#include "tfattest/artifact.h"
#include "tfattest/sys/guard.h"

#define INI_MAX	  ((size_t)1 << 20)
#define TOKEN_MAX ((size_t)64 << 10)
#define FIELD_MAX 4096

/* ---- helpers ------------------------------------------------------------------ */

static void wipe_str(char *s)
{
	if (s != NULL) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void tfa_aws_creds_clear(tfa_aws_creds *c)
{
	if (c == NULL)
		return;
	wipe_str(c->access_key_id);
	wipe_str(c->secret_access_key);
	wipe_str(c->session_token);
	OPENSSL_cleanse(c, sizeof(*c));
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

static tfa_err dup_field(char **out, const char *s, size_t n, const char *what)
{
	char *d;

	if (n == 0 || n > FIELD_MAX)
		return tfa_error_set(TFA_EFORMAT, "%s is empty or longer than %d bytes", what,
				     FIELD_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return tfa_error_set(TFA_EFORMAT, "%s holds a control character", what);
	d = malloc(n + 1);
	if (d == NULL)
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	memcpy(d, s, n);
	d[n] = '\0';
	*out = d;
	return TFA_OK;
}

static tfa_err set_creds(tfa_aws_creds *out, const char *akid, const char *secret,
			 const char *token, int64_t exp, const char *source)
{
	tfa_err rc = TFA_OK;
	tfa_aws_creds c;

	memset(&c, 0, sizeof(c));
	TFA_GUARD(dup_field(&c.access_key_id, akid, strlen(akid), "the access key id"));
	TFA_GUARD(dup_field(&c.secret_access_key, secret, strlen(secret), "the secret access key"));
	if (token != NULL)
		TFA_GUARD(dup_field(&c.session_token, token, strlen(token), "the session token"));
	c.expiration = exp;
	snprintf(c.source, sizeof(c.source), "%s", source);
	if (exp != 0 && exp <= (int64_t)time(NULL))
		TFA_BAIL(TFA_EBACKEND, "AWS credentials from %s have expired", source);
	*out = c;
	memset(&c, 0, sizeof(c));
out:
	tfa_aws_creds_clear(&c);
	return rc;
}

/* "2026-11-27T23:45:00Z", also with fractional seconds or "+00:00". */
static tfa_err parse_expiration(int64_t *out, const char *s, const char *source)
{
	char t[21];

	if (s == NULL || strnlen(s, 40) < 20 || (s[19] != 'Z' && s[19] != '.' && s[19] != '+'))
		return tfa_error_set(TFA_EFORMAT, "AWS credentials from %s: invalid Expiration",
				     source);
	memcpy(t, s, 19);
	t[19] = 'Z';
	t[20] = '\0';
	if (tfa_time_parse(out, t, 20) != TFA_OK)
		return tfa_error_set(TFA_EFORMAT, "AWS credentials from %s: invalid Expiration",
				     source);
	return TFA_OK;
}

/* ---- environment ----------------------------------------------------------------- */

static tfa_err from_env(tfa_aws_creds *out, bool *found)
{
	const char *akid = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");

	*found = false;
	if (akid == NULL && secret == NULL)
		return TFA_OK;
	if (akid == NULL || secret == NULL)
		return tfa_error_set(TFA_EUSAGE, "%s is set but %s is not",
				     akid ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
				     akid ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	*found = true;
	return set_creds(out, akid, secret, env("AWS_SESSION_TOKEN"), 0, "env");
}

/* ---- shared files ------------------------------------------------------------------- */

typedef struct profile_vals {
	bool section_found;
	char *akid, *secret, *token, *region;
	bool unsupported; /* role_arn, credential_process, sso_* */
	char unsupported_key[32];
} profile_vals;

static void profile_vals_clear(profile_vals *p)
{
	wipe_str(p->akid);
	wipe_str(p->secret);
	wipe_str(p->token);
	free(p->region);
	memset(p, 0, sizeof(*p));
}

static void trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t' || **s == '\r'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
		(*e)--;
}

/*
 * Reads one INI file and keeps the values of `section` ("default", "profile
 * x", "x"). The first value of a key wins; values of other sections are
 * skipped without being copied. TFA_OK with nothing found when the file is
 * absent.
 */
static tfa_err ini_read(profile_vals *pv, const char *path, const char *section, bool strict_names)
{
	tfa_err rc = TFA_OK;
	tfa_buf b = TFA_BUF_INIT;
	const char *p, *end;
	unsigned lineno = 0;
	bool in = false;

	rc = tfa_buf_read_file(&b, path, INI_MAX);
	if (rc == TFA_ENOTFOUND) {
		tfa_error_clear();
		rc = TFA_OK;
		goto out;
	}
	if (rc != TFA_OK)
		goto out;
	p = (const char *)b.data;
	end = p + b.len;
	TFA_ENSURE(memchr(p, '\0', b.len) == NULL, TFA_EFORMAT, "%s: holds a NUL byte", path);
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *s = p, *e;

		if (eol == NULL)
			eol = end;
		e = eol;
		p = eol + 1;
		lineno++;
		if (s < e && (*s == ' ' || *s == '\t')) {
			/* Indented: a nested value (e.g. "s3 =" sub-settings). Skipped. */
			continue;
		}
		trim(&s, &e);
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			const char *ns = s + 1, *ne;

			TFA_ENSURE(e[-1] == ']' && e - s >= 3, TFA_EFORMAT,
				   "%s: line %u: malformed section header", path, lineno);
			ne = e - 1;
			trim(&ns, &ne);
			TFA_ENSURE(ne > ns, TFA_EFORMAT, "%s: line %u: empty section name", path,
				   lineno);
			in = strlen(section) == (size_t)(ne - ns) &&
			     memcmp(ns, section, (size_t)(ne - ns)) == 0;
			if (in)
				pv->section_found = true;
			continue;
		}
		{
			const char *eq = memchr(s, '=', (size_t)(e - s));
			const char *ks = s, *ke, *vs, *ve = e;
			char **slot = NULL;

			TFA_ENSURE(eq != NULL, TFA_EFORMAT, "%s: line %u: expected key = value",
				   path, lineno);
			ke = eq;
			vs = eq + 1;
			trim(&ks, &ke);
			trim(&vs, &ve);
			TFA_ENSURE(ke > ks, TFA_EFORMAT, "%s: line %u: empty key", path, lineno);
			if (!in)
				continue;
#define KEY_IS(k) ((size_t)(ke - ks) == sizeof(k) - 1 && strncasecmp(ks, k, sizeof(k) - 1) == 0)
			if (KEY_IS("aws_access_key_id"))
				slot = &pv->akid;
			else if (KEY_IS("aws_secret_access_key"))
				slot = &pv->secret;
			else if (KEY_IS("aws_session_token") || KEY_IS("aws_security_token"))
				slot = &pv->token;
			else if (KEY_IS("region"))
				slot = &pv->region;
			else if (!pv->unsupported &&
				 (KEY_IS("role_arn") || KEY_IS("credential_process") ||
				  KEY_IS("sso_start_url") || KEY_IS("sso_session") ||
				  KEY_IS("web_identity_token_file"))) {
				pv->unsupported = true;
				snprintf(pv->unsupported_key, sizeof(pv->unsupported_key), "%.*s",
					 (int)(ke - ks), ks);
			}
#undef KEY_IS
			if (slot != NULL && *slot == NULL && ve > vs)
				TFA_GUARD(
				    dup_field(slot, vs, (size_t)(ve - vs), "a profile value"));
		}
	}
	(void)strict_names;
out:
	tfa_buf_wipe_free(&b);
	return rc;
}

static tfa_err home_path(char *out, size_t size, const char *envname, const char *rel)
{
	const char *v = env(envname), *home;

	if (v != NULL) {
		if ((size_t)snprintf(out, size, "%s", v) >= size)
			return tfa_error_set(TFA_EUSAGE, "%s is too long", envname);
		return TFA_OK;
	}
	home = env("HOME");
	if (home == NULL) {
		out[0] = '\0';
		return TFA_OK;
	}
	if ((size_t)snprintf(out, size, "%s/%s", home, rel) >= size)
		return tfa_error_set(TFA_EUSAGE, "HOME is too long");
	return TFA_OK;
}

static const char *profile_name(bool *explicit_name)
{
	const char *p = env("AWS_PROFILE");

	if (p == NULL)
		p = env("AWS_DEFAULT_PROFILE");
	*explicit_name = p != NULL;
	return p != NULL ? p : "default";
}

/* Reads the profile from both files: the credentials file first, then config. */
static tfa_err profile_load(profile_vals *pv, const char **name_out, bool *explicit_name)
{
	tfa_err rc = TFA_OK;
	char cred_path[4096], conf_path[4096], section[300];
	const char *name = profile_name(explicit_name);
	profile_vals cfg;

	memset(&cfg, 0, sizeof(cfg));
	*name_out = name;
	TFA_ENSURE(strlen(name) <= 200 && strpbrk(name, "[]\r\n") == NULL, TFA_EUSAGE,
		   "AWS_PROFILE is not a valid profile name");
	TFA_GUARD(home_path(cred_path, sizeof(cred_path), "AWS_SHARED_CREDENTIALS_FILE",
			    ".aws/credentials"));
	TFA_GUARD(home_path(conf_path, sizeof(conf_path), "AWS_CONFIG_FILE", ".aws/config"));
	if (cred_path[0] != '\0')
		TFA_GUARD(ini_read(pv, cred_path, name, false));
	if (conf_path[0] != '\0') {
		if (strcmp(name, "default") == 0)
			snprintf(section, sizeof(section), "default");
		else
			snprintf(section, sizeof(section), "profile %s", name);
		TFA_GUARD(ini_read(&cfg, conf_path, section, false));
		/* The credentials file wins for keys it sets. */
		pv->section_found |= cfg.section_found;
		if (pv->akid == NULL && pv->secret == NULL) {
			pv->akid = cfg.akid;
			pv->secret = cfg.secret;
			cfg.akid = cfg.secret = NULL;
			if (pv->token == NULL) {
				pv->token = cfg.token;
				cfg.token = NULL;
			}
		}
		if (pv->region == NULL) {
			pv->region = cfg.region;
			cfg.region = NULL;
		}
		if (!pv->unsupported && cfg.unsupported) {
			pv->unsupported = true;
			memcpy(pv->unsupported_key, cfg.unsupported_key,
			       sizeof(cfg.unsupported_key));
		}
	}
out:
	profile_vals_clear(&cfg);
	return rc;
}

static tfa_err from_profile(tfa_aws_creds *out, bool *found)
{
	tfa_err rc = TFA_OK;
	profile_vals pv;
	const char *name;
	bool explicit_name;
	char source[32];

	*found = false;
	memset(&pv, 0, sizeof(pv));
	TFA_GUARD(profile_load(&pv, &name, &explicit_name));
	if (!pv.section_found) {
		TFA_ENSURE(!explicit_name, TFA_EUSAGE,
			   "AWS profile %s is in neither the credentials nor the config file",
			   name);
		goto out;
	}
	if (pv.akid == NULL && pv.secret == NULL) {
		TFA_ENSURE(!pv.unsupported, TFA_EUSAGE,
			   "AWS profile %s uses %s, which is not supported: use static keys, "
			   "web identity, container or instance credentials",
			   name, pv.unsupported_key);
		goto out;
	}
	TFA_ENSURE(pv.akid != NULL && pv.secret != NULL, TFA_EUSAGE,
		   "AWS profile %s sets only one of aws_access_key_id and aws_secret_access_key",
		   name);
	*found = true;
	snprintf(source, sizeof(source), "profile:%s", name);
	TFA_GUARD(set_creds(out, pv.akid, pv.secret, pv.token, 0, source));
out:
	profile_vals_clear(&pv);
	return rc;
}

tfa_err tfa_aws_region_resolve(char *out, size_t size)
{
	tfa_err rc = TFA_OK;
	const char *r = env("AWS_REGION"), *name;
	profile_vals pv;
	bool explicit_name;

	memset(&pv, 0, sizeof(pv));
	TFA_ENSURE_ARG(out);
	TFA_ENSURE(size > 0, TFA_EUSAGE, "empty region buffer");
	out[0] = '\0';
	if (r == NULL)
		r = env("AWS_DEFAULT_REGION");
	if (r == NULL) {
		TFA_GUARD(profile_load(&pv, &name, &explicit_name));
		r = pv.region;
	}
	TFA_ENSURE(r != NULL, TFA_EUSAGE,
		   "no AWS region: set AWS_REGION, AWS_DEFAULT_REGION or region in the profile");
	TFA_ENSURE(strlen(r) < size && strlen(r) <= 63 &&
		       strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(r),
		   TFA_EUSAGE, "the AWS region is not a valid region name");
	snprintf(out, size, "%s", r);
out:
	profile_vals_clear(&pv);
	return rc;
}

/* ---- web identity -------------------------------------------------------------------- */

static tfa_err form_add(tfa_buf *b, const char *key, const char *val)
{
	tfa_err rc = TFA_OK;

	TFA_GUARD(tfa_buf_printf(b, "%s%s=", b->len ? "&" : "", key));
	TFA_GUARD(tfa_pct_encode(b, val, strlen(val), TFA_PCT_UNRESERVED, NULL));
out:
	return rc;
}

/* The text of the first <tag>...</tag> after `from`, bounded by `end`; NULL when absent. */
static const char *xml_text(const char *from, const char *end, const char *tag, size_t *len)
{
	char open[48], close[48];
	const char *s, *e;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	s = tfa_aws_memfind(from, (size_t)(end - from), open, strlen(open));
	if (s == NULL)
		return NULL;
	s += strlen(open);
	e = tfa_aws_memfind(s, (size_t)(end - s), close, strlen(close));
	if (e == NULL)
		return NULL;
	*len = (size_t)(e - s);
	return s;
}

static bool ecs_host_allowed(const char *url);

static tfa_err sts_endpoint(char *out, size_t size, const char *region)
{
	const char *e = env("AWS_ENDPOINT_URL_STS");
	bool https;
	char host[256];
	tfa_err rc;

	if (e == NULL)
		e = env("AWS_ENDPOINT_URL");
	if (e != NULL) {
		if ((rc = tfa_aws_endpoint_parse(e, &https, host, sizeof(host))) != TFA_OK)
			return rc;
		/* The web identity token goes in this request: never in clear text off the host. */
		if (!ecs_host_allowed(e))
			return tfa_error_set(
			    TFA_EUSAGE,
			    "the STS endpoint must be https (plain http only to loopback)");
		snprintf(out, size, "%s://%s/", https ? "https" : "http", host);
	} else if (region != NULL && region[0] != '\0') {
		snprintf(out, size, "https://sts.%s.amazonaws.com/", region);
	} else {
		snprintf(out, size, "https://sts.amazonaws.com/");
	}
	return TFA_OK;
}

static tfa_err from_web_identity(tfa_aws_creds *out, bool *found, const char *region)
{
	tfa_err rc = TFA_OK;
	const char *role = env("AWS_ROLE_ARN"), *file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *sess = env("AWS_ROLE_SESSION_NAME");
	tfa_buf tok = TFA_BUF_INIT, form = TFA_BUF_INIT;
	tfa_aws_response resp;
	tfa_aws_timeouts t = {0, 0, 0};
	char url[400], sessbuf[64];
	const tfa_net_header h[] = {
	    {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
	};
	const char *doc, *end, *cr, *v;
	size_t n;
	char *akid = NULL, *secret = NULL, *token = NULL, *exp = NULL;
	int64_t expiration = 0;

	memset(&resp, 0, sizeof(resp));
	*found = false;
	if (role == NULL || file == NULL)
		goto out;
	*found = true;
	rc = tfa_buf_read_file(&tok, file, TOKEN_MAX);
	TFA_ENSURE(rc == TFA_OK, rc, "AWS_WEB_IDENTITY_TOKEN_FILE %s cannot be read", file);
	while (tok.len > 0 && (tok.data[tok.len - 1] == '\n' || tok.data[tok.len - 1] == '\r' ||
			       tok.data[tok.len - 1] == ' '))
		tok.len--;
	TFA_ENSURE(tok.len > 0 && memchr(tok.data, '\0', tok.len) == NULL, TFA_EUSAGE,
		   "AWS_WEB_IDENTITY_TOKEN_FILE %s is empty or not text", file);
	tok.data[tok.len] = '\0';
	if (sess == NULL) {
		snprintf(sessbuf, sizeof(sessbuf), "tfattest-%lld", (long long)time(NULL));
		sess = sessbuf;
	}
	TFA_ENSURE(strlen(sess) >= 2 && strlen(sess) <= 64, TFA_EUSAGE,
		   "AWS_ROLE_SESSION_NAME must be 2 to 64 characters");
	TFA_ENSURE(strlen(role) <= 2048, TFA_EUSAGE, "AWS_ROLE_ARN is too long");
	TFA_GUARD(form_add(&form, "Action", "AssumeRoleWithWebIdentity"));
	TFA_GUARD(form_add(&form, "Version", "2011-06-15"));
	TFA_GUARD(form_add(&form, "RoleArn", role));
	TFA_GUARD(form_add(&form, "RoleSessionName", sess));
	TFA_GUARD(form_add(&form, "WebIdentityToken", (const char *)tok.data));
	TFA_GUARD(sts_endpoint(url, sizeof(url), region));
	TFA_GUARD(tfa_aws_timeouts_resolve(&t));
	TFA_GUARD(tfa_aws_http_plain(&resp, &t, "sts AssumeRoleWithWebIdentity", "POST", url, h, 1,
				     form.data, form.len));
	doc = (const char *)resp.body.data;
	end = doc ? doc + resp.body.len : NULL;
	cr = doc ? xml_text(doc, end, "Credentials", &n) : NULL;
	TFA_ENSURE(
	    cr != NULL, TFA_EFORMAT,
	    "sts AssumeRoleWithWebIdentity: the response holds no Credentials (request id %s)",
	    resp.request_id[0] ? resp.request_id : "none");
	end = cr + n;
#define TAKE(tag, dst)                                                                             \
	do {                                                                                       \
		v = xml_text(cr, end, tag, &n);                                                    \
		TFA_ENSURE(v != NULL, TFA_EFORMAT,                                                 \
			   "sts AssumeRoleWithWebIdentity: the response lacks %s", tag);           \
		TFA_GUARD(dup_field(&dst, v, n, "sts " tag));                                      \
	} while (0)
	TAKE("AccessKeyId", akid);
	TAKE("SecretAccessKey", secret);
	TAKE("SessionToken", token);
	TAKE("Expiration", exp);
#undef TAKE
	TFA_GUARD(parse_expiration(&expiration, exp, "web-identity"));
	TFA_GUARD(set_creds(out, akid, secret, token, expiration, "web-identity"));
out:
	tfa_buf_wipe_free(&tok);
	tfa_buf_wipe_free(&form);
	tfa_aws_response_free_wipe(&resp);
	wipe_str(akid);
	wipe_str(secret);
	wipe_str(token);
	free(exp);
	return rc;
}

/* ---- ECS and EC2 metadata: JSON credentials ----------------------------------------------- */

static void cjson_wipe(cJSON *j)
{
	for (cJSON *c = j; c != NULL; c = c->next) {
		if (cJSON_IsString(c) && c->valuestring != NULL)
			OPENSSL_cleanse(c->valuestring, strlen(c->valuestring));
		if (c->child != NULL)
			cjson_wipe(c->child);
	}
}

static tfa_err creds_from_json(tfa_aws_creds *out, const tfa_aws_response *r, const char *source)
{
	tfa_err rc = TFA_OK;
	cJSON *j = cJSON_ParseWithLength((const char *)r->body.data, r->body.len);
	const cJSON *akid, *secret, *token, *exp, *code;
	int64_t expiration = 0;

	TFA_ENSURE(cJSON_IsObject(j), TFA_EFORMAT,
		   "%s credentials: the response is not a JSON object", source);
	code = cJSON_GetObjectItemCaseSensitive(j, "Code");
	TFA_ENSURE(code == NULL ||
		       (cJSON_IsString(code) && strcmp(code->valuestring, "Success") == 0),
		   TFA_EBACKEND, "%s credentials: the endpoint did not report Success", source);
	akid = cJSON_GetObjectItemCaseSensitive(j, "AccessKeyId");
	secret = cJSON_GetObjectItemCaseSensitive(j, "SecretAccessKey");
	token = cJSON_GetObjectItemCaseSensitive(j, "Token");
	exp = cJSON_GetObjectItemCaseSensitive(j, "Expiration");
	TFA_ENSURE(cJSON_IsString(akid) && cJSON_IsString(secret), TFA_EFORMAT,
		   "%s credentials: AccessKeyId or SecretAccessKey is missing", source);
	TFA_ENSURE(token == NULL || cJSON_IsString(token), TFA_EFORMAT,
		   "%s credentials: Token is not a string", source);
	if (exp != NULL) {
		TFA_ENSURE(cJSON_IsString(exp), TFA_EFORMAT, "%s credentials: invalid Expiration",
			   source);
		TFA_GUARD(parse_expiration(&expiration, exp->valuestring, source));
	}
	TFA_GUARD(set_creds(out, akid->valuestring, secret->valuestring,
			    token ? token->valuestring : NULL, expiration, source));
out:
	cjson_wipe(j);
	cJSON_Delete(j);
	return rc;
}

/* Splits "scheme://host[:port]/path" down to its scheme and host. */
static tfa_err url_host(const char *url, bool *https, char *host, size_t size)
{
	const char *s = strstr(url, "://");
	size_t n;
	char base[300];

	if (s == NULL)
		return tfa_error_set(TFA_EUSAGE, "not a URL");
	s += 3;
	n = strcspn(s, "/?#");
	if ((size_t)(s - url) + n >= sizeof(base))
		return tfa_error_set(TFA_EUSAGE, "URL host too long");
	memcpy(base, url, (size_t)(s - url) + n);
	base[(size_t)(s - url) + n] = '\0';
	return tfa_aws_endpoint_parse(base, https, host, size);
}

/* http:// is allowed only to loopback and the container credential addresses. */
static bool ecs_host_allowed(const char *url)
{
	bool https;
	char host[256];
	char *colon;
	struct in_addr v4;

	if (url_host(url, &https, host, sizeof(host)) != TFA_OK)
		return false;
	if (https)
		return true;
	if (host[0] != '[' && (colon = strrchr(host, ':')) != NULL)
		*colon = '\0';
	/* 127.0.0.0/8 as a literal address, not a name that starts with "127." */
	if (inet_pton(AF_INET, host, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127 || strcmp(host, "169.254.170.2") == 0 ||
		       strcmp(host, "169.254.170.23") == 0;
	return strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
	       strncmp(host, "[::1]:", 6) == 0 || strcmp(host, "[fd00:ec2::23]") == 0 ||
	       strncmp(host, "[fd00:ec2::23]:", 15) == 0;
}

static tfa_err from_ecs(tfa_aws_creds *out, bool *found)
{
	tfa_err rc = TFA_OK;
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *tokfile = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tokenv = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	tfa_buf tok = TFA_BUF_INIT;
	tfa_aws_response resp;
	tfa_aws_timeouts t = {2000, 5000, 3};
	tfa_net_header h[1];
	size_t nh = 0;
	char url[2100];

	memset(&resp, 0, sizeof(resp));
	*found = false;
	if (rel == NULL && full == NULL)
		goto out;
	*found = true;
	if (rel != NULL) {
		TFA_ENSURE(rel[0] == '/' && strlen(rel) < 2000 && strpbrk(rel, " \r\n") == NULL,
			   TFA_EUSAGE, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path");
		snprintf(url, sizeof(url), "http://169.254.170.2%s", rel);
	} else {
		TFA_ENSURE(strlen(full) < 2000 && strpbrk(full, " \r\n") == NULL, TFA_EUSAGE,
			   "AWS_CONTAINER_CREDENTIALS_FULL_URI is invalid");
		TFA_ENSURE(
		    ecs_host_allowed(full), TFA_EUSAGE,
		    "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a loopback "
		    "or container credentials address");
		snprintf(url, sizeof(url), "%s", full);
		if (tokfile != NULL) {
			rc = tfa_buf_read_file(&tok, tokfile, TOKEN_MAX);
			TFA_ENSURE(rc == TFA_OK, rc,
				   "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s cannot be read",
				   tokfile);
			while (tok.len > 0 &&
			       (tok.data[tok.len - 1] == '\n' || tok.data[tok.len - 1] == '\r'))
				tok.len--;
			if (tok.data != NULL)
				tok.data[tok.len] = '\0';
		} else if (tokenv != NULL) {
			TFA_GUARD(tfa_buf_puts(&tok, tokenv));
		}
		if (tok.len > 0) {
			for (size_t i = 0; i < tok.len; i++)
				TFA_ENSURE(
				    tok.data[i] >= 0x20 && tok.data[i] != 0x7f, TFA_EUSAGE,
				    "the container authorization token holds a control character");
			h[nh++] = (tfa_net_header){"Authorization", (const char *)tok.data};
		}
	}
	TFA_GUARD(tfa_aws_http_plain(&resp, &t, "ecs credentials", "GET", url, h, nh, NULL, 0));
	TFA_GUARD(creds_from_json(out, &resp, "ecs"));
out:
	tfa_buf_wipe_free(&tok);
	tfa_aws_response_free_wipe(&resp);
	return rc;
}

static bool imds_disabled(void)
{
	const char *v = env("AWS_EC2_METADATA_DISABLED");

	return v != NULL && strcasecmp(v, "true") == 0;
}

/*
 * IMDSv2: PUT a session token, GET the role name, GET its credentials.
 * When the service does not answer the token request at all, this is not
 * an EC2 instance: TFA_OK with found false.
 */
static tfa_err from_imds(tfa_aws_creds *out, bool *found)
{
	tfa_err rc = TFA_OK;
	const char *ep = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	tfa_aws_response tokr, roler, credr;
	tfa_aws_timeouts t = {1000, 2000, 2};
	char base[300], url[700], role[256];
	bool https;
	char host[256];
	tfa_net_header h[1];
	const tfa_net_header ttl[] = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}};
	size_t rl;

	memset(&tokr, 0, sizeof(tokr));
	memset(&roler, 0, sizeof(roler));
	memset(&credr, 0, sizeof(credr));
	*found = false;
	if (imds_disabled())
		goto out;
	if (ep == NULL)
		ep = "http://169.254.169.254";
	TFA_GUARD(tfa_aws_endpoint_parse(ep, &https, host, sizeof(host)));
	snprintf(base, sizeof(base), "%s://%s", https ? "https" : "http", host);
	snprintf(url, sizeof(url), "%s/latest/api/token", base);
	rc = tfa_aws_http_plain(&tokr, &t, "imds token", "PUT", url, ttl, 1, NULL, 0);
	if (rc == TFA_EIO) {
		/* Nothing listens: not on EC2. */
		tfa_error_clear();
		rc = TFA_OK;
		goto out;
	}
	TFA_GUARD(rc);
	*found = true;
	TFA_ENSURE(tokr.body.len > 0 && tokr.body.len < 1024 &&
		       memchr(tokr.body.data, '\n', tokr.body.len) == NULL,
		   TFA_EFORMAT, "imds token: unexpected response");
	for (size_t i = 0; i < tokr.body.len; i++)
		TFA_ENSURE(tokr.body.data[i] >= 0x20 && tokr.body.data[i] < 0x7f, TFA_EFORMAT,
			   "imds token: unexpected response");
	h[0] = (tfa_net_header){"X-aws-ec2-metadata-token", (const char *)tokr.body.data};
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", base);
	rc = tfa_aws_http_plain(&roler, &t, "imds role", "GET", url, h, 1, NULL, 0);
	if (rc == TFA_ENOTFOUND) {
		/* An instance without a role. */
		tfa_error_clear();
		rc = TFA_OK;
		*found = false;
		goto out;
	}
	TFA_GUARD(rc);
	rl = 0;
	while (rl < roler.body.len && roler.body.data[rl] != '\n' && roler.body.data[rl] != '\r')
		rl++;
	TFA_ENSURE(rl > 0 && rl < 128, TFA_EFORMAT, "imds role: unexpected response");
	for (size_t i = 0; i < rl; i++) {
		char c = (char)roler.body.data[i];
		TFA_ENSURE((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			       (c >= '0' && c <= '9') || strchr("+=,.@_-", c) != NULL,
			   TFA_EFORMAT, "imds role: unexpected role name");
	}
	memcpy(role, roler.body.data, rl);
	role[rl] = '\0';
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/%s", base, role);
	TFA_GUARD(tfa_aws_http_plain(&credr, &t, "imds credentials", "GET", url, h, 1, NULL, 0));
	TFA_GUARD(creds_from_json(out, &credr, "imds"));
out:
	tfa_aws_response_free_wipe(&tokr);
	tfa_aws_response_free_wipe(&roler);
	tfa_aws_response_free_wipe(&credr);
	return rc;
}

/* ---- the chain -------------------------------------------------------------------------- */

tfa_err tfa_aws_creds_resolve(tfa_aws_creds *out, const char *region)
{
	tfa_err rc = TFA_OK;
	bool found = false;

	TFA_ENSURE_ARG(out);
	memset(out, 0, sizeof(*out));
	TFA_GUARD(from_env(out, &found));
	if (found)
		goto out;
	TFA_GUARD(from_profile(out, &found));
	if (found)
		goto out;
	TFA_GUARD(from_web_identity(out, &found, region));
	if (found)
		goto out;
	TFA_GUARD(from_ecs(out, &found));
	if (found)
		goto out;
	TFA_GUARD(from_imds(out, &found));
	if (found)
		goto out;
	TFA_BAIL(TFA_EUSAGE, "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
			     "a profile, web identity (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE), "
			     "or run with container or instance credentials");
out:
	if (rc != TFA_OK)
		tfa_aws_creds_clear(out);
	return rc;
}
