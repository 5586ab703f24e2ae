/*
 * tests/core/test_session_tls.c - STARTTLS as the session sees it (issue
 * 14, RFC 3207).
 *
 * Owns: the EHLO keyword (offered with the extension, in its place before
 * AUTH, never once TLS is on), the refusals (not offered 502, an argument
 * 501, TLS already on 503, inside a transaction 503), the 220 and the stop
 * that hands the handshake to the layer above with exactly the STARTTLS
 * line consumed (what follows is the injection of CVE-2011-0411: the layer
 * above drops it), the state that takes no input until the handshake is
 * done, the fresh start after it (HELO/EHLO and AUTH forgotten), and
 * require_tls (530 5.7.0 to MAIL before TLS).
 *
 * Golden scenarios run whole, at every split and byte by byte: the harness
 * finishes the handshake at once at SMTP_STOP_STARTTLS and feeds the rest
 * as the decrypted stream.  The stop itself is checked by a direct drive.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_golden.h"

#define K_TLS "250-STARTTLS\r\n"
#define R_EHLO_TLS K_HOST K_PIPE K_SIZE K_8BIT K_UTF8 K_ENH K_TLS K_AUTH K_DSN K_CHUNK
#define R_220_TLS "220 2.0.0 Ready to start TLS\r\n"
#define E_STARTTLS "CMD STARTTLS\n"

static struct smtp_config tls_cfg(bool require)
{
	struct smtp_config c;
	smtp_config_defaults(&c);
	c.ext |= SMTP_EXT_STARTTLS;
	c.require_tls = require;
	return c;
}

static void test_offer_and_restart(void)
{
	struct smtp_config c = tls_cfg(false);
	expect_cfg(&c, &(struct transcript){
			       "STARTTLS, then a new EHLO without it, and mail",
			       IN_EHLO "STARTTLS\r\n" IN_EHLO IN_TXN "DATA\r\nhi\r\n.\r\nQUIT\r\n",
			       R_GREET R_EHLO_TLS R_220_TLS R_EHLO R_MAIL R_RCPT R_354 R_Q1 R_BYE,
			       E_GREET E_EHLO E_STARTTLS E_EHLO E_MAIL E_RCPT E_DATA_HI E_QUIT,
		       });
	expect_cfg(&c, &(struct transcript){
			       "a second STARTTLS is 503",
			       IN_EHLO "STARTTLS\r\nSTARTTLS\r\n",
			       R_GREET R_EHLO_TLS R_220_TLS "503 5.5.1 Error: TLS already active\r\n",
			       E_GREET E_EHLO E_STARTTLS E_STARTTLS,
		       });
	/* the EHLO before STARTTLS is forgotten: MAIL right after it has
	 * had no HELO on TLS (strict: 503; lenient: a quirk) */
	c.strict_helo_first = true;
	expect_cfg(&c, &(struct transcript){
			       "HELO/EHLO is forgotten across the handshake",
			       IN_EHLO "STARTTLS\r\nMAIL FROM:<a@b>\r\n",
			       R_GREET R_EHLO_TLS R_220_TLS "503 5.5.1 Error: send HELO/EHLO first\r\n",
			       E_GREET E_EHLO E_STARTTLS "CMD MAIL\n",
		       });
}

static void test_refusals(void)
{
	struct smtp_config c = tls_cfg(false);
	expect_cfg(&c, &(struct transcript){
			       "STARTTLS with an argument",
			       IN_EHLO "STARTTLS now\r\n",
			       R_GREET R_EHLO_TLS "501 5.5.4 Syntax: STARTTLS\r\n",
			       E_GREET E_EHLO "CMD STARTTLS\n",
		       });
	expect_cfg(&c, &(struct transcript){
			       "STARTTLS inside a transaction",
			       IN_EHLO "MAIL FROM:<a@b>\r\nSTARTTLS\r\n",
			       R_GREET R_EHLO_TLS R_MAIL "503 5.5.1 Error: MAIL transaction in progress\r\n",
			       E_GREET E_EHLO E_MAIL E_STARTTLS,
		       });
	expect_default(&(struct transcript){
		"STARTTLS not offered (no certificate): 502, and no EHLO line",
		IN_EHLO "STARTTLS\r\n",
		R_GREET R_EHLO R_NOT_IMPL,
		E_GREET E_EHLO E_STARTTLS,
	});
}

static void test_require_tls(void)
{
	struct smtp_config c = tls_cfg(true);
	expect_cfg(&c, &(struct transcript){
			       "require_tls: MAIL before STARTTLS is 530, after it 250",
			       IN_EHLO "MAIL FROM:<a@b>\r\nSTARTTLS\r\n" IN_EHLO "MAIL FROM:<a@b>\r\n",
			       R_GREET R_EHLO_TLS
			       "530 5.7.0 Must issue a STARTTLS command first\r\n" R_220_TLS R_EHLO R_MAIL,
			       E_GREET E_EHLO "CMD MAIL\n" E_STARTTLS E_EHLO E_MAIL,
		       });
}

/* The stop: exactly the STARTTLS line consumed, nothing answered after the
 * 220, no input taken until the handshake is done. */
static void test_stop(void)
{
	struct smtp_config c = tls_cfg(false);
	struct smtp_session s;
	uint8_t buf[4096];
	struct smtp_out out = { buf, 0, sizeof buf };
	smtp_session_init(&s, &c, NULL, NULL);
	smtp_session_greet(&s, &out);
	static const char in[] = "EHLO c\r\nSTARTTLS\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<v@x>\r\n";
	size_t used = 0, before;
	CHECK(smtp_session_feed(&s, (const uint8_t *)in, sizeof in - 1, &used, &out) == SMTP_STOP_STARTTLS);
	CHECK_U64(used, strlen("EHLO c\r\nSTARTTLS\r\n"));
	CHECK(out.len >= strlen(R_220_TLS) && memcmp(out.buf + out.len - strlen(R_220_TLS), R_220_TLS, 19) == 0);
	before = out.len;
	CHECK(smtp_session_feed(&s, (const uint8_t *)in + used, sizeof in - 1 - used, &used, &out) ==
	      SMTP_STOP_STARTTLS);
	CHECK_U64(used, 0);
	CHECK_U64(out.len, before);
	CHECK(!smtp_session_is_idle(&s));
	smtp_session_tls_started(&s);
	CHECK(s.tls && s.helo_verb == SMTP_VERB_UNKNOWN && !s.authenticated);
	CHECK(smtp_session_is_idle(&s));
	/* implicit TLS: on TLS from the start, no STARTTLS offered */
	smtp_session_init(&s, &c, NULL, NULL);
	smtp_session_tls_started(&s);
	out.len = 0;
	smtp_session_greet(&s, &out);
	static const char ehlo[] = "EHLO c\r\n";
	CHECK(smtp_session_feed(&s, (const uint8_t *)ehlo, sizeof ehlo - 1, &used, &out) == SMTP_STOP_INPUT);
	CHECK(memmem(out.buf, out.len, "STARTTLS", 8) == NULL);
}

int main(void)
{
	test_offer_and_restart();
	test_refusals();
	test_require_tls();
	test_stop();
	return harness_finish("test_session_tls");
}
