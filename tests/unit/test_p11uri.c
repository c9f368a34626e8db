/* RFC 7512 PKCS#11 URI parser: accepted forms, canonical output, and refusals. */
#include "../../providers/pkcs11/p11uri.h"
#include "tfa_test.h"

static tfa_p11uri *parse_ok(const char *s)
{
	tfa_p11uri *u = NULL;

	CHECK_OK(tfa_p11uri_parse(&u, s, strlen(s)));
	if (u == NULL)
		fprintf(stderr, "  (while parsing %s)\n", s);
	return u;
}

static void parse_bad(const char *s, const char *want_in_msg)
{
	tfa_p11uri *u = NULL;
	tfa_err rc = tfa_p11uri_parse(&u, s, strlen(s));

	if (rc != TFA_EUSAGE || u != NULL) {
		fprintf(stderr, "  accepted or wrong code (%s) for: %s\n", tfa_err_name(rc), s);
		CHECK(rc == TFA_EUSAGE);
		CHECK(u == NULL);
	}
	if (want_in_msg != NULL && strstr(tfa_error_last()->message, want_in_msg) == NULL) {
		fprintf(stderr, "  message \"%s\" lacks \"%s\" for: %s\n",
			tfa_error_last()->message, want_in_msg, s);
		CHECK(0);
	}
	tfa_p11uri_free(u);
}

static void test_full_uri(void)
{
	tfa_p11uri *u =
	    parse_ok("pkcs11:token=My%20Token;object=tfattest-rsa;id=%01%AB;type=private"
		     "?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin");

	if (u == NULL)
		return;
	CHECK_STREQ(u->token, "My Token");
	CHECK_STREQ(u->object, "tfattest-rsa");
	CHECK(u->has_id && u->id_len == 2 && u->id[0] == 0x01 && u->id[1] == 0xab);
	CHECK(u->type == TFA_P11_TYPE_PRIVATE);
	CHECK_STREQ(u->module_path, "/usr/lib/softhsm/libsofthsm2.so");
	CHECK_STREQ(u->pin_source, "file:/run/pin");
	CHECK(u->pin_value == NULL);
	CHECK(u->serial == NULL && u->model == NULL && !u->has_slot_id);
	tfa_p11uri_free(u);
}

static void test_all_path_attributes(void)
{
	tfa_p11uri *u = parse_ok(
	    "pkcs11:token=t;manufacturer=SoftHSM%20project;serial=0123abcd;model=SoftHSM%20v2;"
	    "library-manufacturer=lm;library-description=ld;library-version=2.6;"
	    "slot-description=sd;slot-manufacturer=sm;slot-id=4294967296;object=o;id=;type=cert"
	    "?module-name=softhsm2");

	if (u == NULL)
		return;
	CHECK_STREQ(u->manufacturer, "SoftHSM project");
	CHECK_STREQ(u->serial, "0123abcd");
	CHECK_STREQ(u->model, "SoftHSM v2");
	CHECK_STREQ(u->lib_manufacturer, "lm");
	CHECK_STREQ(u->lib_description, "ld");
	CHECK(u->has_lib_version && u->lib_version_major == 2 && u->lib_version_minor == 6);
	CHECK_STREQ(u->slot_description, "sd");
	CHECK_STREQ(u->slot_manufacturer, "sm");
	CHECK(u->has_slot_id && u->slot_id == 4294967296UL);
	CHECK(u->has_id && u->id_len == 0);
	CHECK(u->type == TFA_P11_TYPE_CERT);
	CHECK_STREQ(u->module_name, "softhsm2");
	tfa_p11uri_free(u);
}

static void test_minimal_and_empty(void)
{
	tfa_p11uri *u = parse_ok("pkcs11:");

	if (u != NULL) {
		CHECK(u->token == NULL && !u->has_id && u->type == TFA_P11_TYPE_ANY);
		tfa_p11uri_free(u);
	}
	u = parse_ok("pkcs11:?");
	tfa_p11uri_free(u);
	/* The scheme is case-insensitive; attribute names are not. */
	u = parse_ok("PKCS11:token=a");
	if (u != NULL)
		CHECK_STREQ(u->token, "a");
	tfa_p11uri_free(u);
	u = parse_ok("pkcs11:object=");
	if (u != NULL)
		CHECK_STREQ(u->object, "");
	tfa_p11uri_free(u);
	u = parse_ok("pkcs11:library-version=3");
	if (u != NULL)
		CHECK(u->lib_version_major == 3 && u->lib_version_minor == 0);
	tfa_p11uri_free(u);
}

static void test_reserved_characters(void)
{
	/* '&' may stay unescaped in the path, '/', '?' and '|' in the query; '=' in both. */
	tfa_p11uri *u = parse_ok("pkcs11:object=a&b=c:[x]@!$'()*+,~._-?pin-value=p/q?r|s=t");

	if (u == NULL)
		return;
	CHECK_STREQ(u->object, "a&b=c:[x]@!$'()*+,~._-");
	CHECK_STREQ(u->pin_value, "p/q?r|s=t");
	tfa_p11uri_wipe_pin(u);
	CHECK(u->pin_value == NULL);
	tfa_p11uri_free(u);
	/* UTF-8 labels arrive percent-encoded. */
	u = parse_ok("pkcs11:token=%C3%A9t%C3%A9");
	if (u != NULL)
		CHECK_STREQ(u->token, "\xc3\xa9t\xc3\xa9");
	tfa_p11uri_free(u);
	/* id bytes may be given unescaped too. */
	u = parse_ok("pkcs11:id=AB%00c");
	if (u != NULL)
		CHECK(u->id_len == 4 && memcmp(u->id, "AB\0c", 4) == 0);
	tfa_p11uri_free(u);
}

static void test_refusals(void)
{
	parse_bad("", "pkcs11:");
	parse_bad("pkcs11", "pkcs11:");
	parse_bad("pkcs12:token=a", "pkcs11:");
	parse_bad("file:/x", "pkcs11:");
	/* unknown and misplaced attributes */
	parse_bad("pkcs11:tokenx=a", "unsupported attribute 'tokenx'");
	parse_bad("pkcs11:Token=a", "unsupported attribute");
	parse_bad("pkcs11:x-vendor=a", "unsupported attribute");
	parse_bad("pkcs11:token=a?foo=b", "unsupported query attribute");
	parse_bad("pkcs11:module-path=/x", "belongs in the query");
	parse_bad("pkcs11:?token=a", "belongs in the path");
	/* duplicates */
	parse_bad("pkcs11:token=a;token=a", "more than once");
	parse_bad("pkcs11:id=%01;id=%01", "more than once");
	parse_bad("pkcs11:?module-path=/a&module-path=/b", "more than once");
	parse_bad("pkcs11:?pin-value=1234&pin-value=1234", "more than once");
	/* RFC 7512: pin-value and pin-source together */
	parse_bad("pkcs11:?pin-value=1234&pin-source=file:/p", "exclusive");
	/* structure */
	parse_bad("pkcs11:;token=a", "empty attribute");
	parse_bad("pkcs11:token=a;", "empty attribute");
	parse_bad("pkcs11:token=a;;object=b", "empty attribute");
	parse_bad("pkcs11:?&module-path=/a", "empty attribute");
	parse_bad("pkcs11:?module-path=/a&", "empty attribute");
	parse_bad("pkcs11:token", "no '='");
	parse_bad("pkcs11:=a", "no name");
	parse_bad("pkcs11:to%6Ben=a", "malformed attribute name");
	/* escapes */
	parse_bad("pkcs11:token=%", "percent-escape");
	parse_bad("pkcs11:token=%4", "percent-escape");
	parse_bad("pkcs11:token=%4G", "percent-escape");
	parse_bad("pkcs11:token=%%41", "percent-escape");
	parse_bad("pkcs11:token=a%00b", "NUL");
	parse_bad("pkcs11:?pin-value=%zz", "percent-escape");
	/* characters that must be escaped */
	parse_bad("pkcs11:token=a b", "percent-encoded");
	parse_bad("pkcs11:token=a/b", "percent-encoded");
	parse_bad("pkcs11:token=a#b", "percent-encoded");
	parse_bad("pkcs11:token=a\"b", "percent-encoded");
	parse_bad("pkcs11:token=\xc3\xa9", "percent-encoded");
	parse_bad("pkcs11:?module-path=/a b", "percent-encoded");
	parse_bad("pkcs11:?module-path=/a;b", "percent-encoded");
	parse_bad("pkcs11:token=a\nb", "percent-encoded");
	/* typed values */
	parse_bad("pkcs11:type=secret", "type must be");
	parse_bad("pkcs11:type=", "type must be");
	parse_bad("pkcs11:type=Private", "type must be");
	parse_bad("pkcs11:type=%70rivate", "type must be");
	parse_bad("pkcs11:slot-id=", "slot-id");
	parse_bad("pkcs11:slot-id=-1", "slot-id");
	parse_bad("pkcs11:slot-id=0x10", "slot-id");
	parse_bad("pkcs11:slot-id=18446744073709551616", "slot-id");
	parse_bad("pkcs11:slot-id=000000000000000000001", "slot-id");
	parse_bad("pkcs11:library-version=", "library-version");
	parse_bad("pkcs11:library-version=1.", "library-version");
	parse_bad("pkcs11:library-version=.1", "library-version");
	parse_bad("pkcs11:library-version=256.0", "library-version");
	parse_bad("pkcs11:library-version=1.2.3", "library-version");
	/* empty values where they make no sense */
	parse_bad("pkcs11:?module-path=", "empty");
	parse_bad("pkcs11:?pin-source=", "empty");
	parse_bad("pkcs11:?pin-value=", "empty");
}

static void test_overlong(void)
{
	char buf[TFA_P11URI_MAX + 64];
	size_t n;

	/* Each value is capped at the size of the PKCS#11 field it matches. */
	tfa_p11uri_free(parse_ok("pkcs11:token=0123456789abcdef0123456789abcdef"));
	tfa_p11uri_free(NULL);
	parse_bad("pkcs11:token=0123456789abcdef0123456789abcdef0", "longer than 32");
	parse_bad("pkcs11:serial=0123456789abcdef0", "longer than 16");
	parse_bad("pkcs11:model=0123456789abcdef0", "longer than 16");
	/* Escapes count as one byte each. */
	{
		tfa_p11uri *u =
		    parse_ok("pkcs11:serial=%30%31%32%33%34%35%36%37%38%39%30%31%32%33%34%35");
		tfa_p11uri_free(u);
	}
	n = (size_t)snprintf(buf, sizeof(buf), "pkcs11:id=");
	for (int i = 0; i <= TFA_P11URI_ID_MAX; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%%01");
	parse_bad(buf, "longer than 128");
	n = (size_t)snprintf(buf, sizeof(buf), "pkcs11:?pin-value=");
	for (int i = 0; i <= TFA_P11URI_PIN_MAX; i++)
		buf[n++] = '1';
	buf[n] = '\0';
	parse_bad(buf, "longer than 256");
	n = (size_t)snprintf(buf, sizeof(buf), "pkcs11:object=");
	while (n < TFA_P11URI_MAX + 1)
		buf[n++] = 'a';
	buf[n] = '\0';
	parse_bad(buf, "longer than 8192");
}

static void test_nul_inside_input(void)
{
	tfa_p11uri *u = NULL;

	CHECK_RC(tfa_p11uri_parse(&u, "pkcs11:token=a\0b", 16), TFA_EUSAGE);
	CHECK(u == NULL);
}

/* Error messages never quote anything from the query, where PINs live. */
static void test_messages_never_echo_query(void)
{
	const char *bad[] = {
	    "pkcs11:?pin-value=s3cr3t&s3cr3t2",
	    "pkcs11:?pin-value=s3cr3t&s3cr3t2=x",
	    "pkcs11:?pin-value=s3cr3t%zz",
	    "pkcs11:?pin-value=s3cr3t s3cr3t2",
	    "pkcs11:?pin-value=s3cr3t&pin-source=file:/s3cr3t2",
	    "pkcs11:?s3cr3t",
	    "pkcs11:?pin-value=s3cr3t&token=s3cr3t2",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse_bad(bad[i], NULL);
		if (strstr(tfa_error_last()->message, "s3cr3t") != NULL) {
			fprintf(stderr, "  message quotes the query: %s\n",
				tfa_error_last()->message);
			CHECK(0);
		}
	}
}

static void roundtrip(const char *s, const char *want)
{
	tfa_p11uri *u = parse_ok(s), *v = NULL;
	tfa_buf b;

	tfa_buf_init(&b, 0);
	if (u == NULL)
		return;
	CHECK_OK(tfa_p11uri_format(&b, u));
	if (want != NULL)
		CHECK_STREQ((const char *)b.data, want);
	CHECK_OK(tfa_p11uri_parse(&v, (const char *)b.data, b.len));
	if (v != NULL) {
		CHECK_STREQ(v->token ? v->token : "", u->token ? u->token : "");
		CHECK(v->has_id == u->has_id && v->id_len == u->id_len &&
		      (u->id_len == 0 || memcmp(v->id, u->id, u->id_len) == 0));
		CHECK(v->type == u->type && v->slot_id == u->slot_id);
		CHECK(v->pin_value == NULL);
	}
	tfa_p11uri_free(u);
	tfa_p11uri_free(v);
	tfa_buf_free(&b);
}

static void test_format(void)
{
	roundtrip(
	    "pkcs11:type=private;id=%01;object=k;token=My%20Token?pin-value=1234&module-path=/m.so",
	    "pkcs11:token=My%20Token;object=k;id=%01;type=private?module-path=/m.so");
	roundtrip("pkcs11:object=a&b;id=AB?pin-source=file:/run/p",
		  "pkcs11:object=a%26b;id=%41%42?pin-source=file:/run/p");
	roundtrip("pkcs11:slot-id=7;library-version=2.6", "pkcs11:library-version=2.6;slot-id=7");
	roundtrip("pkcs11:", "pkcs11:");
}

static void test_encode(void)
{
	tfa_buf b;
	const uint8_t id[] = {0x00, 0x41, 0xff};

	tfa_buf_init(&b, 0);
	CHECK_OK(tfa_p11uri_encode(&b, "a b/c~", 6, TFA_P11URI_PART_PATH));
	CHECK_STREQ((const char *)b.data, "a%20b%2Fc~");
	tfa_buf_clear(&b);
	CHECK_OK(tfa_p11uri_encode(&b, "/usr/lib/x y.so", 15, TFA_P11URI_PART_QUERY));
	CHECK_STREQ((const char *)b.data, "/usr/lib/x%20y.so");
	tfa_buf_clear(&b);
	CHECK_OK(tfa_p11uri_encode(&b, id, sizeof(id), TFA_P11URI_PART_ID));
	CHECK_STREQ((const char *)b.data, "%00%41%FF");
	tfa_buf_free(&b);
	CHECK_STREQ(tfa_p11_objtype_name(TFA_P11_TYPE_SECRET_KEY), "secret-key");
	CHECK(tfa_p11_objtype_name(TFA_P11_TYPE_ANY) == NULL);
}

TFA_TEST_MAIN(T(test_full_uri), T(test_all_path_attributes), T(test_minimal_and_empty),
	      T(test_reserved_characters), T(test_refusals), T(test_overlong),
	      T(test_nul_inside_input), T(test_messages_never_echo_query), T(test_format),
	      T(test_encode))
