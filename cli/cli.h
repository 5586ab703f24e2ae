/*
 * cli/cli.h - one table-driven command-line parser for every program
 * (smtpsink, smtpsink-bench, smtpsink-spool and its commands).
 *
 * Owns: the option row (name, kind, destination, range, argument name,
 * help text, default shown), "--name value", "--name=value", flags, "--"
 * (only positionals after it), -h/--help and --version, positional
 * arguments, the error lines (they name the option; the caller exits 2),
 * the --help text and the man page's option list (--help-man), generated
 * from the same rows so they can never disagree with the parser, and the
 * config file (--config FILE: the long options as "key = value" lines,
 * read before the command line, which overrides it key by key).  Every
 * fact about an option lives in its row.
 *
 * Does not: know any program's options or checks across options.
 * Program-specific values (listen addresses, fault rules, CIDRs, ...)
 * plug in as CLI_CUSTOM rows with their own parse function; fixed sets of
 * words as CLI_ENUM rows.
 *
 * Invariants: rows are built by the cli_*() constructors below, which type
 * the destination; parsing writes only through a row's destination; a
 * row's default in --help is its def text, else the destination's value
 * before parsing (when not zero).  Table size: CLI_OPTS_MAX rows.
 */
#ifndef SMTPSINK_CLI_H
#define SMTPSINK_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_OPTS_MAX 96u /* rows in one table (the server has about 70) */
#define CLI_NS 1ull /* units of a CLI_DURATION row */
#define CLI_MS 1000000ull
#define CLI_SECONDS 1000000000ull

enum cli_kind {
	CLI_FLAG, /* dest bool: set */
	CLI_FLAG_CLEAR, /* dest uint32_t: clear the bits in lo */
	CLI_STRING, /* dest const char *: the argument itself */
	CLI_UINT, /* dest uint32_t or uint64_t (width): decimal, lo..hi */
	CLI_SIZE, /* like CLI_UINT, in bytes: also 512K, 10M, 1G, 2T (KiB, ...) */
	CLI_DURATION, /* like CLI_UINT, in units of unit_ns: also 500ms, 30s, 5m, 2h, 1d */
	CLI_DOUBLE, /* dest double: dlo..dhi */
	CLI_ENUM, /* dest a 4-byte enum: the index of the word in words */
	CLI_CUSTOM, /* parse(row, value); a flag when arg is NULL (value NULL) */
	CLI_CONFIG, /* dest struct cli_file: read FILE's keys first (cli_config.c) */
};

struct cli_opt;

/* A row's own parser: NULL when value was taken, else why not (a static
 * string, printed as "--name value: why"). */
typedef const char *(*cli_parse_fn)(const struct cli_opt *o, const char *value);

struct cli_opt {
	const char *name; /* without "--" */
	enum cli_kind kind;
	void *dest; /* where the value goes; CLI_CUSTOM: the parser's context */
	uint8_t width; /* CLI_UINT, CLI_SIZE, CLI_DURATION: bytes of *dest, 4 or 8 */
	uint64_t lo, hi; /* their range, in dest's unit; CLI_FLAG_CLEAR: lo = bits */
	uint64_t unit_ns; /* CLI_DURATION: dest's unit (and a plain number's) */
	double dlo, dhi; /* CLI_DOUBLE: range */
	const char *const *words; /* CLI_ENUM: the values' names, NULL-terminated */
	cli_parse_fn parse; /* CLI_CUSTOM */
	const void *data; /* CLI_CUSTOM: fixed data of the row, for parse */
	enum cli_kind reads; /* CLI_CUSTOM: CLI_SIZE or CLI_DURATION if parse reads those (--help says how) */
	const char *arg; /* argument name in --help; NULL: a flag (CLI_ENUM: the words) */
	bool optional; /* CLI_CUSTOM with arg: "--name" alone (parse gets NULL) or "--name=VALUE" */
	const char *help; /* one line */
	const char *def; /* default in --help; NULL: from dest (numbers, CLI_STRING, CLI_ENUM) */
};

struct cli {
	const char *prog; /* "smtpsink-spool": errors and the synopsis */
	const char *global; /* before the command in the synopsis ("[--spool DIR]"), or NULL */
	const char *command; /* "ls": errors say "ls: ...", or NULL */
	const char *args; /* positionals in the synopsis ("ID"), or NULL */
	const char *about; /* the line under the synopsis */
	const char *version; /* --version prints "prog version"; NULL: no --version */
	unsigned help_col; /* width of the options column in --help */
	void (*report)(const char *line); /* prints an error line; NULL: "prog: line" on stderr */
	struct cli_opt opts[CLI_OPTS_MAX];
	size_t opt_count;
};

/* A config file (cli_config.c): one "key = value" a line (a key alone: a
 * flag), '#' comments and blank lines; keys are the long options' names. */
#define CLI_CONFIG_LINE_MAX 4096u /* bytes in a line, without its newline */
#define CLI_CONFIG_KEYS_MAX 1024u /* key lines in a file */
#define CLI_CONFIG_FILE_MAX (1u << 20) /* bytes in a file */

struct cli_file_entry {
	const char *key; /* into cli_file.text */
	const char *value; /* into cli_file.text; NULL: a key alone */
	unsigned line; /* 1, 2, ... */
	bool overridden; /* the key is on the command line: not applied */
};

/* What a CLI_CONFIG row read: the file's text (string options point into
 * it, so it lives as long as the values) and its keys in file order. */
struct cli_file {
	const char *path; /* NULL: no --config */
	char *text;
	struct cli_file_entry *v;
	size_t n;
};

/* Append one row (or n rows) to c's table. */
void cli_add(struct cli *c, struct cli_opt o);
void cli_add_rows(struct cli *c, const struct cli_opt *rows, size_t n);

/* Parse argv[1..argc).  Positionals go to pos (at most max_pos; one more
 * is an error).  Returns 0 to go on, 1 after printing --help, --help-man
 * or --version (exit 0), or -1 after printing why not (exit 2).  --help
 * (and --help-man) is answered before anything is parsed, wherever it
 * stands, so it shows the defaults; then a CLI_CONFIG row's file is read
 * and applied (cli_config.c), then the command line. */
int cli_parse(struct cli *c, int argc, char **argv, const char **pos, size_t max_pos, size_t *npos);

/* "--name value: why" as an error line; returns -1.  For checks across
 * options after cli_parse(). */
int cli_bad(const struct cli *c, const char *name, const char *value, const char *why);

/* An error line of the caller's own. */
void cli_error(const struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The --help text (cli_help.c). */
void cli_help_print(const struct cli *c, FILE *f);
/* The man page's part that comes from the rows (cli_man.c, --help-man):
 * NAME, SYNOPSIS and OPTIONS for a program; for a command's table
 * (c->command set) a subsection with its synopsis, about and options. */
void cli_man_print(const struct cli *c, FILE *f);

/* Free what a CLI_CONFIG row read (the row's values die with it). */
void cli_file_free(struct cli_file *f);
/* Does key have the same values (those applied, in order) in a and b? */
bool cli_file_same(const struct cli_file *a, const struct cli_file *b, const char *key);

/* Rows.  dest must outlive the parse; help and the other strings must
 * outlive the table. */
static inline struct cli_opt cli_flag(const char *name, bool *dest, const char *help)
{
	return (struct cli_opt){ .name = name, .kind = CLI_FLAG, .dest = dest, .help = help };
}

static inline struct cli_opt cli_flag_clear(const char *name, uint32_t *dest, uint32_t bits, const char *help)
{
	return (struct cli_opt){ .name = name, .kind = CLI_FLAG_CLEAR, .dest = dest, .lo = bits, .help = help };
}

static inline struct cli_opt cli_string(const char *name, const char **dest, const char *arg, const char *help)
{
	return (struct cli_opt){ .name = name, .kind = CLI_STRING, .dest = (void *)dest, .arg = arg, .help = help };
}

static inline struct cli_opt cli_u32(const char *name, uint32_t *dest, uint32_t lo, uint32_t hi, const char *arg,
				     const char *help)
{
	return (struct cli_opt){
		.name = name, .kind = CLI_UINT, .dest = dest, .width = 4, .lo = lo, .hi = hi, .arg = arg, .help = help
	};
}

static inline struct cli_opt cli_u64(const char *name, uint64_t *dest, uint64_t lo, uint64_t hi, const char *arg,
				     const char *help)
{
	return (struct cli_opt){
		.name = name, .kind = CLI_UINT, .dest = dest, .width = 8, .lo = lo, .hi = hi, .arg = arg, .help = help
	};
}

/* A whole-number row read as another kind (CLI_SIZE, CLI_DURATION in
 * units of unit_ns). */
static inline struct cli_opt cli_as(struct cli_opt o, enum cli_kind kind, uint64_t unit_ns)
{
	o.kind = kind;
	o.unit_ns = unit_ns;
	return o;
}

/* Sizes in bytes (plain numbers, or K, M, G, T: powers of 1024). */
static inline struct cli_opt cli_size32(const char *name, uint32_t *dest, uint32_t lo, uint32_t hi, const char *arg,
					const char *help)
{
	return cli_as(cli_u32(name, dest, lo, hi, arg, help), CLI_SIZE, 0);
}

static inline struct cli_opt cli_size64(const char *name, uint64_t *dest, uint64_t lo, uint64_t hi, const char *arg,
					const char *help)
{
	return cli_as(cli_u64(name, dest, lo, hi, arg, help), CLI_SIZE, 0);
}

/* Durations kept in units of unit_ns (CLI_SECONDS, CLI_MS, CLI_NS), which
 * is also the unit of a plain number; lo and hi in that unit. */
static inline struct cli_opt cli_duration32(const char *name, uint32_t *dest, uint64_t unit_ns, uint32_t lo,
					    uint32_t hi, const char *arg, const char *help)
{
	return cli_as(cli_u32(name, dest, lo, hi, arg, help), CLI_DURATION, unit_ns);
}

static inline struct cli_opt cli_duration64(const char *name, uint64_t *dest, uint64_t unit_ns, uint64_t lo,
					    uint64_t hi, const char *arg, const char *help)
{
	return cli_as(cli_u64(name, dest, lo, hi, arg, help), CLI_DURATION, unit_ns);
}

static inline struct cli_opt cli_double(const char *name, double *dest, double lo, double hi, const char *arg,
					const char *help)
{
	return (struct cli_opt){
		.name = name, .kind = CLI_DOUBLE, .dest = dest, .dlo = lo, .dhi = hi, .arg = arg, .help = help
	};
}

/* words: NULL-terminated; *dest is an enum whose values index them. */
static inline struct cli_opt cli_enum(const char *name, unsigned *dest, const char *const *words, const char *help)
{
	return (struct cli_opt){ .name = name, .kind = CLI_ENUM, .dest = dest, .words = words, .help = help };
}

/* arg NULL: a flag (parse gets NULL). */
static inline struct cli_opt cli_custom(const char *name, cli_parse_fn parse, void *ctx, const void *data,
					const char *arg, const char *help)
{
	return (struct cli_opt){
		.name = name, .kind = CLI_CUSTOM, .dest = ctx, .parse = parse, .data = data, .arg = arg, .help = help
	};
}

/* A custom row whose parser reads sizes (CLI_SIZE) or durations
 * (CLI_DURATION), written as the kind's rows are. */
static inline struct cli_opt cli_reads(struct cli_opt o, enum cli_kind kind)
{
	o.reads = kind;
	return o;
}

/* The row with its default shown as text in --help. */
static inline struct cli_opt cli_def(struct cli_opt o, const char *text)
{
	o.def = text;
	return o;
}

/* --config FILE: read FILE's "key = value" lines before the command
 * line, whose options then override the file's, key by key (a repeatable
 * option on the command line replaces the file's list).  dest keeps the
 * file until cli_file_free(). */
static inline struct cli_opt cli_config(const char *name, struct cli_file *dest, const char *help)
{
	return (struct cli_opt){ .name = name, .kind = CLI_CONFIG, .dest = dest, .arg = "FILE", .help = help };
}

/* A custom row whose value is optional: "--name" alone (parse gets NULL)
 * or "--name=VALUE" (never the next argument); --help shows
 * "--name[=ARG]". */
static inline struct cli_opt cli_optional(struct cli_opt o)
{
	o.optional = true;
	return o;
}

/* Does the row take the next argument as its value ("--name VALUE")? */
static inline bool cli_takes_value(const struct cli_opt *o)
{
	return o->kind != CLI_FLAG && o->kind != CLI_FLAG_CLEAR && (o->kind != CLI_CUSTOM || o->arg != NULL) &&
	       !o->optional;
}

/* Value parsers for rows and custom parsers (cli_value.c): NULL, or why
 * the text is refused. */
const char *cli_value_u64(const char *v, uint64_t lo, uint64_t hi, uint64_t *out);
const char *cli_value_double(const char *v, double lo, double hi, double *out);
/* Bytes: a whole number, alone or followed by K, M, G, T or KiB, MiB,
 * GiB, TiB (powers of 1024); more than 64 bits is out of range. */
const char *cli_value_size(const char *v, uint64_t lo, uint64_t hi, uint64_t *out);
/* A duration, in units of unit_ns: a number (decimals allowed) in units of
 * plain_ns, or followed by ms, s, m, h or d; it must come to a whole
 * number of units (500ms is no whole number of seconds). */
const char *cli_value_duration(const char *v, uint64_t plain_ns, uint64_t unit_ns, uint64_t lo, uint64_t hi,
			       uint64_t *out);
/* How --help shows a size (the largest exact suffix: 268435456 -> 256M)
 * and a duration of n units of unit_ns (the largest whole unit: 300 s ->
 * 5m). */
void cli_value_format_size(uint64_t bytes, char *out, size_t len);
void cli_value_format_duration(uint64_t n, uint64_t unit_ns, char *out, size_t len);

#endif
