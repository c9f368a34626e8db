# AWS plumbing (SigV4, credentials, HTTPS through libcurl) shared by the
# awskms signer, the s3 store and the dynamodb sequencer. Included by the top
# CMakeLists.txt when TFATTEST_WITH_AWS is ON; never in the verifier-only build.
pkg_check_modules(LIBCURL REQUIRED IMPORTED_TARGET libcurl)

list(APPEND TFA_FULL_SOURCES
  src/aws/sigv4.c
  src/aws/http.c
  src/aws/creds.c
)
list(APPEND TFA_FULL_LIBS PkgConfig::LIBCURL)
list(APPEND TFA_FULL_DEFS TFATTEST_WITH_AWS=1)
