/* The stored form of a record: artifact line, hex signature line. */
#include "record/record.h"
#include "tfa_test.h"

static void test_roundtrip(void)
{
	static const uint8_t art[] = "{\"a\":1}";
	static const uint8_t sig[] = {0x00, 0xff, 0x10, 0xab};
	tfa_buf rec, a, s;

	tfa_buf_init(&rec, 0);
	tfa_buf_init(&a, 0);
	tfa_buf_init(&s, 0);
	CHECK_OK(tfa_record_encode(&rec, art, sizeof(art) - 1, sig, sizeof(sig)));
	CHECK_STREQ((const char *)rec.data, "{\"a\":1}\n00ff10ab\n");
	CHECK_OK(tfa_record_decode(rec.data, rec.len, &a, &s));
	CHECK(a.len == sizeof(art) - 1 && memcmp(a.data, art, a.len) == 0);
	CHECK(s.len == sizeof(sig) && memcmp(s.data, sig, s.len) == 0);
	tfa_buf_free(&rec);
	tfa_buf_free(&a);
	tfa_buf_free(&s);
}

static void bad_decode(const char *raw)
{
	tfa_buf a, s;

	tfa_buf_init(&a, 0);
	tfa_buf_init(&s, 0);
	if (tfa_record_decode((const uint8_t *)raw, strlen(raw), &a, &s) != TFA_EFORMAT) {
		fprintf(stderr, "  accepted: \"%s\"\n", raw);
		CHECK(0);
	}
	tfa_buf_free(&a);
	tfa_buf_free(&s);
}

static void test_refusals(void)
{
	tfa_buf rec;
	uint8_t sig[1] = {1};

	bad_decode("");
	bad_decode("\n");
	bad_decode("{}\n");
	bad_decode("{}\n\n");
	bad_decode("\n00\n");
	bad_decode("{}\n00");
	bad_decode("{}\n0\n");
	bad_decode("{}\n000\n");
	bad_decode("{}\n00FF\n");
	bad_decode("{}\n0g\n");
	bad_decode("{}\n00\n00\n");
	bad_decode("{}\n00 \n");
	bad_decode("{}\n00\n\n");
	tfa_buf_init(&rec, 0);
	CHECK_RC(tfa_record_encode(&rec, (const uint8_t *)"a\nb", 3, sig, 1), TFA_EUSAGE);
	CHECK_RC(tfa_record_encode(&rec, (const uint8_t *)"a", 0, sig, 1), TFA_EUSAGE);
	CHECK_RC(tfa_record_encode(&rec, (const uint8_t *)"a", 1, sig, 0), TFA_EUSAGE);
	tfa_buf_free(&rec);
}

TFA_TEST_MAIN(T(test_roundtrip), T(test_refusals))
