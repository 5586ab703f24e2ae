/*
 * core/fault_rules_int.h - the layout of a fault rule set, shared by
 * fault_rules.c (building it) and fault.c (deciding with it).  Not for use
 * outside those two files.
 *
 * Invariants: rules[0..count) are fully parsed and validated; order[] lists
 * the rule numbers grouped by stage, each group in rule order, stage st
 * occupying order[stage_start[st]..stage_start[st + 1]); bit st of has_mask
 * says fault_decide(st) has any rule to look at (bits 0..FAULT_STAGE_NONE).
 */
#ifndef SMTPSINK_FAULT_RULES_INT_H
#define SMTPSINK_FAULT_RULES_INT_H

#include "cidr.h"
#include "fault_rules.h"

/* Bounds of the rule language. */
#define FAULT_RULES_MAX 4096u /* rules in one set */
#define FAULT_RULE_TEXT_MAX 1000u /* bytes of one rule as written */
/* TEXT after normalisation: a reply line is at most 512 bytes with its
 * code and CRLF (RFC 5321 4.5.3.1.5); 400 leaves room for both. */
#define FAULT_TEXT_MAX 400u
#define FAULT_DOMAIN_MAX 255u /* RFC 5321 4.5.3.1.2 */
#define FAULT_DELAY_MAX_MS 3600000u /* one hour */
#define FAULT_P_ONE 1000000000u /* p is kept in parts per 10^9 */
#define FAULT_CLOSE_DEFAULT_CODE 421u /* RFC 5321 3.8 */
#define FAULT_ERR_MAX 512u /* an error line built inside the module */

struct fault_rule {
	enum fault_stage stage;
	enum fault_answer answer;
	uint16_t code; /* REPLY, CLOSE */
	bool has_text; /* CLOSE with =CODE[ TEXT] */
	bool has_client;
	bool domain_wild; /* domain holds ".suffix" of "*.suffix" */
	uint32_t p_ppb; /* 1..FAULT_P_ONE */
	uint32_t delay_min_ms, delay_max_ms; /* both 0: no delay */
	struct cidr client;
	const char *text; /* "x.y.z words" (3xx: as written); NULL: none */
	const char *domain; /* lower case; NULL: any */
	size_t domain_len;
	char *canon; /* the canonical text; the block holding text and domain */
};

struct fault_rules {
	struct fault_rule *rules;
	uint32_t *order; /* same capacity as rules */
	uint32_t count;
	size_t cap; /* of rules[] and order[] */
	uint32_t stage_start[FAULT_STAGE_COUNT + 1];
	uint32_t has_mask;
};

/* Does a decision for st fall back to the "any" rules (commands: yes;
 * connect, content, dot: no; FAULT_STAGE_NONE: only those)? */
static inline bool fault_stage_takes_any(enum fault_stage st)
{
	return st != FAULT_STAGE_CONNECT && st != FAULT_STAGE_CONTENT && st != FAULT_STAGE_DOT &&
	       (unsigned)st <= FAULT_STAGE_NONE;
}

#endif
