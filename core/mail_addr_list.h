/*
 * core/mail_addr_list.h - splitting an RFC 5322 address-list header value
 * (To, Cc, Bcc, Reply-To, From) into mailboxes: display name and address.
 *
 * Owns: the syntax of RFC 5322 section 3.4 as far as listing needs it:
 * mailboxes separated by commas, "name <addr>" and bare "addr", quoted
 * strings (with backslash quoted-pairs) and comments (nested, RFC 5322
 * 3.2.2) that may hold commas, groups ("team: a, b;" yields a and b),
 * the obsolete route in "<@relay:addr>" dropped, folding whitespace.
 * Does not decode RFC 2047 encoded words (the caller does: the name keeps
 * them as written), validate addresses, or allocate: the caller owns the
 * value and the output struct.  Malformed input never fails: it yields
 * what it can (an unclosed quote or bracket runs to the end).
 * Pure; workload: a few header values per indexed message, O(len).
 */
#ifndef SMTPSINK_MAIL_ADDR_LIST_H
#define SMTPSINK_MAIL_ADDR_LIST_H

#include <stdbool.h>
#include <stddef.h>

#define MAIL_ADDR_NAME_MAX_BYTES 256u /* display names are cut here (NUL included) */
#define MAIL_ADDR_ADDRESS_MAX_BYTES 256u /* RFC 5321 4.5.3.1.3: a path is at most 256 octets */

/* One mailbox.  name: the display name with quotes removed, quoted-pairs
 * resolved and blanks collapsed (or, for "addr (Comment)", the comment);
 * address: the addr-spec without blanks.  Both NUL-terminated, cut to
 * their buffers, "" when absent. */
struct mail_addr {
	char name[MAIL_ADDR_NAME_MAX_BYTES];
	char address[MAIL_ADDR_ADDRESS_MAX_BYTES];
};

/* The next mailbox of value[0, len) from *pos (0 to start): true with
 * *out filled and *pos moved past it, false at the end.  Empty elements
 * (",,", an empty group) are skipped. */
bool mail_addr_list_next(const char *value, size_t len, size_t *pos, struct mail_addr *out);

#endif
