/*
 * Fuzz target for the service client's reply check (tfa_service_reply_check):
 * the reply is the service's answer, read by a runner that trusts nothing in
 * it until it checks out against the pinned key and the request it sent.
 *
 * Any input: TFA_OK only for a record signed by the pinned key (the corpus
 * holds replies the key below signed) that carries the request's facts and
 * idempotency key; otherwise TFA_EFORMAT, TFA_EVERIFY or TFA_EUSAGE with a
 * one-line message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfattest/service_client.h"
#include "verify/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "service_reply_fuzz: %s:%d: %s\n", __FILE__, __LINE__,     \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static const char pem[] = "-----BEGIN PUBLIC KEY-----\n"
			  "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAELbeSUHC1zG8X0jBDzKzUzLtdgC7S\n"
			  "Z5SojhVE1WVrwzVpl3oxeC2oBJNcqlA70HCIe/Nxs9hPg/5/cfXLm+PLCw==\n"
			  "-----END PUBLIC KEY-----\n";
static const char fpr[] = "sha256:ae5f8623e2eb8ab95a57000fcb788dcad52abc9039c9c4846e19f7f49c611d65";
static const char request[] =
    "{\"chain_id\":\"prod\",\"context\":{\"host\":\"u@h\"},\"event\":{\"exit_code\":0,\"status\":"
    "\"succeeded\",\"type\":\"apply\"},\"idempotency_key\":\"0123456789abcdef0123456789abcdef\","
    "\"terraform\":{\"changes\":[{\"action\":\"create\",\"address\":\"a.b\"}],\"counts\":{"
    "\"add\":1,\"change\":0,\"destroy\":0,\"replace\":0}},\"type\":\"tfattest.record-request\"}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static tfa_buf spki;
	static int ready;
	tfa_service_receipt r;
	tfa_err rc;

	if (!ready) {
		tfa_buf_init(&spki, 4096);
		REQUIRE(tfa_spki_from_pem(&spki, (const uint8_t *)pem, strlen(pem)) == TFA_OK);
		ready = 1;
	}
	tfa_error_clear();
	rc = tfa_service_reply_check(&r, (const uint8_t *)request, strlen(request), data, size, fpr,
				     spki.data, spki.len);
	if (rc != TFA_OK) {
		const char *m = tfa_error_last()->message;
		REQUIRE(rc == TFA_EFORMAT || rc == TFA_EVERIFY || rc == TFA_EUSAGE);
		REQUIRE(m[0] != '\0' && strchr(m, '\n') == NULL);
		return 0;
	}
	REQUIRE(r.seq == 3);
	REQUIRE(strcmp(r.idempotency_key, "0123456789abcdef0123456789abcdef") == 0);
	REQUIRE(strcmp(r.chain_id, "prod") == 0);
	REQUIRE(strncmp(r.hash, "sha256:", 7) == 0);
	return 0;
}
