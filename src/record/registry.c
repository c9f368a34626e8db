/* The signer and store backends this build includes. One line each. */
#include "tfattest/sys/sequencer.h"
#include "tfattest/sys/signer.h"
#include "tfattest/sys/store.h"

extern const tfa_signer_backend tfa_signer_backend_file;
#if TFATTEST_WITH_PKCS11
extern const tfa_signer_backend tfa_signer_backend_pkcs11;
#endif
#if TFATTEST_WITH_AWS
extern const tfa_signer_backend tfa_signer_backend_awskms;
#endif

const tfa_signer_backend *const tfa_signer_backends[] = {
    &tfa_signer_backend_file,
#if TFATTEST_WITH_PKCS11
    &tfa_signer_backend_pkcs11,
#endif
#if TFATTEST_WITH_AWS
    &tfa_signer_backend_awskms,
#endif
    NULL,
};

extern const tfa_store_backend tfa_store_backend_fs;
#if TFATTEST_WITH_AWS
extern const tfa_store_backend tfa_store_backend_s3;
#endif

const tfa_store_backend *const tfa_store_backends[] = {
#if TFATTEST_WITH_AWS
    &tfa_store_backend_s3,
#endif
    /* Last: the fs store also takes plain paths with no scheme. */
    &tfa_store_backend_fs,
    NULL,
};

#if TFATTEST_WITH_AWS
extern const tfa_sequencer_backend tfa_sequencer_backend_dynamodb;
#endif

const tfa_sequencer_backend *const tfa_sequencer_backends[] = {
#if TFATTEST_WITH_AWS
    &tfa_sequencer_backend_dynamodb,
#endif
    NULL,
};
