#!/usr/bin/env bash
# The KMS test double's self-test (tests/aws/test_kms_double.sh), run by ctest.
exec bash "$(dirname "$0")/../aws/test_kms_double.sh"
