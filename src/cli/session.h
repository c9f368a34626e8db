/*
 * The chain a command works on, opened and closed once: the signer from
 * --key, the store from --store with its --sequencer, and for the commands
 * that read records back, the checked history.
 */
#ifndef TFA_CLI_SESSION_H
#define TFA_CLI_SESSION_H

#include "opts.h"
#include "tfattest/history.h"
#include "tfattest/signer.h"
#include "tfattest/store.h"

typedef struct tfa_cli_session {
	tfa_signer *signer;
	tfa_store *store;
	tfa_history *history;
} tfa_cli_session;

/* Nothing open: tfa_cli_chain_close may be called on it. */
void tfa_cli_chain_init(tfa_cli_session *ss);

/* Opens the signer from o->key. */
TFA_WUR tfa_err tfa_cli_chain_open_signer(tfa_cli_session *ss, const tfa_cli_opts *o);

/* Opens the store from o->store with o->sequencer. */
TFA_WUR tfa_err tfa_cli_chain_open_store(tfa_cli_session *ss, const tfa_cli_opts *o);

/* The signer, then the store: what a command that writes to the chain needs. */
TFA_WUR tfa_err tfa_cli_chain_open(tfa_cli_session *ss, const tfa_cli_opts *o);

/*
 * The store, then its history checked with the public key from o->pubkey
 * (a PEM file) or else the signer's from o->key.
 */
TFA_WUR tfa_err tfa_cli_chain_open_history(tfa_cli_session *ss, const tfa_cli_opts *o);

/* Frees what is open, the last opened first; leaves ss as tfa_cli_chain_init did. */
void tfa_cli_chain_close(tfa_cli_session *ss);

#endif
