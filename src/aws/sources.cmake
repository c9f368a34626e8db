# AWS plumbing (SigV4, credentials, signed calls over src/net, s3:// URIs and
# listings) shared by the awskms signer, the s3 store and the dynamodb
# sequencer. Included by the top CMakeLists.txt when TFATTEST_WITH_AWS is ON;
# never in the verifier-only build.

tfa_layer_sources(TFA_AWS_SOURCES aws)
list(APPEND TFA_FULL_SOURCES ${TFA_AWS_SOURCES})
