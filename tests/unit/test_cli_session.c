/* Tests for the CLI's chain open and close (src/cli/session.c): what is opened, in what order,
 * freed once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/session.h"
#include "tfa_test.h"
#include "tfattest/buffer.h"
#include "tfattest/chain.h"

static char *tmp, *store, *key_uri, *pub_path, *other_pub;

static void cleanup(void)
{
	if (tmp)
		tfa_test_rmtree(tmp);
	free(tmp);
	free(store);
	free(key_uri);
	free(pub_path);
	free(other_pub);
}

static char *key_file_uri(const char *dir, const char *name)
{
	char *p = tfa_test_path(dir, name), *u = malloc(strlen(p) + 6);

	if (u == NULL)
		exit(2);
	snprintf(u, strlen(p) + 6, "file:%s", p);
	free(p);
	return u;
}

static void write_pub(const tfa_signer *s, const char *name)
{
	tfa_buf pem;
	const uint8_t *spki;
	size_t len;

	tfa_buf_init(&pem, 0);
	spki = tfa_signer_spki(s, &len);
	if (tfa_spki_to_pem(&pem, spki, len) != TFA_OK)
		exit(2);
	tfa_test_put_file(tmp, name, pem.data, pem.len);
	tfa_buf_free(&pem);
}

/* A chain "prod" in tmp/s anchored to tmp/k.pem, and the public keys of k.pem and of another key.
 */
static void setup(void)
{
	tfa_signer *s, *other;
	tfa_store *st = NULL;

	tmp = tfa_test_tmpdir();
	atexit(cleanup);
	s = tfa_test_new_file_signer(tmp, "k.pem");
	other = tfa_test_new_file_signer(tmp, "other.pem");
	store = tfa_test_path(tmp, "s");
	key_uri = key_file_uri(tmp, "k.pem");
	write_pub(s, "pub.pem");
	write_pub(other, "other.pub.pem");
	pub_path = tfa_test_path(tmp, "pub.pem");
	other_pub = tfa_test_path(tmp, "other.pub.pem");
	if (tfa_store_open_seq(&st, store, NULL) != TFA_OK ||
	    tfa_chain_init(st, "prod", s) != TFA_OK)
		exit(2);
	tfa_store_free(st);
	tfa_signer_free(s);
	tfa_signer_free(other);
}

static void opts(tfa_cli_opts *o, const char *st, const char *key, const char *pub)
{
	tfa_cli_opts_init(o, TFA_CLI_CHAIN | TFA_CLI_PUBLIC_KEY, "use");
	o->store = st;
	o->key = key;
	o->pubkey = pub;
}

static void test_open_close(void)
{
	tfa_cli_session ss;
	tfa_cli_opts o;

	opts(&o, store, key_uri, NULL);
	tfa_cli_chain_init(&ss);
	CHECK_OK(tfa_cli_chain_open(&ss, &o));
	CHECK(ss.signer != NULL && ss.store != NULL && ss.history == NULL);
	tfa_cli_chain_close(&ss);
	CHECK(ss.signer == NULL && ss.store == NULL && ss.history == NULL);
	tfa_cli_chain_close(&ss); /* closing twice is harmless */
}

/* The signer first: a bad key is told before the store is touched, and what opened is freed. */
static void test_open_order(void)
{
	tfa_cli_session ss;
	tfa_cli_opts o;

	opts(&o, "/nonexistent/store", "file:/nonexistent/k.pem", NULL);
	tfa_cli_chain_init(&ss);
	CHECK(tfa_cli_chain_open(&ss, &o) != TFA_OK);
	CHECK(strstr(tfa_error_last()->message, "/nonexistent/k.pem") != NULL);
	CHECK(ss.signer == NULL && ss.store == NULL);
	tfa_cli_chain_close(&ss);
	opts(&o, NULL, key_uri, NULL);
	CHECK(tfa_cli_chain_open(&ss, &o) != TFA_OK);
	CHECK(ss.signer != NULL && ss.store == NULL);
	tfa_cli_chain_close(&ss);
	CHECK(ss.signer == NULL);
}

static void test_history(void)
{
	tfa_cli_session ss;
	tfa_cli_opts o;

	/* With the signer's key. */
	opts(&o, store, key_uri, NULL);
	tfa_cli_chain_init(&ss);
	CHECK_OK(tfa_cli_chain_open_history(&ss, &o));
	CHECK(ss.history != NULL && ss.store != NULL && ss.signer != NULL);
	if (ss.history)
		CHECK_STREQ(tfa_history_chain_id(ss.history), "prod");
	tfa_cli_chain_close(&ss);
	/* With --public-key, which wins over --key: no signer is opened. */
	opts(&o, store, "file:/nonexistent/k.pem", pub_path);
	CHECK_OK(tfa_cli_chain_open_history(&ss, &o));
	CHECK(ss.history != NULL && ss.signer == NULL);
	tfa_cli_chain_close(&ss);
	/* Another key is not the chain's. */
	opts(&o, store, NULL, other_pub);
	CHECK(tfa_cli_chain_open_history(&ss, &o) != TFA_OK);
	CHECK(ss.history == NULL);
	tfa_cli_chain_close(&ss);
	/* A public key file that is not there. */
	opts(&o, store, NULL, "/nonexistent/pub.pem");
	CHECK(tfa_cli_chain_open_history(&ss, &o) != TFA_OK);
	tfa_cli_chain_close(&ss);
	CHECK(ss.store == NULL && ss.history == NULL);
}

static void test_all(void)
{
	setup();
	test_open_close();
	test_open_order();
	test_history();
}

TFA_TEST_MAIN(T(test_all))
