#!/usr/bin/env bash
# The S3 versions double's self-test (tests/aws/test_s3_versions_double.sh), run by ctest.
exec bash "$(dirname "$0")/../aws/test_s3_versions_double.sh"
