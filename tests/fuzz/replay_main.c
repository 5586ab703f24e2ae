/*
 * tests/fuzz/replay_main.c - runs a fuzz harness over a kept corpus, without
 * libFuzzer, so every build (and CI) replays the seeds and past crashes.
 *
 * Owns: main() for the *_replay executables.  Each argument is a directory
 * (every regular file in it, in name order, non-recursive) or a file.  Each
 * input is read into an allocation of exactly its size and handed to
 * LLVMFuzzerTestOneInput once.  A harness reports a broken invariant by
 * aborting, so reaching the end means every input passed.
 *
 * Fails (exit 1) when an argument cannot be read or when nothing ran: an
 * empty or missing corpus must not look like a pass.
 *
 * Workload: tens of small files per corpus.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Corpus files are small; anything bigger is a mistake in the corpus. */
#define REPLAY_FILE_MAX_BYTES (16u * 1024u * 1024u)

/* The input being run, named by the crash handler.  Set before each run. */
static char replay_current[4096];

/* On abort() (how the harnesses report a broken invariant): name the input
 * (write() only), then die as before.  SIGSEGV is left to ASan's handler. */
static void replay_on_crash(int sig)
{
	static const char msg[] = "replay: crashed on input ";
	ssize_t ignored = write(2, msg, sizeof(msg) - 1);
	ignored = write(2, replay_current, strlen(replay_current));
	ignored = write(2, "\n", 1);
	(void)ignored;
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Run one file; returns 0, or -1 if it could not be read. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > REPLAY_FILE_MAX_BYTES) {
		fprintf(stderr, "replay: %s: cannot size it, or larger than %u bytes\n", path, REPLAY_FILE_MAX_BYTES);
		fclose(f);
		return -1;
	}
	size_t len = (size_t)st.st_size;
	/* Exactly the file's size: ASan reports any read past the input. */
	uint8_t *data = malloc(len ? len : 1);
	if (!data || fread(data, 1, len, f) != len) {
		fprintf(stderr, "replay: %s: read failed\n", path);
		free(data);
		fclose(f);
		return -1;
	}
	fclose(f);
	snprintf(replay_current, sizeof(replay_current), "%s", path);
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	return 0;
}

static int skip_entry(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* Run every regular file of a directory in name order; count them. */
static int replay_dir(const char *dir, unsigned *ran)
{
	struct dirent **names;
	int n = scandir(dir, &names, skip_entry, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(path) != 0)
				rc = -1;
			else
				(*ran)++;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned ran = 0;
	int rc = 0;
	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
		return 1;
	}
	signal(SIGABRT, replay_on_crash);
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc && rc == 0; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			rc = -1;
		} else if (S_ISDIR(st.st_mode)) {
			rc = replay_dir(argv[i], &ran);
		} else if (replay_file(argv[i]) == 0) {
			ran++;
		} else {
			rc = -1;
		}
	}
	printf("replay: %u inputs ran\n", ran);
	if (rc != 0)
		return 1;
	if (ran == 0) {
		fprintf(stderr, "replay: no inputs found: a replay that runs nothing fails\n");
		return 1;
	}
	return 0;
}
