/*
 * core/fault.c - fault decisions, their random numbers, and recipient
 * outcomes (see fault_rules.h; the rule set is built by fault_rules.c).
 *
 * Owns: the per-session generator (xorshift64*, seeded through a
 * splitmix64 finaliser of seed, shard and ordinal), fault_decide(), the
 * verb -> stage lookup (the stage is in each verb's registry row,
 * smtp_verbs.c), and the tempfail@ / permfail@ / NNN-@ outcomes.
 *
 * Choice, for the rules of one stage that match the subject, in order:
 * a delay-only rule with p < 1 rolls its own die (one draw), p = 1 rolls
 * nothing; the first answering rule draws u once for all of them, and the
 * first whose running sum of p exceeds u fires; later answering rules draw
 * nothing.  A delay range takes one more draw.  Rules that do not match
 * draw nothing, so rules for other stages, clients or domains never shift
 * a stage's choices.  A command's decision falls back to the "any" rules
 * only when none of its own stage's rules fired (delay-only included).
 *
 * Invariants: the rule set is read-only here (shards share it); nothing
 * allocates; a decision costs O(rules of the stage) plus one draw per die.
 *
 * Workload: once per command of a session whose stage has rules (the
 * engine skips the call when fault_rules_has_stage() says none).
 */
#include "fault_rules_int.h"

#include <stdio.h>
#include <string.h>

#include "smtp_verbs.h"

enum fault_stage fault_stage_of_verb(enum smtp_verb verb)
{
	const struct smtp_verb_info *info = smtp_verbs_info(verb);
	return info != NULL ? info->stage : FAULT_STAGE_NONE;
}

/* ---- random numbers ------------------------------------------------------ */

/* splitmix64's finaliser (Steele, Lea, Flood 2014): a bijection that
 * spreads every input bit over the output. */
static uint64_t mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* xorshift64* never leaves 0, so 0 is replaced by a fixed odd state. */
#define FAULT_RNG_ZERO_STATE 0x9e3779b97f4a7c15ull

uint64_t fault_rng_seed(uint64_t seed, uint32_t shard, uint64_t ordinal)
{
	uint64_t s = mix64(mix64(mix64(seed) ^ shard) ^ ordinal);
	return s ? s : FAULT_RNG_ZERO_STATE;
}

uint64_t fault_rng_next(uint64_t *state)
{
	uint64_t x = *state ? *state : FAULT_RNG_ZERO_STATE;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

double fault_rng_unit(uint64_t *state)
{
	return (double)(fault_rng_next(state) >> 11) * 0x1.0p-53;
}

/* ---- decisions ----------------------------------------------------------- */

/* Does d end in the rule's domain (wildcard: a proper subdomain)? */
static bool domain_match(const struct fault_rule *ru, struct smtp_view d)
{
	if (ru->domain_wild ? d.len <= ru->domain_len : d.len != ru->domain_len)
		return false;
	const uint8_t *tail = d.ptr + d.len - ru->domain_len;
	for (size_t i = 0; i < ru->domain_len; i++) {
		uint8_t c = tail[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c + 32);
		if (c != (uint8_t)ru->domain[i])
			return false;
	}
	return true;
}

static bool rule_matches(const struct fault_rule *ru, const struct fault_subject *who)
{
	if (ru->has_client && (who == NULL || !cidr_match(&ru->client, who->family, who->addr)))
		return false;
	return ru->domain == NULL || (who != NULL && domain_match(ru, who->domain));
}

/* A rule's delay: its fixed value, or uniform in [min, max] (one draw). */
static uint32_t draw_delay(const struct fault_rule *ru, uint64_t *rng)
{
	if (ru->delay_min_ms == ru->delay_max_ms)
		return ru->delay_min_ms;
	uint64_t span = (uint64_t)(ru->delay_max_ms - ru->delay_min_ms) + 1;
	return ru->delay_min_ms + (uint32_t)(fault_rng_next(rng) % span);
}

static void add_delay(struct fault_action *act, uint32_t ms)
{
	act->delay_ms = act->delay_ms > UINT32_MAX - ms ? UINT32_MAX : act->delay_ms + ms;
}

/* Decide over the rules of one stage; see the top of this file. */
static void decide_stage(const struct fault_rules *r, enum fault_stage st, const struct fault_subject *who,
			 uint64_t *rng, struct fault_action *act)
{
	bool drawn = false, answered = false;
	double u = 0;
	uint64_t sum = 0;
	for (uint32_t k = r->stage_start[st]; k < r->stage_start[st + 1]; k++) {
		uint32_t i = r->order[k];
		const struct fault_rule *ru = &r->rules[i];
		if (!rule_matches(ru, who))
			continue;
		if (ru->answer == FAULT_ANSWER_NONE) {
			if (ru->p_ppb < FAULT_P_ONE && !(fault_rng_unit(rng) * FAULT_P_ONE < ru->p_ppb))
				continue;
			if (act->rule < 0)
				act->rule = (int)i;
			add_delay(act, draw_delay(ru, rng));
			continue;
		}
		if (answered)
			continue;
		if (!drawn) {
			u = fault_rng_unit(rng) * FAULT_P_ONE;
			drawn = true;
		}
		sum += ru->p_ppb;
		if (!(u < (double)sum))
			continue;
		answered = true;
		act->rule = (int)i;
		act->answer = ru->answer;
		act->code = ru->code;
		act->text = ru->text;
		if (ru->delay_max_ms)
			add_delay(act, draw_delay(ru, rng));
	}
}

bool fault_decide(const struct fault_rules *r, enum fault_stage st, const struct fault_subject *who, uint64_t *rng,
		  struct fault_action *act)
{
	memset(act, 0, sizeof *act);
	act->rule = -1;
	act->answer = FAULT_ANSWER_NONE;
	if (!fault_rules_has_stage(r, st))
		return false;
	if (st < FAULT_STAGE_COUNT && st != FAULT_STAGE_ANY)
		decide_stage(r, st, who, rng, act);
	if (act->rule < 0 && fault_stage_takes_any(st))
		decide_stage(r, FAULT_STAGE_ANY, who, rng, act);
	return act->rule >= 0;
}

/* ---- recipient outcomes -------------------------------------------------- */

/* Does local start with word (any case), then end or go on with '+', '-'
 * or '.'? */
static bool local_is(struct smtp_view local, const char *word)
{
	size_t n = strlen(word);
	if (local.len < n || !smtp_view_eq_nocase(smtp_view_make(local.ptr, n), word))
		return false;
	return local.len == n || local.ptr[n] == '+' || local.ptr[n] == '-' || local.ptr[n] == '.';
}

/* "<addr>: Recipient address rejected: " and then what, cut to fit; bytes
 * that could break the reply line are shown as '?'. */
static void put_outcome(char *buf, size_t cap, const char *ecode, struct smtp_view addr, const char *what)
{
	size_t len = 0;
	int n = snprintf(buf, cap, "%s <", ecode);
	len = n > 0 && (size_t)n < cap ? (size_t)n : cap - 1;
	for (size_t i = 0; i < addr.len && len + 1 < cap; i++) {
		uint8_t c = addr.ptr[i];
		buf[len++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	buf[len] = '\0';
	snprintf(buf + len, cap - len, ">: Recipient address rejected: %s", what);
}

unsigned fault_rcpt_outcome(struct smtp_view addr, char *buf, size_t buf_len)
{
	struct smtp_view local = addr;
	const uint8_t *at = NULL;
	unsigned code = 0;
	char what[64];
	const char *ecode = NULL;

	for (size_t i = 0; i < addr.len; i++)
		if (addr.ptr[i] == '@')
			at = addr.ptr + i;
	if (at == NULL)
		return 0;
	local.len = (size_t)(at - addr.ptr);
	if (local_is(local, "tempfail")) {
		code = 450;
		ecode = "4.2.0";
		snprintf(what, sizeof what, "Temporary failure (test)");
	} else if (local_is(local, "permfail")) {
		code = 550;
		ecode = "5.1.1";
		snprintf(what, sizeof what, "User unknown (test)");
	} else if (local.len >= 4 && local.ptr[3] == '-' && local.ptr[0] >= '4' && local.ptr[0] <= '5' &&
		   local.ptr[1] >= '0' && local.ptr[1] <= '9' && local.ptr[2] >= '0' && local.ptr[2] <= '9') {
		code = (unsigned)(local.ptr[0] - '0') * 100 + (unsigned)(local.ptr[1] - '0') * 10 +
		       (unsigned)(local.ptr[2] - '0');
		ecode = local.ptr[0] == '4' ? "4.0.0" : "5.0.0";
		snprintf(what, sizeof what, "%u requested (test)", code);
	} else {
		return 0;
	}
	if (buf_len > 0) {
		size_t cap = buf_len < FAULT_OUTCOME_TEXT_MAX + 1 ? buf_len : FAULT_OUTCOME_TEXT_MAX + 1;
		put_outcome(buf, cap, ecode, addr, what);
	}
	return code;
}

struct smtp_view fault_addr_domain(struct smtp_view addr)
{
	for (size_t i = addr.len; i-- > 0;)
		if (addr.ptr[i] == '@')
			return smtp_view_make(addr.ptr + i + 1, addr.len - i - 1);
	return smtp_view_make(addr.ptr, 0);
}
