/*
 * core/data_decoder.h - DATA content decoder (dot-unstuffing, end of data)
 * and BDAT content classifier.
 *
 * Owns: turning the raw bytes after a 354 into message content.  Content is
 * handed out as views into the input (zero copy) through a sink callback;
 * the only bytes that do not come from the input are the static constants
 * "\r" and "\r\n" (a withheld CR, or a bare LF normalised to CRLF).
 *
 * End of data is exactly CRLF "." CRLF, with the first CRLF being the end of
 * the previous line (or the start of content).  Every bare-CR/bare-LF
 * variant (\n.\n, \r.\r, \n.\r\n, \r\n.\n, \r\n.\r, \r\n.\r\r\n, ...) stays
 * inside the message and sets DATA_FLAG_FALSE_EOD (SMTP smuggling,
 * CVE-2023-51764/51765/51766), and so does "\r\n\0.\r\n", which ends the
 * message for a relay that strips NUL bytes.  Lines start only after CRLF, so only those
 * lose a leading dot (RFC 5321 4.5.2).
 *
 * The state (an enum below, one byte) carries what has been consumed but not
 * yet decided, so any split of the input gives the same content.  The scan
 * for CR/LF runs 16 bytes at a time (SSE2) and never reads past the input.
 */
#ifndef SMTPSINK_DATA_DECODER_H
#define SMTPSINK_DATA_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_config.h"

enum data_flag {
	DATA_FLAG_BARE_LF = 1u << 0, /* LF without CR before it */
	DATA_FLAG_BARE_CR = 1u << 1, /* CR without LF after it */
	DATA_FLAG_NUL = 1u << 2,
	DATA_FLAG_8BIT = 1u << 3, /* a byte >= 0x80 */
	DATA_FLAG_LONG_LINE = 1u << 4, /* a line, judged when its CRLF or bare LF
					  arrives, longer than 1000 octets with
					  that terminator (a dropped dot does not
					  count) */
	DATA_FLAG_FALSE_EOD = 1u << 5, /* a bare-CR/LF dot line (smuggling) */
};

/* What the decoder has consumed and not yet emitted or decided. */
enum data_state {
	DATA_BOL, /* at the start of a line (after CRLF or at the start) */
	DATA_TEXT, /* inside a line */
	DATA_CR, /* inside a line, the last byte (emitted) was CR */
	DATA_LFISH, /* after a bare LF (or bare CR): a line-ish start */
	DATA_LFISH_DOT, /* after bare LF/CR and a '.', emitted */
	DATA_DOT, /* at BOL, a '.' withheld (terminator or stuffing) */
	DATA_DOT_CR, /* at BOL, ".\r" withheld */
	DATA_END, /* CRLF.CRLF seen; nothing more is consumed */
};

struct data_decoder {
	uint8_t state; /* enum data_state */
	uint8_t policy; /* enum smtp_bare_lf_policy */
	uint32_t flags; /* enum data_flag, accumulated */
	uint64_t line_bytes; /* octets of the current line so far */
	uint64_t lines; /* line ends (CRLF or bare LF) seen */
};

/* Called with each piece of content, in order; pieces may be empty-free
 * views into the input or the static constants described above. */
typedef void (*data_sink_fn)(void *ctx, const uint8_t *bytes, size_t len);

void data_decoder_begin(struct data_decoder *d, enum smtp_bare_lf_policy policy);

/* DATA: consume in[0..len) up to and including the end-of-data line.
 * Returns the bytes consumed; sets *done once CRLF.CRLF has been consumed
 * (the bytes after it belong to the next command). */
size_t data_decoder_dot(struct data_decoder *d, const uint8_t *in, size_t len, bool *done, data_sink_fn sink,
			void *ctx);

/* BDAT: the bytes are content as they are; only classify them (flags,
 * lines), keeping CR/LF state across chunks. */
void data_decoder_classify(struct data_decoder *d, const uint8_t *in, size_t len);

/* Find the first CR or LF in [p, end), OR-ing DATA_FLAG_NUL/8BIT for the
 * bytes before it into *flags.  Returns end if there is none.  Exposed for
 * the scanner benchmark and tests. */
const uint8_t *data_decoder_find_crlf(const uint8_t *p, const uint8_t *end, uint32_t *flags);

#endif
