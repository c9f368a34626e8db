#include "session.h"
#include "cli.h"
#include "tfattest/buffer.h"

void tfa_cli_chain_init(tfa_cli_session *ss)
{
	ss->signer = NULL;
	ss->store = NULL;
	ss->history = NULL;
}

tfa_err tfa_cli_chain_open_signer(tfa_cli_session *ss, const tfa_cli_opts *o)
{
	return tfa_signer_open(&ss->signer, o->key);
}

tfa_err tfa_cli_chain_open_store(tfa_cli_session *ss, const tfa_cli_opts *o)
{
	/* tfa_cli_getopt has taken both from the environment when they were not given. */
	return tfa_store_open_seq(&ss->store, o->store, o->sequencer);
}

tfa_err tfa_cli_chain_open(tfa_cli_session *ss, const tfa_cli_opts *o)
{
	tfa_err rc = tfa_cli_chain_open_signer(ss, o);

	if (rc == TFA_OK)
		rc = tfa_cli_chain_open_store(ss, o);
	return rc;
}

tfa_err tfa_cli_chain_open_history(tfa_cli_session *ss, const tfa_cli_opts *o)
{
	tfa_buf pem;
	const uint8_t *der;
	size_t len;
	tfa_err rc;

	tfa_buf_init(&pem, 1 << 16);
	rc = tfa_cli_chain_open_store(ss, o);
	if (rc == TFA_OK && o->pubkey) {
		rc = tfa_buf_read_file(&pem, o->pubkey, 1 << 16);
		if (rc == TFA_OK)
			rc = tfa_history_open(&ss->history, ss->store, pem.data, pem.len);
	} else if (rc == TFA_OK) {
		rc = tfa_cli_chain_open_signer(ss, o);
		if (rc == TFA_OK) {
			der = tfa_signer_spki(ss->signer, &len);
			rc = tfa_history_open(&ss->history, ss->store, der, len);
		}
	}
	tfa_buf_free(&pem);
	return rc;
}

void tfa_cli_chain_close(tfa_cli_session *ss)
{
	tfa_history_free(ss->history);
	tfa_store_free(ss->store);
	tfa_signer_free(ss->signer);
	tfa_cli_chain_init(ss);
}
