/*
 * bench/bench_merge.h - `smtpsink-bench merge A.json B.json ...`: the JSON
 * reports of several generator runs (processes or hosts that loaded the
 * same servers at the same time, docs/SCALE-OUT.md) as one report.
 */
#ifndef SMTPSINK_BENCH_MERGE_H
#define SMTPSINK_BENCH_MERGE_H

/* argv[0] is "merge".  Returns the exit status: 0, 1 (a file cannot be
 * read or merged), 2 (usage). */
int bench_merge_main(int argc, char **argv);

#endif
