/*
 * core/smtp_config.c - configuration defaults and sanity checks.
 *
 * Owns: the documented default of every protocol switch (see smtp_config.h)
 * and the check that a configuration is coherent before any session uses it.
 */
#include "smtp_config.h"

#include <string.h>

#include "smtp_limits.h"

void smtp_config_defaults(struct smtp_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->hostname = "smtpsink";
	cfg->max_size_bytes = SMTP_SIZE_DEFAULT_BYTES;
	cfg->max_rcpts = SMTP_RCPTS_DEFAULT;
	cfg->max_errors = SMTP_ERRORS_DEFAULT;
	cfg->ext = SMTP_EXT_ALL & ~SMTP_EXT_STARTTLS; /* core has no TLS: its user offers it */
	cfg->bare_lf = SMTP_BARE_LF_PRESERVE;
}

const char *smtp_config_check(const struct smtp_config *cfg)
{
	if (cfg->hostname == NULL || cfg->hostname[0] == '\0')
		return "hostname is empty";
	if (strlen(cfg->hostname) > SMTP_DOMAIN_MAX_BYTES)
		return "hostname is longer than 255 octets";
	for (const char *p = cfg->hostname; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7F)
			return "hostname has a space, control or 8-bit byte";
	if (cfg->max_rcpts < SMTP_RCPTS_MIN_ALLOWED)
		return "max-rcpts must be at least 100 (RFC 5321 4.5.3.1.8)";
	if (cfg->bare_lf > SMTP_BARE_LF_REJECT)
		return "unknown bare-LF policy";
	return NULL;
}
