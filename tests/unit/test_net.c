/*
 * The HTTP client (src/net) against tests/net/http_server.py on loopback:
 * statuses, what goes on the wire, the response headers handed back, the
 * size cap, timeouts, and the messages for a request that got no answer.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "net/http.h"
#include "tfa_test.h"

static pid_t g_server;
static char *g_dir;
static char g_base[64]; /* "http://127.0.0.1:PORT" */
static char g_host[32]; /* "127.0.0.1:PORT" */

static void stop_server(void)
{
	if (g_server > 0) {
		kill(g_server, SIGTERM);
		waitpid(g_server, NULL, 0);
		g_server = 0;
	}
	if (g_dir != NULL) {
		tfa_test_rmtree(g_dir);
		free(g_dir);
		g_dir = NULL;
	}
}

static const char *base(void)
{
	const char *src = getenv("TFA_SOURCE_DIR");
	char *script, *pf, *port = NULL;

	if (g_server > 0)
		return g_base;
	if (src == NULL) {
		fprintf(stderr, "TFA_SOURCE_DIR is not set\n");
		exit(2);
	}
	g_dir = tfa_test_tmpdir();
	script = tfa_test_path(src, "tests/net/http_server.py");
	pf = tfa_test_path(g_dir, "port");
	g_server = fork();
	if (g_server < 0)
		exit(2);
	if (g_server == 0) {
		execlp("python3", "python3", script, "--port-file", pf, (char *)NULL);
		_exit(127);
	}
	atexit(stop_server);
	for (int i = 0; i < 200 && port == NULL; i++) {
		struct timespec ts = {0, 50 * 1000000L};

		if (access(pf, R_OK) == 0)
			port = tfa_test_get_file(g_dir, "port", NULL);
		else
			nanosleep(&ts, NULL);
	}
	if (port == NULL) {
		fprintf(stderr, "http_server.py did not start\n");
		exit(2);
	}
	port[strcspn(port, "\r\n")] = '\0';
	snprintf(g_host, sizeof(g_host), "127.0.0.1:%s", port);
	snprintf(g_base, sizeof(g_base), "http://%s", g_host);
	free(port);
	free(script);
	free(pf);
	return g_base;
}

/* A request for base()/path with a 1 MiB cap. */
static tfa_net_request req_for(char *url, size_t size, const char *method, const char *path)
{
	tfa_net_request r;

	snprintf(url, size, "%s%s", base(), path);
	memset(&r, 0, sizeof(r));
	r.what = "test call";
	r.method = method;
	r.url = url;
	r.max_response = (size_t)1 << 20;
	return r;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The current error message contains s. */
static void expect_msg(const char *s, int line)
{
	if (strstr(tfa_error_last()->message, s) == NULL) {
		fprintf(stderr, "test_net.c:%d: %s: message \"%s\" lacks \"%s\"\n", line,
			tfa_test_current, tfa_error_last()->message, s);
		tfa_test_failures++;
	}
}
#define EXPECT_MSG(s) expect_msg((s), __LINE__)

static void test_statuses(void)
{
	static const long codes[] = {200, 204, 301, 404, 429, 500, 503};
	char url[128];
	tfa_net_response r;

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		char path[32], want[32];
		tfa_net_request q;

		snprintf(path, sizeof(path), "/status/%ld", codes[i]);
		q = req_for(url, sizeof(url), "GET", path);
		/* An HTTP error is an answer: the status is the caller's to judge. */
		CHECK_OK(tfa_net_send(&r, NULL, &q));
		CHECK(r.status == codes[i]);
		CHECK(r.curl_code == 0 && !r.too_large);
		CHECK_STREQ(r.host, g_host);
		snprintf(want, sizeof(want), "status %ld", codes[i]);
		/* No redirect is followed, and a 204 has no body. */
		if (codes[i] != 204)
			CHECK(r.body.len == strlen(want) &&
			      memcmp(r.body.data, want, r.body.len) == 0);
		else
			CHECK(r.body.len == 0);
		tfa_net_response_free(&r);
	}
}

typedef struct seen {
	int calls;
	char value[64];
} seen;

static void on_header(void *ud, const char *name, size_t nl, const char *value, size_t vl)
{
	seen *s = ud;

	s->calls++;
	if (nl == 13 && strncasecmp(name, "X-Test-Header", 13) == 0 && vl < sizeof(s->value)) {
		memcpy(s->value, value, vl);
		s->value[vl] = '\0';
	}
}

static const char *echo_str(cJSON *doc, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, a);

	if (b != NULL)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_wire(void)
{
	static const tfa_net_header h[] = {{"Authorization", "bearer abc"},
					   {"X-Empty", ""},
					   {"Content-Type", "application/x-test"}};
	char url[128];
	tfa_net_response r;
	tfa_net_request q = req_for(url, sizeof(url), "POST", "/echo?a=1");
	seen s;
	cJSON *doc;

	memset(&s, 0, sizeof(s));
	q.headers = h;
	q.nheaders = 3;
	q.body = (const uint8_t *)"hello=world&x";
	q.body_len = 13;
	q.on_header = on_header;
	q.header_ud = &s;
	CHECK_OK(tfa_net_send(&r, NULL, &q));
	CHECK(r.status == 200);
	doc = cJSON_ParseWithLength((const char *)r.body.data, r.body.len);
	CHECK(doc != NULL);
	CHECK_STREQ(echo_str(doc, "method", NULL), "POST");
	CHECK_STREQ(echo_str(doc, "path", NULL), "/echo?a=1");
	CHECK_STREQ(echo_str(doc, "body", NULL), "hello=world&x");
	CHECK_STREQ(echo_str(doc, "headers", "authorization"), "bearer abc");
	CHECK_STREQ(echo_str(doc, "headers", "x-empty"), "");
	CHECK_STREQ(echo_str(doc, "headers", "content-type"), "application/x-test");
	CHECK_STREQ(echo_str(doc, "headers", "user-agent"), "tfattest");
	CHECK(echo_str(doc, "headers", "expect") == NULL);
	/* Response headers come back trimmed, status line left out. */
	CHECK_STREQ(s.value, "spaced value");
	CHECK(s.calls >= 3);
	cJSON_Delete(doc);
	tfa_net_response_free(&r);

	/* A POST without a Content-Type gets none (not curl's form type); PUT, DELETE, HEAD. */
	q = req_for(url, sizeof(url), "PUT", "/echo");
	CHECK_OK(tfa_net_send(&r, NULL, &q));
	doc = cJSON_ParseWithLength((const char *)r.body.data, r.body.len);
	CHECK_STREQ(echo_str(doc, "method", NULL), "PUT");
	CHECK(echo_str(doc, "headers", "content-type") == NULL);
	CHECK_STREQ(echo_str(doc, "headers", "content-length"), "0");
	cJSON_Delete(doc);
	tfa_net_response_free(&r);
	q = req_for(url, sizeof(url), "DELETE", "/echo");
	CHECK_OK(tfa_net_send(&r, NULL, &q));
	doc = cJSON_ParseWithLength((const char *)r.body.data, r.body.len);
	CHECK_STREQ(echo_str(doc, "method", NULL), "DELETE");
	cJSON_Delete(doc);
	tfa_net_response_free(&r);
	q = req_for(url, sizeof(url), "HEAD", "/status/404");
	CHECK_OK(tfa_net_send(&r, NULL, &q));
	CHECK(r.status == 404 && r.body.len == 0);
	tfa_net_response_free(&r);
}

static void test_client_reuse(void)
{
	tfa_net_client *c = NULL;
	char url[128];
	tfa_net_response r;

	CHECK_OK(tfa_net_client_new(&c));
	for (int i = 0; i < 3; i++) {
		tfa_net_request q = req_for(url, sizeof(url), i == 1 ? "POST" : "GET",
					    i == 2 ? "/status/503" : "/size/10");

		CHECK_OK(tfa_net_send(&r, c, &q));
		CHECK(r.status == (i == 2 ? 503 : 200));
		tfa_net_response_free(&r);
	}
	tfa_net_client_free(c);
	tfa_net_client_free(NULL);
}

static void test_size_cap(void)
{
	char url[128], want[128];
	tfa_net_response r;
	tfa_net_request q = req_for(url, sizeof(url), "GET", "/size/1000");

	q.max_response = 1000;
	CHECK_OK(tfa_net_send(&r, NULL, &q));
	CHECK(r.status == 200 && r.body.len == 1000 && !r.too_large);
	tfa_net_response_free(&r);
	q = req_for(url, sizeof(url), "GET", "/size/1001");
	q.max_response = 1000;
	CHECK_RC(tfa_net_send(&r, NULL, &q), TFA_EFORMAT);
	CHECK(r.too_large && r.body.len <= 1000);
	snprintf(want, sizeof(want), "test call: the response is larger than 1000 bytes (host %s)",
		 g_host);
	CHECK_STREQ(tfa_error_last()->message, want);
	CHECK(!tfa_net_transient(&r));
	tfa_net_response_free(&r);
	/* A large body under the cap, in many pieces. */
	q = req_for(url, sizeof(url), "GET", "/size/3000000");
	q.max_response = 3000000;
	CHECK_OK(tfa_net_send(&r, NULL, &q));
	CHECK(r.body.len == 3000000);
	tfa_net_response_free(&r);
}

static void test_timeout(void)
{
	char url[128], want[128];
	tfa_net_response r;
	tfa_net_request q = req_for(url, sizeof(url), "GET", "/slow/3000");
	double t0, secs;

	q.timeout_ms = 300;
	t0 = now_s();
	CHECK_RC(tfa_net_send(&r, NULL, &q), TFA_EIO);
	secs = now_s() - t0;
	CHECK(secs >= 0.25 && secs < 2.0);
	CHECK(r.status == 0 && r.curl_code == 28);
	CHECK(tfa_net_transient(&r));
	snprintf(want, sizeof(want), "test call: timed out (host %s, curl 28)", g_host);
	CHECK_STREQ(tfa_error_last()->message, want);
	CHECK(strncmp(tfa_error_last()->detail, "curl: ", 6) == 0);
	tfa_net_response_free(&r);
	/* Within the limit, the same path answers. */
	q = req_for(url, sizeof(url), "GET", "/slow/100");
	q.timeout_ms = 5000;
	CHECK_OK(tfa_net_send(&r, NULL, &q));
	CHECK(r.status == 200);
	tfa_net_response_free(&r);
}

/* A loopback port that was free a moment ago and has no listener. */
static int free_port(void)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0), port = 0;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

static void test_refused(void)
{
	static const tfa_net_header h[] = {{"Authorization", "bearer s3cr3t-t0ken"}};
	char url[128], want[128];
	tfa_net_response r;
	tfa_net_request q;
	int port = free_port();

	CHECK(port > 0);
	snprintf(url, sizeof(url), "http://u:pw@127.0.0.1:%d/x?token=1", port);
	memset(&q, 0, sizeof(q));
	q.what = "sts AssumeRole";
	q.method = "POST";
	q.url = url;
	q.headers = h;
	q.nheaders = 1;
	q.max_response = 1024;
	CHECK_RC(tfa_net_send(&r, NULL, &q), TFA_EIO);
	CHECK(r.curl_code == 7 && r.status == 0);
	CHECK(tfa_net_transient(&r));
	/* The host, no user info, path or query; curl's code. */
	snprintf(want, sizeof(want), "(host 127.0.0.1:%d, curl 7)", port);
	EXPECT_MSG("sts AssumeRole: ");
	EXPECT_MSG(want);
	CHECK(strstr(tfa_error_last()->message, "pw") == NULL);
	CHECK(strncmp(tfa_error_last()->detail, "curl: ", 6) == 0);
	/* The token is in neither the message nor the detail. */
	CHECK(strstr(tfa_error_last()->message, "s3cr3t") == NULL);
	CHECK(strstr(tfa_error_last()->detail, "s3cr3t") == NULL);
	/* A note, as a caller that retried adds it. */
	CHECK_RC(tfa_net_fail(&r, "sts AssumeRole", "gave up after 3 attempts"), TFA_EIO);
	snprintf(want, sizeof(want), "(host 127.0.0.1:%d, curl 7; gave up after 3 attempts)", port);
	EXPECT_MSG(want);
	tfa_net_response_free(&r);
}

static void test_protocols(void)
{
	char url[128];
	tfa_net_response r;
	tfa_net_request q = req_for(url, sizeof(url), "GET", "/status/200");

	/* https only: plain http is refused before anything is sent. */
	q.https_only = true;
	CHECK_RC(tfa_net_send(&r, NULL, &q), TFA_EIO);
	CHECK(r.curl_code == 1 && !tfa_net_transient(&r));
	tfa_net_response_free(&r);
	/* Only http and https at all. */
	q = req_for(url, sizeof(url), "GET", "");
	q.url = "file:///etc/passwd";
	CHECK_RC(tfa_net_send(&r, NULL, &q), TFA_EIO);
	CHECK(r.body.len == 0);
	EXPECT_MSG("(host none, curl 1)");
	tfa_net_response_free(&r);
}

static void test_bad_arguments(void)
{
	static const tfa_net_header crlf[] = {{"X-A", "v\r\nX-Injected: 1"}};
	static const tfa_net_header colon[] = {{"X-A: b", "v"}};
	char url[128];
	tfa_net_response r;
	tfa_net_request q = req_for(url, sizeof(url), "GET", "/status/200");

	CHECK_RC(tfa_net_send(NULL, NULL, &q), TFA_EUSAGE);
	CHECK_RC(tfa_net_send(&r, NULL, NULL), TFA_EUSAGE);
	q.max_response = 0;
	CHECK_RC(tfa_net_send(&r, NULL, &q), TFA_EUSAGE);
	q = req_for(url, sizeof(url), "get", "/status/200");
	CHECK_RC(tfa_net_send(&r, NULL, &q), TFA_EUSAGE);
	q = req_for(url, sizeof(url), "GET", "/status/200");
	q.url = NULL;
	CHECK_RC(tfa_net_send(&r, NULL, &q), TFA_EUSAGE);
	q = req_for(url, sizeof(url), "GET", "/status/200");
	q.what = NULL;
	CHECK_RC(tfa_net_send(&r, NULL, &q), TFA_EUSAGE);
	q = req_for(url, sizeof(url), "GET", "/status/200");
	q.headers = crlf;
	q.nheaders = 1;
	CHECK_RC(tfa_net_send(&r, NULL, &q), TFA_EUSAGE);
	q.headers = colon;
	CHECK_RC(tfa_net_send(&r, NULL, &q), TFA_EUSAGE);
	q.headers = NULL;
	CHECK_RC(tfa_net_send(&r, NULL, &q), TFA_EUSAGE);
	q = req_for(url, sizeof(url), "POST", "/echo");
	q.body_len = 3;
	CHECK_RC(tfa_net_send(&r, NULL, &q), TFA_EUSAGE);
	q.body_len = 0;
	q.timeout_ms = -1;
	CHECK_RC(tfa_net_send(&r, NULL, &q), TFA_EUSAGE);
	tfa_net_response_free(&r);
	tfa_net_response_free(NULL);
	CHECK(!tfa_net_transient(NULL));
	CHECK_RC(tfa_net_client_new(NULL), TFA_EUSAGE);
}

static void test_url_host(void)
{
	char h[24];
	const char *cut = "a-very-long-host-name.e";

	tfa_net_url_host(h, sizeof(h), "https://kms.example:8443/p?q#f");
	CHECK_STREQ(h, "kms.example:8443");
	tfa_net_url_host(h, sizeof(h), "http://user:p@ss@h/x");
	CHECK_STREQ(h, "h");
	tfa_net_url_host(h, sizeof(h), "http://[::1]:80?x");
	CHECK_STREQ(h, "[::1]:80");
	tfa_net_url_host(h, sizeof(h), "https://a-very-long-host-name.example/");
	CHECK_STREQ(h, cut);
	tfa_net_url_host(h, sizeof(h), "not a url");
	CHECK_STREQ(h, "");
	tfa_net_url_host(h, sizeof(h), NULL);
	CHECK_STREQ(h, "");
}

TFA_TEST_MAIN(T(test_statuses), T(test_wire), T(test_client_reuse), T(test_size_cap),
	      T(test_timeout), T(test_refused), T(test_protocols), T(test_bad_arguments),
	      T(test_url_host))
