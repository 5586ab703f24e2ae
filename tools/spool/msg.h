/*
 * tools/spool/msg.h - one captured message as the tool sees it: the record
 * decoded through core/ (spool_record_decode, spool_meta_next) into views.
 *
 * Owns: turning the bytes of a record into envelope facts (queue ID, time,
 * client, HELO, protocol, AUTH user, sender, recipients, flags), checking
 * them against the index entry that pointed there, reading the Subject
 * from the body's first header block; the names of the flag bits are
 * core's (smtp_msg_flags.h).
 * Pure: works on bytes the caller maps (seg_reader.c) and keeps alive;
 * every view in struct msg points into them.
 *
 * Two depths: a head decode checks the 48-byte header checksum and reads
 * the metadata (what ls and the filters need: the body is never hashed);
 * a verified decode also checks the record checksum (show, cat, export).
 */
#ifndef SMTPSINK_SPOOL_MSG_H
#define SMTPSINK_SPOOL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_view.h"
#include "spool_format.h"

#define MSG_QID_BYTES 16u /* as in the index: NUL-padded */
#define MSG_SUBJECT_MAX_BYTES 2048u /* longer Subjects are cut (display only) */

enum msg_status {
	MSG_OK,
	MSG_OUT_OF_RANGE, /* the index points past the end of the segment */
	MSG_BAD_HEADER, /* the record header does not verify */
	MSG_BAD_CHECKSUM, /* the record checksum or trailer is wrong */
	MSG_MISMATCH, /* header or queue ID differ from the index entry */
	MSG_BAD_META, /* a metadata field runs past the metadata */
};

enum msg_subject {
	MSG_SUBJECT_UNREAD,
	MSG_SUBJECT_NONE,
	MSG_SUBJECT_PRESENT
};

struct msg {
	/* Where it lives (set by seg_reader_msg). */
	uint32_t shard;
	uint64_t segno, offset;
	/* The record: header fields, meta; body points at body_len bytes
	 * (checksum-verified only if verified). */
	struct spool_record rec;
	bool verified;
	/* Metadata (absent optional fields are empty views). */
	struct smtp_view qid, helo, protocol, auth_user, mail_from, mail_params, session_id, tls, tls_sni;
	uint64_t received_us;
	uint32_t node;
	uint8_t family; /* 4, 6, 0 (unix / unknown) */
	uint16_t port;
	uint8_t addr[16];
	uint32_t rcpt_count;
	struct smtp_view first_rcpt;
	/* Subject (msg_read_subject), unfolded, cut at MSG_SUBJECT_MAX_BYTES. */
	enum msg_subject subject_state;
	size_t subject_len;
	char subject[MSG_SUBJECT_MAX_BYTES];
};

/* Decode the record at p (avail bytes mapped from there) that index entry
 * e points at.  verify: also check the record checksum. */
enum msg_status msg_decode(struct msg *m, const uint8_t *p, uint64_t avail, const struct spool_index_entry *e,
			   bool verify);

/* Recipients in order: *pos starts at 0; params is empty when absent. */
bool msg_rcpt_next(const struct msg *m, size_t *pos, struct smtp_view *addr, struct smtp_view *params);

/* Fill m->subject from the body's first header block (once). */
void msg_read_subject(struct msg *m);

/* "127.0.0.1", "::1", or "" for unix / unknown. */
void msg_client_addr(const struct msg *m, char *buf, size_t size);
/* The same from a CLIENT field's family (4, 6, 0) and address. */
void msg_addr_text(uint8_t family, const uint8_t addr[16], char *buf, size_t size);

/* The body's line ending, for header lines put before it: "\n" if its
 * first line ends with a bare LF, else "\r\n". */
const char *msg_line_end(const struct msg *m);

/* Name of one flag bit (enum smtp_msg_flag; core/smtp_msg_flags.c), NULL
 * if unknown. */
const char *msg_flag_name(uint32_t bit);

const char *msg_status_text(enum msg_status s);

#endif
