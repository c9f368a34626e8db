# AWS plumbing (SigV4, credentials, HTTPS through libcurl, s3:// URIs and
# listings) shared by the awskms signer, the s3 store and the dynamodb
# sequencer. Included by the top CMakeLists.txt when TFATTEST_WITH_AWS is ON;
# never in the verifier-only build.
pkg_check_modules(LIBCURL REQUIRED IMPORTED_TARGET libcurl)

tfa_layer_sources(TFA_AWS_SOURCES aws)
list(APPEND TFA_FULL_SOURCES ${TFA_AWS_SOURCES})
list(APPEND TFA_FULL_LIBS PkgConfig::LIBCURL)
