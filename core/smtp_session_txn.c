/*
 * core/smtp_session_txn.c - the mail transaction: MAIL, RCPT, DATA, BDAT,
 * message content and the end of a message.
 *
 * Owns: the transaction rules of RFC 5321 3.3 and RFC 3030 (order of
 * commands, recipient cap, size limit, BDAT payloads always consumed so the
 * stream stays in sync), the reporting of content as BODY events, and the
 * decision at end of data: refuse (too big, bare LF under reject) or ask the
 * layer above for a verdict.  Addresses are not kept here: they are handed
 * up in MAIL/RCPT events; only counts stay in the session.
 */
#include <string.h>

#include "smtp_addr.h"
#include "smtp_session_int.h"

/* Address checks common to MAIL and RCPT; false if refused. */
static bool path_acceptable(struct smtp_session *s, const struct smtp_path *p, bool smtputf8, const char *bad_syntax,
			    struct smtp_out *out)
{
	if (p->odd_spacing)
		s->quirks |= SMTP_QUIRK_ODD_SPACING;
	if (!p->bracketed) {
		if (s->cfg->strict_address) {
			session_error(s, out, 501, bad_syntax);
			return false;
		}
		s->quirks |= SMTP_QUIRK_NO_BRACKETS;
	}
	if (p->eight_bit && !smtputf8 && s->cfg->strict_address) {
		session_error(s, out, 553, "5.6.7 Error: SMTPUTF8 is required for this address");
		return false;
	}
	return true;
}

static bool parse_path(struct smtp_session *s, const struct smtp_cmd *cmd, const char *keyword, const char *syntax,
		       const char *too_long, struct smtp_path *p, struct smtp_out *out)
{
	enum smtp_path_status st = smtp_addr_parse(cmd->arg, keyword, p);
	if (st == SMTP_PATH_SYNTAX)
		session_error(s, out, 501, syntax);
	else if (st == SMTP_PATH_TOO_LONG)
		session_error(s, out, 501, too_long);
	return st == SMTP_PATH_OK;
}

void session_cmd_mail(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out)
{
	struct smtp_path p;
	struct smtp_mail_params mp;
	struct smtp_reply_spec refusal;
	if (s->txn != SMTP_TXN_NONE) {
		session_error(s, out, 503, "5.5.1 Error: nested MAIL command");
		return;
	}
	if (s->cfg->require_tls && !s->tls) {
		session_error(s, out, 530, "5.7.0 Must issue a STARTTLS command first");
		return;
	}
	if (s->helo_verb == SMTP_VERB_UNKNOWN) {
		if (s->cfg->strict_helo_first) {
			session_error(s, out, 503, "5.5.1 Error: send HELO/EHLO first");
			return;
		}
		s->quirks |= SMTP_QUIRK_NO_HELO;
	}
	if (!parse_path(s, cmd, "FROM", "5.5.4 Syntax: MAIL FROM:<address>", "5.1.7 Error: sender address too long", &p,
			out))
		return;
	if (!smtp_params_mail(p.params, s->cfg->ext, s->cfg->max_size_bytes, &mp, &refusal)) {
		session_error_spec(s, out, &refusal);
		return;
	}
	if (!path_acceptable(s, &p, mp.smtputf8, "5.1.7 Error: bad sender address syntax", out))
		return;
	s->txn = SMTP_TXN_MAIL;
	s->mail_refused_above = false;
	s->msg_flags = 0;
	if (mp.smtputf8)
		s->msg_flags |= SMTP_MSG_SMTPUTF8;
	if (p.eight_bit && !mp.smtputf8)
		s->msg_flags |= SMTP_MSG_UTF8_NO_PARAM;
	if (!p.bracketed)
		s->msg_flags |= SMTP_MSG_NO_BRACKETS;
	s->body_binary = mp.body == SMTP_BODY_BINARYMIME;
	struct smtp_event ev = { .type = SMTP_EV_MAIL, .arg = p.addr, .params = p.params, .mail = &mp };
	if (!p.bracketed)
		ev.flags |= SMTP_EVF_NO_BRACKETS;
	enum session_event_answer a = session_event_override(s, session_emit(s, &ev), out);
	if (a == SESSION_EVENT_REFUSED && s->state != SMTP_STATE_CLOSED) {
		session_end_txn(s, SMTP_REASON_NONE);
		s->mail_refused_above = true;
	}
	if (a == SESSION_EVENT_NORMAL)
		session_reply(s, out, 250, "2.1.0 Ok");
}

void session_cmd_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out)
{
	struct smtp_path p;
	struct smtp_rcpt_params rp;
	struct smtp_reply_spec refusal;
	if (s->txn == SMTP_TXN_NONE) {
		session_error_unless_above(s, out, 503, "5.5.1 Error: need MAIL command");
		return;
	}
	if (s->txn != SMTP_TXN_MAIL) {
		session_error(s, out, 503, "5.5.1 Error: RCPT after BDAT");
		return;
	}
	bool ok = parse_path(s, cmd, "TO", "5.5.4 Syntax: RCPT TO:<address>", "5.1.3 Error: recipient address too long",
			     &p, out);
	if (ok && p.addr.len == 0) {
		session_error(s, out, 501, "5.1.3 Error: bad recipient address syntax");
		ok = false;
	}
	if (ok && !smtp_params_rcpt(p.params, s->cfg->ext, &rp, &refusal)) {
		session_error_spec(s, out, &refusal);
		ok = false;
	}
	ok = ok && path_acceptable(s, &p, (s->msg_flags & SMTP_MSG_SMTPUTF8) != 0,
				   "5.1.3 Error: bad recipient address syntax", out);
	if (ok && s->rcpts >= s->cfg->max_rcpts) {
		/* RFC 5321 4.5.3.1.10: the client may send the rest later; an
		 * orderly 452 is not a client error until it overshoots a lot */
		if (++s->rcpts_over > SMTP_RCPT_OVERSHOOT_MAX)
			session_error(s, out, 452, "4.5.3 Error: too many recipients");
		else
			session_reply(s, out, 452, "4.5.3 Error: too many recipients");
		ok = false;
	}
	if (!ok) {
		s->rcpts_refused++;
		return;
	}
	struct smtp_event ev = { .type = SMTP_EV_RCPT, .arg = p.addr, .params = p.params, .rcpt = &rp };
	if (!p.bracketed)
		ev.flags |= SMTP_EVF_NO_BRACKETS;
	enum session_event_answer a = session_event_override(s, session_emit(s, &ev), out);
	if (a == SESSION_EVENT_REFUSED) {
		s->rcpts_refused++;
		s->rcpts_refused_above++;
		return;
	}
	if (p.eight_bit && !(s->msg_flags & SMTP_MSG_SMTPUTF8))
		s->msg_flags |= SMTP_MSG_UTF8_NO_PARAM;
	s->rcpts++;
	if (a == SESSION_EVENT_NORMAL)
		session_reply(s, out, 250, "2.1.5 Ok");
}

/* DATA or the first BDAT chunk may start a message: is there a valid
 * transaction?  Sets the refusal otherwise. */
static bool txn_ready(const struct smtp_session *s, unsigned *code, const char **text)
{
	*code = 503;
	if (s->txn == SMTP_TXN_NONE) {
		*text = "5.5.1 Error: need MAIL command";
		return false;
	}
	if (s->rcpts == 0) {
		if (s->rcpts_refused > 0) {
			*code = 554;
			*text = "5.5.1 Error: no valid recipients";
		} else {
			*text = "5.5.1 Error: need RCPT command";
		}
		return false;
	}
	return true;
}

static void begin_message(struct smtp_session *s, uint32_t flags)
{
	data_decoder_begin(&s->data, s->cfg->bare_lf);
	s->msg_bytes = 0;
	s->oversize = false;
	s->sunk_bare_lf = false;
	s->sunk_cr = false;
	s->msg_open = true;
	struct smtp_event ev = { .type = SMTP_EV_DATA_BEGIN, .flags = flags };
	session_emit(s, &ev);
}

void session_cmd_data(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out)
{
	unsigned code;
	const char *text;
	if (cmd->arg.len != 0) {
		session_error(s, out, 501, "5.5.4 Syntax: DATA");
		return;
	}
	if (s->txn == SMTP_TXN_BDAT || s->txn == SMTP_TXN_BDAT_FAILED) {
		session_error(s, out, 503, "5.5.1 Error: DATA after BDAT");
		return;
	}
	if (!txn_ready(s, &code, &text)) {
		session_error_unless_above(s, out, code, text);
		return;
	}
	if (s->body_binary) {
		session_error(s, out, 503, "5.5.1 Error: BODY=BINARYMIME requires BDAT");
		return;
	}
	if (s->cmd_pipelined) { /* content before the 354 */
		s->msg_flags |= SMTP_MSG_ILL_PIPELINING;
		s->quirks |= SMTP_QUIRK_CONTENT_BEFORE_354;
	}
	begin_message(s, 0);
	s->state = SMTP_STATE_DATA;
	session_reply(s, out, 354, "End data with <CR><LF>.<CR><LF>");
}

/* Was there a bare LF in p[0..n)?  cr_before: the byte before p was CR. */
static bool bare_lf_within(const uint8_t *p, size_t n, bool cr_before)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] == '\n' && !(i > 0 ? p[i - 1] == '\r' : cr_before))
			return true;
	return false;
}

/* Content for the layer above, up to max_size: the bytes before the limit
 * are reported whatever the input's cuts, and nothing after it.  When the
 * limit trips, note whether a bare LF came first (the first error wins). */
static void body_sink(void *ctx, const uint8_t *bytes, size_t len)
{
	struct smtp_session *s = ctx;
	uint64_t max = s->cfg->max_size_bytes;
	uint64_t before = s->msg_bytes;
	s->msg_bytes += len;
	if (s->oversize)
		return;
	if (max != 0 && s->msg_bytes > max) {
		s->oversize = true;
		len = before < max ? (size_t)(max - before) : 0;
		s->bare_lf_first = s->sunk_bare_lf || bare_lf_within(bytes, len, s->sunk_cr);
	}
	if (len == 0)
		return;
	struct smtp_event ev = { .type = SMTP_EV_BODY, .arg = smtp_view_make(bytes, len) };
	session_emit(s, &ev);
	/* the decoder's flags cover exactly the bytes handed out so far */
	s->sunk_bare_lf = (s->data.flags & DATA_FLAG_BARE_LF) != 0;
	s->sunk_cr = bytes[len - 1] == '\r';
}

/* The message is complete (end of data, or BDAT LAST): refuse it, or hand
 * it up and wait for the verdict. */
static void finish_message(struct smtp_session *s, struct smtp_out *out)
{
	s->state = SMTP_STATE_COMMAND;
	if (s->data.flags & DATA_FLAG_BARE_LF)
		s->quirks |= SMTP_QUIRK_BARE_LF_CONTENT;
	if (s->data.flags & DATA_FLAG_BARE_CR)
		s->quirks |= SMTP_QUIRK_BARE_CR_CONTENT;
	bool bare_lf_refused = (s->data.flags & DATA_FLAG_BARE_LF) && s->cfg->bare_lf == SMTP_BARE_LF_REJECT &&
			       !s->body_binary; /* BINARYMIME content is not text */
	if (s->oversize && !(bare_lf_refused && s->bare_lf_first)) {
		session_end_txn(s, SMTP_REASON_TOO_BIG);
		session_error(s, out, 552, "5.3.4 Error: message file too big");
		return;
	}
	if (bare_lf_refused) {
		session_end_txn(s, SMTP_REASON_BARE_LF);
		session_error(s, out, 550, "5.5.2 Error: bare <LF> received");
		return;
	}
	struct smtp_event ev = { .type = SMTP_EV_MSG_END, .size_bytes = s->msg_bytes, .rcpts = s->rcpts };
	ev.flags = s->msg_flags | s->data.flags;
	s->msg_open = false;
	session_emit(s, &ev);
	s->state = SMTP_STATE_VERDICT;
}

size_t session_feed_data(struct smtp_session *s, const uint8_t *in, size_t len, struct smtp_out *out)
{
	bool done = false;
	size_t n = data_decoder_dot(&s->data, in, len, &done, body_sink, s);
	if (!done)
		return n;
	if (n < len) { /* end of data is a synchronisation point */
		s->quirks |= SMTP_QUIRK_ILL_PIPELINING;
		s->sync_error = s->cfg->strict_sync;
	}
	finish_message(s, out);
	if (s->sync_error && s->state == SMTP_STATE_COMMAND) {
		session_reply(s, out, 554, "5.5.0 Error: SMTP protocol synchronization");
		session_close(s, SMTP_REASON_SYNC);
	}
	return n;
}

/* RFC 3030: "BDAT" SP chunk-size [ SP "LAST" ], chunk-size 1*DIGIT. */
static bool parse_bdat(struct smtp_view arg, uint64_t *n, bool *last)
{
	size_t i = 0;
	uint64_t v = 0;
	for (; i < arg.len && arg.ptr[i] >= '0' && arg.ptr[i] <= '9'; i++) {
		uint64_t d = (uint64_t)(arg.ptr[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (i == 0)
		return false;
	size_t j = i;
	while (j < arg.len && arg.ptr[j] == ' ')
		j++;
	size_t end = arg.len;
	while (end > j && arg.ptr[end - 1] == ' ')
		end--;
	*n = v;
	*last = false;
	if (j == end)
		return true;
	if (j == i || !smtp_view_eq_nocase(smtp_view_make(arg.ptr + j, end - j), "LAST"))
		return false;
	*last = true;
	return true;
}

static enum smtp_bdat_error bdat_check(const struct smtp_session *s, uint64_t n)
{
	uint64_t max = s->cfg->max_size_bytes;
	if (!session_verb_offered(s, SMTP_VERB_BDAT))
		return SMTP_BDAT_NOT_OFFERED;
	if (s->txn == SMTP_TXN_BDAT_FAILED)
		return SMTP_BDAT_DISCARDED;
	if (s->txn == SMTP_TXN_NONE)
		return SMTP_BDAT_NEED_MAIL;
	if (s->rcpts == 0)
		return s->rcpts_refused > 0 ? SMTP_BDAT_NO_VALID_RCPT : SMTP_BDAT_NEED_RCPT;
	if (max != 0 && (s->msg_bytes > max || n > max - s->msg_bytes))
		return SMTP_BDAT_TOO_BIG;
	return SMTP_BDAT_OK;
}

/* Read the chunk of n octets that follows; err says how it will be
 * answered once read (SMTP_BDAT_OK: taken). */
static void read_chunk(struct smtp_session *s, enum smtp_bdat_error err, uint64_t n, bool last, struct smtp_out *out)
{
	s->bdat_error = (uint8_t)err;
	s->bdat_last = last;
	s->bdat_left = n;
	s->bdat_chunk_bytes = n;
	s->state = SMTP_STATE_BDAT;
	if (n == 0)
		session_bdat_chunk_done(s, out);
}

void session_cmd_bdat(struct smtp_session *s, const struct smtp_cmd *cmd, struct smtp_out *out)
{
	uint64_t n;
	bool last;
	if (!parse_bdat(cmd->arg, &n, &last)) {
		/* the payload length is unknown: the stream cannot be resynchronised */
		session_reply(s, out, 521, "5.5.4 Syntax: BDAT count [LAST]");
		session_end_txn(s, SMTP_REASON_SYNTAX);
		session_close(s, SMTP_REASON_SYNTAX);
		return;
	}
	if (n == 0 && !last) {
		session_error(s, out, 551, "5.7.1 Null BDAT request");
		return;
	}
	enum smtp_bdat_error err = bdat_check(s, n);
	if (err == SMTP_BDAT_OK && s->txn == SMTP_TXN_MAIL) {
		begin_message(s, SMTP_EVF_BDAT);
		s->txn = SMTP_TXN_BDAT;
		s->msg_flags |= SMTP_MSG_BDAT;
	}
	read_chunk(s, err, n, last, out);
}

bool session_bdat_refuse(struct smtp_session *s, const struct smtp_cmd *cmd, const struct smtp_override *ov,
			 struct smtp_out *out)
{
	uint64_t n;
	bool last;
	if (!parse_bdat(cmd->arg, &n, &last))
		return false;
	s->bdat_ov_code = ov->code;
	s->bdat_ov_text = ov->text;
	read_chunk(s, SMTP_BDAT_REFUSED_ABOVE, n, last, out);
	return true;
}

size_t session_feed_bdat(struct smtp_session *s, const uint8_t *in, size_t len, struct smtp_out *out)
{
	size_t take = len < s->bdat_left ? len : (size_t)s->bdat_left;
	if (s->bdat_error == SMTP_BDAT_OK && take > 0) {
		data_decoder_classify(&s->data, in, take);
		body_sink(s, in, take);
	}
	s->bdat_left -= take;
	if (s->bdat_left == 0)
		session_bdat_chunk_done(s, out);
	return take;
}

static void chunk_ok(struct smtp_session *s, struct smtp_out *out)
{
	char tail[32];
	if (s->bdat_last) {
		finish_message(s, out);
		return;
	}
	size_t k = smtp_reply_u64(tail, s->bdat_chunk_bytes);
	memcpy(tail + k, " octets", 7);
	smtp_reply_line2(out, 250, session_enhanced(s), "2.0.0 Ok: ", tail, k + 7);
}

static void chunk_refused(struct smtp_session *s, struct smtp_out *out, enum smtp_bdat_error err)
{
	static const struct {
		uint16_t code;
		const char *text;
	} replies[] = {
		[SMTP_BDAT_NOT_OFFERED] = { 502, "5.5.1 Error: command not implemented" },
		[SMTP_BDAT_NEED_MAIL] = { 503, "5.5.1 Error: need MAIL command" },
		[SMTP_BDAT_NEED_RCPT] = { 503, "5.5.1 Error: need RCPT command" },
		[SMTP_BDAT_NO_VALID_RCPT] = { 554, "5.5.1 Error: no valid recipients" },
		[SMTP_BDAT_TOO_BIG] = { 552, "5.3.4 Error: chunk exceeds message size limit" },
		[SMTP_BDAT_DISCARDED] = { 551, "5.0.0 Error: chunk discarded after an earlier error" },
		[SMTP_BDAT_REFUSED_ABOVE] = { 0, NULL }, /* the override's reply */
	};
	/* no transaction because the layer above refused it: not the client's */
	bool above = (err == SMTP_BDAT_NEED_MAIL || err == SMTP_BDAT_NO_VALID_RCPT) && session_refused_above(s);
	if (s->msg_open) {
		s->msg_open = false;
		session_emit_simple(s, SMTP_EV_MSG_ABORT,
				    err == SMTP_BDAT_TOO_BIG ? SMTP_REASON_TOO_BIG : SMTP_REASON_BDAT_ERROR);
	}
	if (s->txn != SMTP_TXN_NONE)
		s->txn = SMTP_TXN_BDAT_FAILED; /* later chunks: 551 until LAST or RSET */
	if (s->bdat_last && s->txn != SMTP_TXN_NONE)
		session_end_txn(s, SMTP_REASON_BDAT_ERROR);
	if (above)
		session_reply(s, out, replies[err].code, replies[err].text);
	else if (err != SMTP_BDAT_REFUSED_ABOVE)
		session_error(s, out, replies[err].code, replies[err].text);
	else if (s->bdat_ov_text != NULL && s->bdat_ov_text[0] != '\0') /* not the client's error */
		smtp_reply_line(out, s->bdat_ov_code, false, session_enhanced(s), s->bdat_ov_text);
}

void session_bdat_chunk_done(struct smtp_session *s, struct smtp_out *out)
{
	enum smtp_bdat_error err = (enum smtp_bdat_error)s->bdat_error;
	s->state = SMTP_STATE_COMMAND;
	s->bdat_error = SMTP_BDAT_OK;
	if (err == SMTP_BDAT_OK)
		chunk_ok(s, out);
	else
		chunk_refused(s, out, err);
}
